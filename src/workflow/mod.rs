//! The pipeline, independent of the transport: Slack (HTTP and Socket Mode), its buttons and
//! `pitcrew exec` all call [`run`] with a [`Request`] holding a parsed command, and render the
//! [`Event`]s it reports (`render.rs`).
//!
//! - `mod.rs`: [`run`], the per-command `Run` and the steps every command shares (authorize,
//!   lock, audit, the outcome's record, write-back);
//! - `change.rs`: the one gate sequence of every changing command; `actions/`: one file per
//!   changing action (`restart`, `rollback`, `promote`) implementing `ChangeAction`;
//! - `read.rs`: the read-only commands (`status`, `history`, `audit`, `can-i`, `help`);
//! - `context.rs`: the shared [`Context`]; `request.rs`: [`Request`], [`Event`], [`Outcome`];
//!   `plan.rs`: the [`Plan`] a confirmation or approval is bound to;
//! - `justification.rs`, `confirmation.rs`: the justification and confirmation/approval gates;
//! - `buttons.rs`: Approve, Confirm and Cancel on a stored request; `approvals.rs` stores them;
//! - `reconcile.rs`: closing what a crashed replica left at `started`; `locks.rs`: workload
//!   leases; `gates.rs`: the gates' interfaces; `describe.rs`, `render.rs`: the words.
//!
//! Architecture invariant: nothing touches Kubernetes before the `started` audit event was
//! recorded; if recording fails, the command ends as unavailable and nothing runs.

mod actions;
mod anchoring;
pub mod approvals;
mod approvers;
mod buttons;
mod change;
mod confirmation;
mod context;
mod describe;
mod drift;
mod expiry;
mod freeze;
pub mod gates;
mod gitops_deadline;
pub mod identity;
mod justification;
pub mod locks;
mod plan;
mod read;
mod reconcile;
pub mod render;
mod request;
mod retention;
mod reviews;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use crate::cluster::{self, Change, Followed, RolloutState, Workloads};
use crate::command::{self, Action, Command, Justification, Phase, Target};
use crate::config::Config;
use crate::names::{SlackChannelId, SlackUserId};
use crate::outbox::{Kind as OutboxKind, Notice};
use crate::resolve::{self, Place};
use gates::{AccessRequest, AuditEvent, AuditSink, Authorizer, Decision, Justifier, Verification};
use locks::Locks;

pub use anchoring::{anchor_now, keep_anchoring};
pub use buttons::{approve, cancel, confirm};
pub use context::{Context, Parts};
pub use describe::describe;
pub use drift::drift;
pub use expiry::{Expired, close_expired};
pub use gitops_deadline::resume_due;
pub use plan::{Plan, PlannedChange};
pub use reconcile::{ReconcileError, Reconciled, reconcile, workload_lock_key};
pub use request::{Event, Outcome, Pending, Request};
pub use retention::keep_retention;
pub use reviews::remind_unreviewed;

