//! Approver rules beyond the policy's `approve` right (`[environments.ENV.approvers]`): the
//! approver holds one of the listed roles or is in one of the listed Slack user groups, and,
//! where asked, is on call now in PagerDuty; an on-call requester at a low enough escalation
//! level needs no approval. Every lookup that fails refuses (or, for the requester's waiver,
//! leaves the approval required): fail closed.

use super::*;
use crate::config::Environment;
use crate::justify::OnCall;

/// Why an approver counts, beyond the policy's rule: recorded in their `approval` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApproverRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_call: Option<OnCall>,
}

/// Whether `user` counts as an approver in `env` under its rules; the refusal says why not.
pub(super) async fn approver_counts(
    ctx: &Context,
    env: &crate::names::EnvName,
    environment: &Environment,
    user: &SlackUserId,
) -> Result<ApproverRule, Outcome> {
    let rules = &environment.approvers;
    let mut counted = ApproverRule::default();
    if !rules.roles.is_empty() || !rules.slack_groups.is_empty() {
        let held = ctx
            .policy
            .current()
            .enforcer
            .roles_of(user.as_str())
            .to_vec();
        counted.role = rules.roles.iter().find(|r| held.contains(r)).cloned();
        if counted.role.is_none() {
            counted.slack_group = in_a_group(ctx, user, &rules.slack_groups).await?;
        }
        if counted.role.is_none() && counted.slack_group.is_none() {
            let mut who: Vec<String> = rules.roles.clone();
            who.extend(
                rules
                    .slack_groups
                    .iter()
                    .map(|g| format!("Slack group <!subteam^{g}>")),
            );
            return Err(Outcome::Refused {
                message: format!(
                    "in `{env}`, approvers must hold one of: {}; you do not, so your approval does not count. Nothing was done",
                    who.join(", ")
                ),
            });
        }
    }
    if rules.on_call {
        let entries = on_call_now(ctx, environment, user).await?;
        match entries.into_iter().min_by_key(|e| e.escalation_level) {
            Some(entry) => counted.on_call = Some(entry),
            None => {
                return Err(Outcome::Refused {
                    message: format!(
                        "in `{env}`, approvers must be on call now ({}), and PagerDuty does not show you on call; ask whoever is. Nothing was done",
                        rules.escalation_policies.join(", ")
                    ),
                });
            }
        }
    }
    Ok(counted)
}

/// The on-call entry that lets `requester` go ahead without approvals (on call now at
/// `requester_on_call_level` or lower), if the environment allows it. A lookup that fails
/// leaves the approval required (logged), never waives it.
pub(super) async fn requester_waiver(
    ctx: &Context,
    environment: &Environment,
    requester: &SlackUserId,
) -> Option<OnCall> {
    let level = environment.approvers.requester_on_call_level?;
    match on_call_now(ctx, environment, requester).await {
        Ok(entries) => entries
            .into_iter()
            .filter(|e| e.escalation_level <= level)
            .min_by_key(|e| e.escalation_level),
        Err(o) => {
            tracing::warn!(requester = %requester, outcome = ?o, "cannot tell whether the requester is on call; approvals stay required");
            None
        }
    }
}

/// The first of `groups` `user` is a member of; a group Slack cannot answer about refuses.
async fn in_a_group(
    ctx: &Context,
    user: &SlackUserId,
    groups: &[String],
) -> Result<Option<String>, Outcome> {
    if groups.is_empty() {
        return Ok(None);
    }
    let Some(directory) = ctx.directory() else {
        return Err(Outcome::Unavailable {
            message: "approvers are checked against Slack user groups, and this pitcrew has no Slack bot token to ask; nothing was done".into(),
        });
    };
    for group in groups {
        match directory.in_group(user, group).await {
            Ok(true) => return Ok(Some(group.clone())),
            Ok(false) => {}
            Err(e) => {
                return Err(Outcome::Unavailable {
                    message: format!(
                        "Slack cannot say who is in user group {group} right now ({e}); nothing was done, try again in a minute"
                    ),
                });
            }
        }
    }
    Ok(None)
}

/// `user`'s on-call entries now on the environment's escalation policies, or the refusal.
async fn on_call_now(
    ctx: &Context,
    environment: &Environment,
    user: &SlackUserId,
) -> Result<Vec<OnCall>, Outcome> {
    let directory = ctx.directory();
    let email = identity::slack_email(&ctx.config, directory.as_deref(), &ctx.emails, user)
        .await
        .map_err(|message| Outcome::Unavailable { message })?;
    let Some(email) = email else {
        return Err(Outcome::Refused {
            message: format!(
                "PagerDuty knows people by e-mail, and Slack shows none for {user} (deactivated, or no e-mail); nothing was done"
            ),
        });
    };
    ctx.justifier
        .on_call(&email, &environment.approvers.escalation_policies)
        .await
        .map_err(|message| Outcome::Unavailable { message })
}
