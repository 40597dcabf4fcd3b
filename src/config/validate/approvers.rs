//! `[environments.ENV.approvers]`: role names, Slack user group ids and PagerDuty escalation
//! policy ids well formed, and the rules only where they can apply (a protected environment
//! with approvals; PagerDuty configured for the on-call ones).

use super::*;
use crate::config::ApproverRules;
use crate::config::file::EnvironmentSection;

pub(super) fn approvers(
    loc: &Locator<'_>,
    env: &str,
    e: &EnvironmentSection,
    file: &FileConfig,
    problems: &mut Vec<Problem>,
) -> ApproverRules {
    let Some(a) = &e.approvers else {
        return ApproverRules::default();
    };
    let key = |k: &'static str| ["environments", env, "approvers", k];
    let here = ["environments", env, "approvers"];
    if e.approvals == 0 {
        problems.push(loc.problem(
            &here,
            "approver rules need approvals: set `approvals` (and `protected = true`), or remove [approvers]",
        ));
    }
    for role in &a.roles {
        if !role.starts_with("role:") || role.len() <= 5 {
            problems.push(loc.problem(
                &key("roles"),
                format!("`{role}` is not a policy role; write it as in policy.csv, like \"role:incident-commander\""),
            ));
        }
    }
    for group in &a.slack_groups {
        let valid = group.starts_with('S')
            && (3..=20).contains(&group.len())
            && group
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid {
            problems.push(loc.problem(
                &key("slack_groups"),
                format!("`{group}` is not a Slack user group id (S followed by letters and digits, like S0123ABCD; the @handle is not stable)"),
            ));
        }
    }
    for p in &a.escalation_policies {
        let valid = p.starts_with('P')
            && (2..=20).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            problems.push(loc.problem(
                &key("escalation_policies"),
                format!("`{p}` is not a PagerDuty escalation policy id (like PESC123)"),
            ));
        }
    }
    let needs_on_call = a.on_call || a.requester_on_call_level.is_some();
    if needs_on_call && a.escalation_policies.is_empty() {
        problems.push(loc.problem(
            &key("escalation_policies"),
            "the on-call rules need the PagerDuty escalation policies to look at, like [\"PESC123\"]",
        ));
    }
    if needs_on_call && file.pagerduty.is_none() {
        problems.push(loc.problem(
            &here,
            "the on-call rules ask PagerDuty who is on call, but [pagerduty] is not configured",
        ));
    }
    if a.requester_on_call_level == Some(0) {
        problems.push(loc.problem(
            &key("requester_on_call_level"),
            "escalation levels start at 1",
        ));
    }
    ApproverRules {
        roles: a.roles.clone(),
        slack_groups: a.slack_groups.clone(),
        on_call: a.on_call,
        escalation_policies: a.escalation_policies.clone(),
        requester_on_call_level: a.requester_on_call_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approver_rules_that_cannot_apply_are_refused_with_what_to_write() {
        let text = r#"
[clusters.main]
in_cluster = true

[environments.prod]
cluster = "main"
namespaces = ["shop"]

[environments.prod.approvers]
roles = ["incident-commander"]
slack_groups = ["@sre-leads"]
on_call = true
requester_on_call_level = 0
"#;
        let Err(errors) =
            super::super::load(Path::new("/nonexistent/pitcrew.toml"), text, &|_| None)
        else {
            panic!("accepted");
        };
        let text = errors.to_string();
        for needle in [
            "approver rules need approvals",
            "`incident-commander` is not a policy role",
            "`@sre-leads` is not a Slack user group id",
            "the on-call rules need the PagerDuty escalation policies",
            "[pagerduty] is not configured",
            "escalation levels start at 1",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