/// How long before its lease could run out an action stops retrying to record its outcome
/// (see `Run::audit_outcome`): room for a slow statement and for clocks a little apart.
const OUTCOME_MARGIN: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs one command through the pipeline, reporting events to `report`.
pub async fn run(
    ctx: &Context,
    request: &Request,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Outcome {
    let command = &request.command;
    report(Event::Understood {
        canonical: command.to_string(),
    });
    // A command continued from a Confirm or Approve button goes on under the correlation id it
    // was waiting with, so the trail tells one story per command.
    let correlation = request
        .approval
        .as_ref()
        .and_then(|a| a.correlation.clone())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    // Every log line of this command carries its correlation id (the JSON format prints the
    // current span), so logs and the audit trail can be joined.
    let span = tracing::info_span!("command", correlation = %correlation, actor = %request.actor);
    let run = Run {
        ctx,
        request,
        report,
        correlation,
        subject: std::sync::Mutex::default(),
        plan: std::sync::Mutex::default(),
        frozen: std::sync::Mutex::default(),
        waived: std::sync::Mutex::default(),
        started_at: std::sync::Mutex::default(),
    };
    let work = async move {
        if let Some(action) = actions::for_command(command) {
            return run.change(action.as_ref()).await;
        }
        match command {
            Command::Help(h) => Outcome::Done { message: h.text() },
            Command::Status(s) => match &s.target {
                Some(target) => run.status(target, &s.scope).await,
                None => run.environment_status(&s.scope).await,
            },
            Command::Freeze(f) => run.freeze(f).await,
            Command::Unfreeze(u) => run.unfreeze(u).await,
            Command::History(h) => run.history(&h.target, &h.scope).await,
            Command::CanI(c) => run.can_i(c).await,
            Command::Audit(a) => run.audit_summary(a).await,
            Command::Restart(_)
            | Command::Rollback(_)
            | Command::Promote(_)
            | Command::Scale(_)
            | Command::Pause(_)
            | Command::Gitops(_)
            | Command::Step(_) => Outcome::BadInput {
                message: format!("`{command}` has no action behind it"),
            },
        }
    };
    let outcome = tracing::Instrument::instrument(work, span).await;
    // The workload lock is free in the database before the outcome is reported.
    ctx.locks.settle().await;
    outcome
}

struct Run<'a> {
    ctx: &'a Context,
    request: &'a Request,
    report: &'a (dyn Fn(Event) + Send + Sync),
    correlation: String,
    /// What the command is about, filled in as it is resolved; every audit event carries it.
    subject: std::sync::Mutex<Subject>,
    /// What the change would do (from a server-side dry run), when a person must confirm or
    /// approve it: what a confirmation or approval is bound to.
    plan: std::sync::Mutex<Option<Plan>>,
    /// The freeze a break-glass change overrides (its words), for the confirmation.
    frozen: std::sync::Mutex<Option<String>>,
    /// The on-call entry that made approvals unnecessary, for the `started` event.
    waived: std::sync::Mutex<Option<crate::justify::OnCall>>,
    /// When `started` was recorded, to time the action in `/metrics`.
    started_at: std::sync::Mutex<Option<std::time::Instant>>,
}

#[derive(Debug, Clone, Default)]
struct Subject {
    action: Option<Action>,
    env: Option<crate::names::EnvName>,
    cluster: Option<crate::names::ClusterName>,
    namespace: Option<crate::names::NamespaceName>,
    target: Option<Target>,
    reason: Option<String>,
}

