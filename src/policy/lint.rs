//! `pitcrew policy lint`: everything wrong or suspicious in a policy, with line numbers.
//!
//! Errors (the policy would not load): syntax, unknown actions, role cycles.
//! Warnings (it loads, but does not do what it says): rules that can never match (a subject
//! nobody is or holds, an environment, cluster, namespace or kind that does not exist, a channel
//! group with no channels), patterns whose text after `*` is ignored, rules shadowed by a deny,
//! duplicates.

use std::collections::{HashMap, HashSet};

use super::enforcer::Enforcer;
use super::pattern::{covers, has_ignored_tail, key_match};
use super::source::{Effect, Finding, Rule, Source};
use crate::command::Kind;
use crate::config::{Config, suggestion_suffix};
use crate::names::{SlackChannelId, SlackUserId};

/// Lints policy text; `config` adds the checks against real environments, clusters and
/// namespaces. Findings come sorted by line.
pub fn lint(text: &str, config: Option<&Config>) -> Vec<Finding> {
    let (mut source, mut findings) = Source::parse(text);
    let mut built = Enforcer::build(&source);
    if let Err(errors) = &built {
        // Lint the rest as if the refused lines were not there, so that one typo does not
        // hide every other problem.
        let bad: HashSet<usize> = errors.iter().map(|f| f.line).collect();
        findings.extend(errors.iter().cloned());
        source.rules.retain(|r| !bad.contains(&r.line));
        source.roles.retain(|l| !bad.contains(&l.line));
        source.channel_groups.retain(|l| !bad.contains(&l.line));
        built = Enforcer::build(&source);
    }
    if let Ok(enforcer) = built {
        let facts = Facts::new(&source);
        for rule in &source.rules {
            facts.check_rule(rule, config, &mut findings);
        }
        facts.check_links(&source, &mut findings);
        shadowed_and_duplicates(&source, &enforcer, &mut findings);
    }
    findings.sort_by_key(|a| (a.line, a.severity));
    findings
}

struct Facts {
    /// Names that are groups in some `g` line (roles).
    roles: HashSet<String>,
    /// Names that are groups in some `g2` line (channel groups).
    channel_groups: HashSet<String>,
}

impl Facts {
    fn new(source: &Source) -> Facts {
        Facts {
            roles: source.roles.iter().map(|l| l.group.clone()).collect(),
            channel_groups: source
                .channel_groups
                .iter()
                .map(|l| l.group.clone())
                .collect(),
        }
    }

    fn check_rule(&self, rule: &Rule, config: Option<&Config>, out: &mut Vec<Finding>) {
        let never = |what: String| Finding::warning(rule.line, format!("never matches: {what}"));
        if !self.roles.contains(&rule.sub) && SlackUserId::parse(&rule.sub).is_err() {
            out.push(never(format!(
                "subject `{}` is neither a Slack user id (U…/W…) nor a role anyone holds; subjects are user ids or roles, never display names",
                rule.sub
            )));
        }
        for (field, value) in [
            ("environment", &rule.env),
            ("cluster", &rule.cluster),
            ("namespace", &rule.ns),
            ("workload", &rule.obj),
        ] {
            if has_ignored_tail(value) {
                out.push(Finding::warning(
                    rule.line,
                    format!(
                        "{field} pattern `{value}`: everything after the first `*` is ignored (keyMatch), so it matches every value starting with `{}`",
                        &value[..value.find('*').unwrap_or(0)]
                    ),
                ));
            }
        }
        if rule.obj != "*" {
            let kind = rule.obj.split('/').next().unwrap_or_default();
            let kinds = Kind::ALL.map(Kind::as_str);
            let prefix_of_kind = !rule.obj.contains('/')
                && rule.obj.ends_with('*')
                && kinds
                    .iter()
                    .any(|k| k.starts_with(rule.obj.trim_end_matches('*')));
            if !prefix_of_kind && !kinds.contains(&kind) {
                let hint = match Kind::parse(kind) {
                    Ok(k) => format!("; write `{}/…`", k.as_str()),
                    Err(_) => suggestion_suffix(kind, kinds),
                };
                out.push(never(format!(
                    "workload `{}` must be `*` or KIND/NAME with KIND one of {}{hint}",
                    rule.obj,
                    kinds.join(", ")
                )));
            }
        }
        if rule.chan != "*"
            && !self.channel_groups.contains(&rule.chan)
            && SlackChannelId::parse(&rule.chan).is_err()
        {
            out.push(never(format!(
                "channel `{}` is neither a Slack channel id (C…/G…/D…) nor a channel group with members (g2)",
                rule.chan
            )));
        }
        if let Some(config) = config {
            check_against_config(rule, config, out);
        }
    }

