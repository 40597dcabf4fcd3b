//! Who the requester is in Kubernetes, for environments with `impersonate = true`: the user
//! name `[identity].users` maps their Slack id to, and groups from their pitcrew roles (with
//! `[identity].group_prefix`, `role:oncall` → `pitcrew:oncall`) plus the environment's
//! `impersonate_groups`. A Slack user not mapped is nobody: their changes there are refused
//! before any request reaches the cluster.

use crate::cluster::Impersonation;
use crate::config::{Config, Environment};
use crate::names::SlackUserId;

/// The Kubernetes identity `user` acts as in `environment`, or why there is none.
pub fn identity(
    config: &Config,
    policy: &crate::policy::Policy,
    user: &SlackUserId,
    environment: &Environment,
) -> Result<Impersonation, String> {
    let Some(name) = config.identity.users.get(user) else {
        return Err(format!(
            "{user} has no Kubernetes identity: [identity].users does not map them"
        ));
    };
    let prefix = &config.identity.group_prefix;
    let mut groups: Vec<String> = policy
        .enforcer
        .roles_of(user.as_str())
        .iter()
        .map(|role| format!("{prefix}{}", role.strip_prefix("role:").unwrap_or(role)))
        .chain(environment.impersonate_groups.iter().cloned())
        .collect();
    groups.sort();
    groups.dedup();
    Ok(Impersonation {
        user: name.clone(),
        groups,
    })
}
