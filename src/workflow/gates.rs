//! The pipeline's gates as interfaces: authorization, justification, audit and locking.
//! Each has the implementation that exists today; later work (the Casbin policy, live
//! PagerDuty/Jira checks, the hash-chained audit store, cross-replica locks) replaces them
//! behind the same traits. None of today's implementations says "yes" where a real check is
//! missing: protected environments are refused until the policy and justification checks exist.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::command::{Action, Justification, Target};
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
    pub namespace: NamespaceName,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// Why, in words a user can act on (and, once the policy exists, the matching rule).
    pub explanation: String,
}

pub trait Authorizer: Send + Sync {
    fn decide(&self, request: &AccessRequest, environment: &Environment) -> Decision;
}

/// Today's authorizer: the configuration's channel restrictions, and a refusal for every
/// protected environment, because the policy that would say who may act there is not built yet.
pub struct ConfigOnly;

impl Authorizer for ConfigOnly {
    fn decide(&self, r: &AccessRequest, environment: &Environment) -> Decision {
        if !environment.channels.is_empty() {
            match &r.channel {
                Some(c) if environment.channels.contains(c) => {}
                Some(c) => {
                    return deny(format!(
                        "environment `{}` accepts commands only from its channels ({}), not from {c}",
                        r.env,
                        list(&environment.channels)
                    ));
                }
                None => {
                    return deny(format!(
                        "environment `{}` accepts commands only from its channels ({}); give one with --channel",
                        r.env,
                        list(&environment.channels)
                    ));
                }
            }
        }
        if environment.protected {
            return deny(format!(
                "environment `{}` is protected, and pitcrew's authorization policy is not built yet, so nothing runs there; use your usual access until it is",
                r.env
            ));
        }
        Decision {
            allowed: true,
            explanation: format!(
                "environment `{}` is not protected; no authorization policy is loaded yet, so anyone may run `{}` there",
                r.env, r.action
            ),
        }
    }
}

fn deny(explanation: String) -> Decision {
    Decision {
        allowed: false,
        explanation,
    }
}

fn list(channels: &[SlackChannelId]) -> String {
    channels
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The result of checking a justification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verification {
    /// Checked live and accepted.
    Verified { summary: String },
    /// Recorded as given, not checked (only where the environment does not require it).
    Unverified { reason: String },
    /// Refused, with what to do.
    Refused { message: String },
}

pub trait Justifier: Send + Sync {
    fn verify(&self, justification: &Justification, environment: &Environment) -> Verification;
}

/// Today's justifier: records the reference without checking it. Protected environments (the
/// only ones that require a verified reason) are refused before this is asked.
pub struct RecordOnly;

impl Justifier for RecordOnly {
    fn verify(&self, justification: &Justification, environment: &Environment) -> Verification {
        if environment.protected {
            return Verification::Refused {
                message: "live PagerDuty/Jira verification is not built yet, so no reason can be accepted for a protected environment".into(),
            };
        }
        let what = match justification {
            Justification::Reason(r) => format!("reason {} recorded", r.id()),
            Justification::BreakGlass { .. } => "break-glass text recorded".into(),
        };
        Verification::Unverified {
            reason: format!(
                "{what}, not verified: this environment does not require a verified reason"
            ),
        }
    }
}

/// One event of a command's story, for the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub correlation: String,
    pub phase: crate::command::Phase,
    pub actor: SlackUserId,
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
    fn record<'a>(
        &'a self,
        event: &'a AuditEvent,
    ) -> futures::future::BoxFuture<'a, Result<(), String>>;

    /// The `started` events of commands with no recorded outcome (for start-up reconciliation).
    fn unfinished(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<Vec<crate::audit::Record>, String>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Appends an event about an earlier command (reconciliation), keeping its correlation.
    fn record_raw(
        &self,
        event: crate::audit::NewEvent,
    ) -> futures::future::BoxFuture<'_, Result<(), String>> {
        let _ = event;
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The hash-chained store (SQLite or PostgreSQL): the audit trail proper.
impl AuditSink for crate::audit::AuditStore {
    fn record<'a>(
        &'a self,
        e: &'a AuditEvent,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let event = crate::audit::NewEvent {
                correlation: e.correlation.clone(),
                phase: e.phase.to_string(),
                actor_id: e.actor.to_string(),
                actor_name: None,
                team: None,
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
            self.append(event)
                .await
                .map(|_| ())
                .map_err(|err| err.to_string())
        })
    }

    fn unfinished(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<Vec<crate::audit::Record>, String>> {
        Box::pin(async move {
            crate::audit::AuditStore::unfinished(self)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn record_raw(
        &self,
        event: crate::audit::NewEvent,
    ) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.append(event)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Structured log lines only (target `pitcrew::audit`): for tests and tools that run without
/// a database. Not tamper-evident.
pub struct LogOnly;

impl AuditSink for LogOnly {
    fn record<'a>(
        &'a self,
        event: &'a AuditEvent,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        let detail = event.detail.to_string();
        tracing::info!(
            target: "pitcrew::audit",
            correlation = %event.correlation,
            phase = %event.phase,
            actor = %event.actor,
            text = %event.text,
            detail = %detail,
            "audit"
        );
        Box::pin(std::future::ready(Ok(())))
    }
}

/// One action per workload at a time, within this process.
#[derive(Clone, Default)]
pub struct Locks {
    held: Arc<Mutex<HashSet<String>>>,
}

/// Held while a workload is being changed; released on drop.
pub struct LockGuard {
    key: String,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Locks {
    pub fn try_lock(&self, key: String) -> Option<LockGuard> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(key.clone()).then(|| LockGuard {
            key,
            held: self.held.clone(),
        })
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.key);
    }
}
