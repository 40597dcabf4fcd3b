//! The pipeline's gates as interfaces: authorization, justification, audit and locking, with
//! their implementations (the Casbin policy, the hash-chained audit store, in-process locks).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;

use crate::audit::Error as AuditError;

use crate::command::{Action, Target};
use crate::config::Environment;
use crate::names::{ClusterName, EnvName, NamespaceName, SlackChannelId, SlackUserId};

/// Everything a decision is about.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRequest {
    pub actor: SlackUserId,
    pub channel: Option<SlackChannelId>,
    pub action: Action,
    pub env: EnvName,
    pub cluster: ClusterName,
    /// `None` for an action on the whole environment (`freeze`, `unfreeze`).
    pub namespace: Option<NamespaceName>,
    /// `None` for an action on the whole environment.
    pub target: Option<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// Why, in words a user can act on, citing the matching rule.
    pub explanation: String,
    /// The policy line that decided (`policy.csv:12: p, …`), if a rule matched.
    pub rule: Option<String>,
    /// The exact values handed to the enforcer, in the model's request order.
    pub request: Vec<String>,
}

pub trait Authorizer: Send + Sync {
    fn decide(&self, request: &AccessRequest, environment: &Environment) -> Decision;
}

impl AccessRequest {
    /// The enforcer's request: `kind/name` as the workload, an empty channel outside one. An
    /// action on a whole environment asks with namespace and workload `*`, which only a rule
    /// with `*` there matches (`keyMatch("*", "shop")` is false).
    pub fn policy_request(&self) -> crate::policy::Request {
        crate::policy::Request {
            sub: self.actor.to_string(),
            env: self.env.to_string(),
            cluster: self.cluster.to_string(),
            ns: self
                .namespace
                .as_ref()
                .map_or_else(|| "*".to_string(), |n| n.to_string()),
            obj: self
                .target
                .as_ref()
                .map_or_else(|| "*".to_string(), |t| t.to_string()),
            act: self.action.to_string(),
            chan: self
                .channel
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
        }
    }
}

/// The Casbin policy (reloaded as its files change), after the environment's own channel
/// restriction for actions that change something.
pub struct PolicyAuthorizer {
    pub policy: Arc<crate::policy::PolicyHandle>,
}

impl Authorizer for PolicyAuthorizer {
    fn decide(&self, r: &AccessRequest, environment: &Environment) -> Decision {
        let request = r.policy_request();
        let values: Vec<String> = request.values().iter().map(|v| v.to_string()).collect();
        if let Some(explanation) = channel_refusal(r, environment) {
            return Decision {
                allowed: false,
                explanation,
                rule: None,
                request: values,
            };
        }
        // One policy for the whole decision, even if a reload lands meanwhile.
        let policy = self.policy.current();
        let (verdict, explanation) = policy.explain(&request);
        Decision {
            allowed: verdict.allowed,
            explanation,
            rule: verdict.rule.as_ref().map(|rule| policy.cite(rule)),
            request: values,
        }
    }
}

/// The configuration's `channels` for an environment restrict the actions that change it.
fn channel_refusal(r: &AccessRequest, environment: &Environment) -> Option<String> {
    let mutating = matches!(
        r.action,
        Action::Restart
            | Action::Rollback
            | Action::Promote
            | Action::Scale
            | Action::Pause
            | Action::Resume
            | Action::Freeze
            | Action::Unfreeze
    );
    if !mutating || environment.channels.is_empty() {
        return None;
    }
    match &r.channel {
        Some(c) if environment.channels.contains(c) => None,
        Some(c) => Some(format!(
            "environment `{}` accepts changes only from its channels ({}), not from {c}",
            r.env,
            list(&environment.channels)
        )),
        None => Some(format!(
            "environment `{}` accepts changes only from its channels ({}); give one with --channel",
            r.env,
            list(&environment.channels)
        )),
    }
}

fn list(channels: &[SlackChannelId]) -> String {
    channels
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub use crate::justify::{Justifier, Verification};

/// One event of a command's story, for the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub correlation: String,
    pub phase: crate::command::Phase,
    pub actor: SlackUserId,
    /// The name Slack showed for the actor when the command came (for people reading the
    /// trail; the id is what identifies them).
    pub actor_name: Option<String>,
    /// The Slack workspace the command came from.
    pub team: Option<String>,
    pub channel: Option<SlackChannelId>,
    pub text: String,
    pub action: Option<Action>,
    pub env: Option<EnvName>,
    pub cluster: Option<ClusterName>,
    pub namespace: Option<NamespaceName>,
    pub target: Option<Target>,
    /// The incident or ticket id, for filtering.
    pub reason: Option<String>,
    pub detail: serde_json::Value,
}

pub trait AuditSink: Send + Sync {
    /// Records an event durably, or says why it could not; the workflow does not act on
    /// Kubernetes unless the `started` event was recorded.
    fn record<'a>(&'a self, event: &'a AuditEvent) -> BoxFuture<'a, Result<(), AuditError>>;

    /// The `started` events of commands with no recorded outcome (for start-up reconciliation).
    fn unfinished(&self) -> BoxFuture<'_, Result<Vec<crate::audit::Record>, AuditError>>;

    /// Events matching `filter` (the chat `audit` command).
    fn query(
        &self,
        filter: crate::audit::Filter,
    ) -> BoxFuture<'_, Result<Vec<crate::audit::Record>, AuditError>>;

    /// Appends an event about an earlier command (reconciliation), keeping its correlation.
    fn record_raw(&self, event: crate::audit::NewEvent) -> BoxFuture<'_, Result<(), AuditError>>;
}

/// The hash-chained store (SQLite or PostgreSQL): the audit trail proper.
impl AuditSink for crate::audit::AuditStore {
    fn record<'a>(&'a self, e: &'a AuditEvent) -> BoxFuture<'a, Result<(), AuditError>> {
        let event = crate::audit::NewEvent {
            correlation: e.correlation.clone(),
            phase: e.phase.to_string(),
            actor_id: e.actor.to_string(),
            actor_name: e.actor_name.clone(),
            team: e.team.clone(),
            channel: e.channel.as_ref().map(|c| c.to_string()),
            command_text: e.text.clone(),
            action: e.action.map(|a| a.to_string()),
            env: e.env.as_ref().map(|v| v.to_string()),
            cluster: e.cluster.as_ref().map(|v| v.to_string()),
            namespace: e.namespace.as_ref().map(|v| v.to_string()),
            kind: e.target.as_ref().map(|t| t.kind.to_string()),
            name: e.target.as_ref().map(|t| t.name.to_string()),
            reason: e.reason.clone(),
            detail: e.detail.clone(),
        };
        self.record_raw(event)
    }

    fn unfinished(&self) -> BoxFuture<'_, Result<Vec<crate::audit::Record>, AuditError>> {
        Box::pin(async move { Ok(crate::audit::AuditStore::unfinished(self).await?) })
    }

    fn query(
        &self,
        filter: crate::audit::Filter,
    ) -> BoxFuture<'_, Result<Vec<crate::audit::Record>, AuditError>> {
        Box::pin(async move { Ok(crate::audit::AuditStore::query(self, &filter).await?) })
    }

    fn record_raw(&self, event: crate::audit::NewEvent) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async move {
            self.append(event).await?;
            Ok(())
        })
    }
}