    fn check_links(&self, source: &Source, out: &mut Vec<Finding>) {
        for link in &source.roles {
            if !self.roles.contains(&link.member) && SlackUserId::parse(&link.member).is_err() {
                out.push(Finding::warning(
                    link.line,
                    format!(
                        "`{}` is neither a Slack user id (U…/W…) nor a role; members are user ids, never display names",
                        link.member
                    ),
                ));
            }
        }
        for link in &source.channel_groups {
            if SlackChannelId::parse(&link.member).is_err()
                && !self.channel_groups.contains(&link.member)
            {
                out.push(Finding::warning(
                    link.line,
                    format!(
                        "`{}` is neither a Slack channel id (C…/G…) nor a channel group",
                        link.member
                    ),
                ));
            }
        }
    }
}

fn check_against_config(rule: &Rule, config: &Config, out: &mut Vec<Finding>) {
    let never = |what: String| Finding::warning(rule.line, format!("never matches: {what}"));
    let envs: Vec<_> = config
        .environments
        .iter()
        .filter(|(name, _)| key_match(name.as_str(), &rule.env))
        .collect();
    if envs.is_empty() {
        out.push(never(format!(
            "no environment matches `{}`{}",
            rule.env,
            suggestion_suffix(&rule.env, config.environments.keys().map(|e| e.as_str()))
        )));
        return;
    }
    let in_cluster: Vec<_> = envs
        .iter()
        .filter(|(_, e)| key_match(e.cluster.as_str(), &rule.cluster))
        .collect();
    if in_cluster.is_empty() {
        let clusters: Vec<&str> = envs.iter().map(|(_, e)| e.cluster.as_str()).collect();
        out.push(never(format!(
            "no environment matching `{}` is on a cluster matching `{}` (they are on {}){}",
            rule.env,
            rule.cluster,
            clusters.join(", "),
            suggestion_suffix(&rule.cluster, clusters.iter().copied())
        )));
        return;
    }
    let namespaces: Vec<&str> = in_cluster
        .iter()
        .flat_map(|(_, e)| e.namespaces.iter().map(|n| n.as_str()))
        .collect();
    if !namespaces.iter().any(|n| key_match(n, &rule.ns)) {
        out.push(never(format!(
            "no namespace of the matching environments matches `{}` (they have {}){}",
            rule.ns,
            namespaces.join(", "),
            suggestion_suffix(&rule.ns, namespaces.iter().copied())
        )));
    }
    // A channel the environments refuse anyway (their `channels` list) can never act there.
    let mutating = ["*", "restart", "rollback", "promote"].contains(&rule.act.as_str());
    if mutating && rule.chan != "*" && SlackChannelId::parse(&rule.chan).is_ok() {
        let usable = in_cluster.iter().any(|(_, e)| {
            e.channels.is_empty() || e.channels.iter().any(|c| c.as_str() == rule.chan)
        });
        if !usable {
            out.push(never(format!(
                "the matching environments accept commands only from their configured channels, and `{}` is not one of them",
                rule.chan
            )));
        }
    }
}