impl Run<'_> {
    fn place(&self, scope: &command::Scope) -> Result<Place<'_>, Outcome> {
        resolve::place(
            &self.ctx.config,
            scope.env.as_ref(),
            scope.namespace.as_ref(),
        )
        .map_err(|e| Outcome::BadInput {
            message: e.to_string(),
        })
    }

    /// The policy's answer, counted in `/metrics`; reported to nobody (see `authorize`).
    /// `target` is `None` for an action on the whole environment.
    fn decide(&self, action: Action, place: &Place<'_>, target: Option<&Target>) -> Decision {
        let request = AccessRequest {
            actor: self.request.actor.clone(),
            channel: self.request.channel.clone(),
            action,
            env: place.env.clone(),
            cluster: place.cluster.clone(),
            namespace: target.map(|_| place.namespace.clone()),
            target: target.cloned(),
        };
        let decision = self.ctx.authorizer.decide(&request, place.environment);
        self.ctx
            .metrics
            .decisions
            .get_or_create(&crate::metrics::DecisionLabels {
                action: action.as_str(),
                decision: if decision.allowed {
                    "allowed"
                } else {
                    "denied"
                },
            })
            .inc();
        decision
    }

    /// The policy gate of a command: reports the decision, or refuses. `target` is `None` for
    /// an action on the whole environment.
    fn authorize(
        &self,
        action: Action,
        place: &Place<'_>,
        target: Option<&Target>,
    ) -> Result<Decision, Outcome> {
        let decision = self.decide(action, place, target);
        if decision.allowed {
            (self.report)(Event::Authorized {
                explanation: decision.explanation.clone(),
            });
            Ok(decision)
        } else {
            let what = match target {
                Some(t) => format!("{t} in {}", place.env),
                None => place.env.to_string(),
            };
            Err(Outcome::Refused {
                message: format!("you may not {action} {what}: {}", decision.explanation),
            })
        }
    }

    /// What the command is about, for every audit event from now on.
    fn set_subject(
        &self,
        action: Action,
        scope: &actions::Scope<'_>,
        target: &Target,
        justification: Option<&Justification>,
    ) {
        let mut s = self.subject.lock().unwrap_or_else(|p| p.into_inner());
        s.action = Some(action);
        s.env = Some(scope.place.env.clone());
        s.cluster = Some(scope.place.cluster.clone());
        s.namespace = scope.one_namespace.then(|| scope.place.namespace.clone());
        s.target = Some(target.clone());
        s.reason = match justification {
            Some(Justification::Reason(r)) => Some(r.id().to_string()),
            Some(Justification::BreakGlass { .. }) => Some("break-glass".into()),
            None => None,
        };
    }

    fn subject(&self) -> Subject {
        self.subject
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One action per workload at a time, across replicas; refusals are audited as
    /// `cancelled` (nothing was done) and say what to do.
    /// `namespace` is `None` for a promote, which spans the destination's namespaces.
    async fn lock(
        &self,
        cluster: &crate::names::ClusterName,
        namespace: Option<&str>,
        target: &Target,
        env: &crate::names::EnvName,
    ) -> Result<locks::LockGuard, Outcome> {
        let key = workload_lock_key(
            cluster.as_str(),
            namespace,
            &target.kind.to_string(),
            target.name.as_str(),
        );
        match self.ctx.locks.lock(&key, &self.correlation).await {
            Ok(guard) => Ok(guard),
            Err(e) => {
                let o = match e {
                    locks::LockError::Busy { since, by } => Outcome::BadInput {
                        message: format!(
                            "another action on {target} in {env} is running (since {since}, {by}); wait for it to finish and look at `status`. Nothing was done"
                        ),
                    },
                    locks::LockError::Database(e) => Outcome::Unavailable {
                        message: format!(
                            "cannot take the lock on {target} in {env}: the database does not answer ({e}); nothing was done, try again in a minute"
                        ),
                    },
                };
                let _ = self
                    .audit(Phase::Cancelled, serde_json::json!({"outcome": &o}))
                    .await;
                Err(o)
            }
        }
    }

    /// Counts a phase in `/metrics`, and times an action from `started` to its outcome.
    fn count(&self, action: Action, phase: Phase) {
        self.ctx.count_phase(action, phase);
        let m = &self.ctx.metrics;
        let mut started = self.started_at.lock().unwrap_or_else(|p| p.into_inner());
        match phase {
            Phase::Started => *started = Some(std::time::Instant::now()),
            Phase::Succeeded | Phase::Failed | Phase::Interrupted | Phase::Cancelled => {
                if let Some(at) = started.take() {
                    m.action_seconds
                        .get_or_create(&crate::metrics::ActionLabels {
                            action: action.as_str(),
                        })
                        .observe(at.elapsed().as_secs_f64());
                }
            }
            _ => {}
        }
    }

    async fn audit(
        &self,
        phase: Phase,
        detail: serde_json::Value,
    ) -> Result<(), crate::audit::Error> {
        let subject = self.subject();
        let action = subject.action;
        let event = AuditEvent {
            correlation: self.correlation.clone(),
            phase,
            actor: self.request.actor.clone(),
            actor_name: self.request.actor_name.clone(),
            team: self.request.team.clone(),
            channel: self.request.channel.clone(),
            text: self.request.text(),
            action: subject.action,
            env: subject.env,
            cluster: subject.cluster,
            namespace: subject.namespace,
            target: subject.target,
            reason: subject.reason,
            detail,
        };
        self.ctx.audit.record(&event).await?;
        // Counted once it is in the trail, so `/metrics` agrees with the trail (and a retried
        // write is counted once).
        if let Some(action) = action {
            self.count(action, phase);
        }
        Ok(())
    }

    /// Records a command's outcome. The action already happened, so a failure here cannot
    /// undo it: it is logged loudly, and start-up reconciliation closes the command later.
    /// Records an action's outcome. The action already happened, so a database that is
    /// briefly away (a restart, a failover) must not lose what pitcrew knows: the write is
    /// retried with backoff while the workload's lease is surely still this run's (less a
    /// margin), so reconciliation on another replica cannot close the same command meanwhile.
    /// Past that the command stays `started`, and reconciliation closes it as `interrupted`,
    /// with the state it finds, once the database is back.
    async fn audit_outcome(
        &self,
        lock: &locks::LockGuard,
        phase: Phase,
        detail: serde_json::Value,
    ) {
        let window = lock
            .surely_held_for()
            .saturating_sub(OUTCOME_MARGIN)
            .min(locks::LEASE);
        let deadline = tokio::time::Instant::now() + window;
        let mut backoff = std::time::Duration::from_millis(250);
        loop {
            let Err(e) = self.audit(phase, detail.clone()).await else {
                return;
            };
            if tokio::time::Instant::now() + backoff > deadline {
                tracing::error!(error = %e, correlation = %self.correlation, phase = phase.as_str(), "could not record the outcome in the audit trail; reconciliation will close this command as interrupted");
                return;
            }
            tracing::warn!(error = %e, correlation = %self.correlation, "cannot record the outcome in the audit trail yet; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
        }
    }

    /// Queues the outcome's write-back to the verified incident or issue.
    async fn write_back(
        &self,
        verification: &Option<Verification>,
        phase: Phase,
        outcome: &Outcome,
    ) {
        let (Some(outbox), Some(Verification::Verified { evidence, .. })) =
            (self.ctx.outbox(), verification)
        else {
            return;
        };
        let (kind, target) = match evidence.get("system").and_then(|s| s.as_str()) {
            Some("pagerduty") => (OutboxKind::PagerDutyNote, evidence.pointer("/incident/id")),
            Some("jira") => (OutboxKind::JiraComment, evidence.pointer("/issue/key")),
            _ => return,
        };
        let Some(target) = target.and_then(|t| t.as_str()) else {
            return;
        };
        let subject = self.subject();
        let place = match (&subject.env, &subject.cluster, &subject.namespace) {
            (Some(e), Some(c), Some(n)) => format!(" in {e} ({c}/{n})"),
            (Some(e), _, _) => format!(" in {e}"),
            _ => String::new(),
        };
        let notice = Notice::Outcome {
            actor: self.request.actor.to_string(),
            command: self.request.text(),
            place,
            phase: phase.to_string(),
            summary: outcome
                .message()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            correlation: self.correlation.clone(),
        };
        if let Err(e) = outbox
            .enqueue(kind, target, &self.correlation, &notice)
            .await
        {
            tracing::error!(correlation = %self.correlation, error = %e, "cannot queue the write-back");
        }
    }
}

fn unavailable_audit(e: crate::audit::Error) -> Outcome {
    Outcome::Unavailable {
        message: format!("the audit trail cannot be written ({e}); nothing was done"),
    }
}

/// A cluster error met while acting as `as_user` (impersonation): a 403 is the requester's own
/// Kubernetes rights refusing, said as such (not pitcrew's account lacking a grant); anything
/// else as [`cluster_outcome`].
fn cluster_outcome_as(e: &cluster::Error, as_user: Option<&cluster::Impersonation>) -> Outcome {
    match (e, as_user) {
        (cluster::Error::Forbidden { doing, message }, Some(who)) => Outcome::Refused {
            message: format!(
                "your Kubernetes identity {who} may not do this ({doing}): {message}. Nothing was changed; the cluster's RBAC must grant it to you (or one of your groups)"
            ),
        },
        _ => cluster_outcome(e),
    }
}

/// Maps a cluster error to an outcome: a workload problem is the user's to fix (2), an API
/// refusal means the action failed (1), an unreachable cluster is unavailable (5).
fn cluster_outcome(e: &cluster::Error) -> Outcome {
    let message = e.to_string();
    if e.is_rejection() {
        Outcome::failed(message)
    } else if e.is_infrastructure() {
        Outcome::Unavailable { message }
    } else {
        Outcome::BadInput { message }
    }
}
