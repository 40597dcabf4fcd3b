//! Who the requester is in Kubernetes, for environments with `impersonate = true`: the user
//! name `[identity].users` maps their Slack id to (or, with `from_slack_email`, their Slack
//! profile's e-mail), and groups from their pitcrew roles (with `[identity].group_prefix`,
//! `role:oncall` → `pitcrew:oncall`) plus the environment's `impersonate_groups`. A user who
//! maps to nobody is refused before any request reaches the cluster.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures::future::BoxFuture;

use crate::cluster::Impersonation;
use crate::config::{Config, Environment};
use crate::names::SlackUserId;

/// Why the directory could not answer (Slack unreachable, a refused token or scope).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DirectoryError(pub String);

/// Where people's e-mail addresses come from (Slack's `users.info`, implemented in `chat/`).
pub trait Directory: Send + Sync {
    /// The user's e-mail; `None` when they are deactivated or have none.
    fn email<'a>(
        &'a self,
        user: &'a SlackUserId,
    ) -> BoxFuture<'a, Result<Option<String>, DirectoryError>>;

    /// Whether `user` is a member of the user group `group` (an `S…` id), now.
    fn in_group<'a>(
        &'a self,
        user: &'a SlackUserId,
        group: &'a str,
    ) -> BoxFuture<'a, Result<bool, DirectoryError>>;
}

/// Looked-up e-mails, reused for `[identity].email_cache_for` (so a deactivation is noticed
/// within that time).
#[derive(Default)]
pub struct EmailCache {
    entries: Mutex<HashMap<SlackUserId, (Instant, Option<String>)>>,
}

impl EmailCache {
    async fn email(
        &self,
        directory: &dyn Directory,
        user: &SlackUserId,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, DirectoryError> {
        if let Some((at, email)) = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            && at.elapsed() < ttl
        {
            return Ok(email.clone());
        }
        let email = directory.email(user).await?;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.clone(), (Instant::now(), email.clone()));
        Ok(email)
    }
}

/// The Kubernetes user name `user` maps to: the configured table first, then (with
/// `from_slack_email`) the directory; `Err` says why there is none.
pub async fn user_name(
    config: &Config,
    directory: Option<&dyn Directory>,
    cache: &EmailCache,
    user: &SlackUserId,
) -> Result<String, String> {
    if let Some(name) = config.identity.users.get(user) {
        return Ok(name.clone());
    }
    if !config.identity.from_slack_email {
        return Err(format!(
            "{user} has no Kubernetes identity: [identity].users does not map them"
        ));
    }
    let Some(directory) = directory else {
        return Err(format!(
            "{user} is not in [identity].users, and their Slack e-mail cannot be looked up (no SLACK_BOT_TOKEN)"
        ));
    };
    match cache
        .email(directory, user, config.identity.email_cache_for)
        .await
    {
        Ok(Some(email)) => Ok(email),
        Ok(None) => Err(format!(
            "{user} has no Kubernetes identity: Slack does not know them, or their account is deactivated or has no e-mail"
        )),
        Err(e) => Err(format!(
            "{user}'s Slack e-mail cannot be looked up right now ({e}); try again in a minute"
        )),
    }
}

/// `user`'s e-mail as Slack shows it (cached for `[identity].email_cache_for`): `Ok(None)` for
/// someone Slack does not know, deactivated, or without one; `Err` says why it cannot be asked.
pub async fn slack_email(
    config: &Config,
    directory: Option<&dyn Directory>,
    cache: &EmailCache,
    user: &SlackUserId,
) -> Result<Option<String>, String> {
    let Some(directory) = directory else {
        return Err(format!(
            "{user}'s e-mail cannot be looked up: this pitcrew has no Slack bot token (SLACK_BOT_TOKEN)"
        ));
    };
    cache
        .email(directory, user, config.identity.email_cache_for)
        .await
        .map_err(|e| {
            format!(
                "{user}'s Slack e-mail cannot be looked up right now ({e}); try again in a minute"
            )
        })
}

/// The groups `user` carries in `environment`: pitcrew roles, then the environment's.
pub fn groups(
    config: &Config,
    policy: &crate::policy::Policy,
    user: &SlackUserId,
    environment: &Environment,
) -> Vec<String> {
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
    groups
}

/// The Kubernetes identity `user` acts as in `environment`, or why there is none.
pub async fn identity(
    config: &Config,
    policy: &crate::policy::Policy,
    directory: Option<&dyn Directory>,
    cache: &EmailCache,
    user: &SlackUserId,
    environment: &Environment,
) -> Result<Impersonation, String> {
    let name = user_name(config, directory, cache, user).await?;
    Ok(Impersonation {
        user: name,
        groups: groups(config, policy, user, environment),
    })
}