fn shadowed_and_duplicates(source: &Source, enforcer: &Enforcer, out: &mut Vec<Finding>) {
    let mut first_seen: HashMap<Vec<&str>, usize> = HashMap::new();
    for rule in &source.rules {
        let key = vec![
            rule.sub.as_str(),
            &rule.env,
            &rule.cluster,
            &rule.ns,
            &rule.obj,
            &rule.act,
            &rule.chan,
            match rule.effect {
                Effect::Allow => "allow",
                Effect::Deny => "deny",
            },
        ];
        if let Some(line) = first_seen.get(&key) {
            out.push(Finding::warning(
                rule.line,
                format!("duplicate of line {line}"),
            ));
        } else {
            first_seen.insert(key, rule.line);
        }
    }
    let denies: Vec<&Rule> = source
        .rules
        .iter()
        .filter(|r| r.effect == Effect::Deny)
        .collect();
    for allow in source.rules.iter().filter(|r| r.effect == Effect::Allow) {
        if let Some(deny) = denies.iter().find(|d| deny_covers(d, allow, enforcer)) {
            out.push(Finding::warning(
                allow.line,
                format!(
                    "shadowed by the deny at line {}: it can never grant anything",
                    deny.line
                ),
            ));
        }
    }
}

/// Whether every request `allow` matches is also matched by `deny`.
fn deny_covers(deny: &Rule, allow: &Rule, enforcer: &Enforcer) -> bool {
    // Everyone who is (or holds) allow.sub also holds deny.sub.
    let subject = deny.sub == allow.sub || enforcer.roles_of(&allow.sub).contains(&deny.sub);
    subject
        && covers(&deny.env, &allow.env)
        && covers(&deny.cluster, &allow.cluster)
        && covers(&deny.ns, &allow.ns)
        && covers(&deny.obj, &allow.obj)
        && (deny.act == "*" || deny.act == allow.act)
        && (deny.chan == "*" || deny.chan == allow.chan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(findings: &[Finding]) -> Vec<(usize, String)> {
        findings
            .iter()
            .map(|f| (f.line, f.message.clone()))
            .collect()
    }

    #[test]
    fn finds_unmatchable_shadowed_and_suspicious_rules() {
        let text = "\
p, role:dev, staging, *, *, *, *, *, allow
p, role:dev, staging, *, *, *, restart, *, deny
p, alice, staging, *, *, *, status, *, allow
p, role:dev, staging, *, *, */checkout, status, *, allow
p, role:dev, staging, *, *, deploy/checkout, status, *, allow
p, role:dev, staging, *, *, *, restart, *, allow
p, role:dev, staging, *, *, *, *, *, allow
p, role:dev, staging, *, *, *, status, incident-room, allow
g, U1, role:dev
g, @bob, role:dev
";
        let found = lines(&lint(text, None));
        let has =
            |line: usize, needle: &str| found.iter().any(|(l, m)| *l == line && m.contains(needle));
        assert!(has(3, "subject `alice`"), "{found:?}");
        assert!(has(4, "after the first `*` is ignored"), "{found:?}");
        assert!(has(5, "write `deployment/…`"), "{found:?}");
        assert!(has(6, "shadowed by the deny at line 2"), "{found:?}");
        assert!(has(7, "duplicate of line 1"), "{found:?}");
        assert!(has(8, "channel `incident-room`"), "{found:?}");
        assert!(has(10, "`@bob`"), "{found:?}");
        // Line 1 is partly overridden by the deny, but still grants other actions.
        assert!(!found.iter().any(|(l, _)| *l == 1), "{found:?}");
    }

    #[test]
    fn a_deny_on_a_role_shadows_its_members_rules() {
        let text = "\
p, U1, prod, *, *, *, restart, *, allow
p, role:frozen, prod, *, *, *, *, *, deny
g, U1, role:frozen
";
        let found = lines(&lint(text, None));
        assert!(
            found.iter().any(|(l, m)| *l == 1 && m.contains("line 2")),
            "{found:?}"
        );
    }

    #[test]
    fn the_shipped_policy_is_clean() {
        let text = include_str!("../../policies/policy.csv");
        assert_eq!(lint(text, None), vec![]);
    }
}
