//! The pipeline, independent of the transport: Slack (later), Socket Mode (later) and
//! `pitcrew exec` all call [`run`] and render the [`Event`]s it reports.
//!
//! receive → parse → resolve → authorize → justify → confirm → lock → audit `started` → act →
//! follow → audit outcome.
//!
//! Architecture invariant: nothing touches Kubernetes before the `started` audit event was
//! recorded; if recording fails, the command ends as unavailable and nothing runs.

pub mod approvals;
pub mod gates;
pub mod locks;

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use crate::cluster::{self, Change, Clusters, Followed, RolloutState};
use crate::command::{self, Action, Command, Justification, Phase, Target};
use crate::config::Config;
use crate::justify::outbox::Kind as OutboxKind;
use crate::names::{SlackChannelId, SlackUserId};
use crate::resolve::{self, Place};
use gates::{AccessRequest, AuditEvent, AuditSink, Authorizer, Decision, Justifier, Verification};
use locks::Locks;

/// Everything a command may use, built once and shared.
pub struct Context {
    pub config: Config,
    pub clusters: Clusters,
    /// The policy in force (reloaded as its files change); `authorizer` decides with it.
    pub policy: Arc<crate::policy::PolicyHandle>,
    pub authorizer: Box<dyn Authorizer>,
    /// Live PagerDuty/Jira checks; also the clients the outbox delivers write-back with.
    pub justifier: Arc<crate::justify::LiveJustifier>,
    /// Slack's Web API as the bot, when `SLACK_BOT_TOKEN` is set.
    pub slack: Option<crate::chat::web::SlackWeb>,
    /// What this replica last saw of Slack (its Web API, Socket Mode connections).
    pub slack_health: Arc<crate::chat::health::SlackHealth>,
    /// The database (none in some tests): request de-duplication, confirmations and
    /// approvals, and the write-back outbox live there.
    pub db: Option<crate::db::Database>,
    pub audit: Box<dyn AuditSink>,
    pub locks: Locks,
    /// Set to `true` to stop following rollouts (Ctrl-C in a terminal, shutdown of a server).
    /// The actions themselves are already done by then; only the waiting stops.
    pub cancel: tokio::sync::watch::Sender<bool>,
    /// Counters and histograms served at `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The work that requests started (a command, a button click, a mention) and that runs
    /// after their acknowledgement. `serve` waits for it on SIGTERM (see [`Context::spawn_work`]).
    pub work: tokio_util::task::TaskTracker,
}

impl Context {
    /// The context for serving: policy loaded, clusters connected, the database opened and
    /// migrated, the audit trail in it.
    pub async fn new(config: Config) -> crate::Result<Arc<Context>> {
        let metrics = crate::metrics::Metrics::new();
        let clusters = Clusters::connect(&config, Some(&metrics.outside)).await?;
        let db = crate::db::Database::connect(&config.database).await?;
        db.migrate().await?;
        let audit = Box::new(crate::audit::AuditStore::new(db.clone()));
        Context::build(config, clusters, audit, Some(db), metrics)
    }

    /// The context over clusters and an audit sink made elsewhere; loads the policy the
    /// configuration names (a broken policy is an error: nothing runs without one).
    pub fn with_parts(
        config: Config,
        clusters: Clusters,
        audit: Box<dyn AuditSink>,
    ) -> crate::Result<Arc<Context>> {
        Context::build(
            config,
            clusters,
            audit,
            None,
            crate::metrics::Metrics::new(),
        )
    }

    fn build(
        config: Config,
        clusters: Clusters,
        audit: Box<dyn AuditSink>,
        db: Option<crate::db::Database>,
        metrics: crate::metrics::Metrics,
    ) -> crate::Result<Arc<Context>> {
        let policy = Arc::new(crate::policy::PolicyHandle::load(
            config.policy.model.clone(),
            config.policy.policy.clone(),
        )?);
        let justifier = Arc::new(crate::justify::LiveJustifier::from_config(
            &config,
            &metrics.outside,
        ));
        let slack_health = Arc::new(crate::chat::health::SlackHealth::default());
        let slack = match &config.secrets.slack_bot_token {
            Some(token) => Some(
                crate::chat::web::SlackWeb::new(
                    &config.slack.api_base_url,
                    token,
                    slack_health.clone(),
                )
                .map_err(|e| crate::Error::Usage(format!("cannot set up the Slack client: {e}")))?
                .observed(metrics.outside.clone()),
            ),
            None => None,
        };
        Ok(Arc::new(Context {
            config,
            clusters,
            authorizer: Box::new(gates::PolicyAuthorizer {
                policy: policy.clone(),
            }),
            policy,
            justifier,
            slack,
            slack_health,
            locks: Locks::new(db.clone()),
            db,
            audit,
            cancel: tokio::sync::watch::Sender::new(false),
            metrics,
            work: tokio_util::task::TaskTracker::new(),
        }))
    }

    /// Counts an audit phase of an action in `/metrics`; every path that records a phase
    /// (a run, the Cancel button, reconciliation) calls it.
    pub fn count_phase(&self, action: Action, phase: Phase) {
        self.metrics
            .actions
            .get_or_create(&crate::metrics::PhaseLabels {
                action: action.as_str(),
                phase: phase.as_str(),
            })
            .inc();
    }

    /// The write-back outbox, in the database (none without one).
    pub fn outbox(&self) -> Option<crate::justify::outbox::Outbox> {
        self.db.clone().map(crate::justify::outbox::Outbox::new)
    }

    /// Delivers what is due in the outbox (write-back, announcements) with this process's
    /// clients; `None` when there is no outbox.
    pub async fn deliver_outbox(
        &self,
    ) -> Option<Result<crate::justify::outbox::Round, sqlx::Error>> {
        let outbox = self.outbox()?;
        let clients = crate::justify::outbox::Deliverers {
            justify: &self.justifier,
            slack: self.slack.as_ref(),
        };
        Some(outbox.deliver_due(clients).await)
    }

    /// Runs work a request started in the background, tracked so that a shutting-down server
    /// lets it finish (within `[server].shutdown_grace`) instead of dropping it mid-action.
    /// Every transport spawns its commands through this, never with a bare `tokio::spawn`.
    pub fn spawn_work<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.work.spawn(work);
    }

    /// Resolves when [`Context::cancel`] is set.
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.cancel.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }
}

/// A command as it arrives from any transport.
#[derive(Debug, Clone)]
pub struct Request {
    pub actor: SlackUserId,
    pub channel: Option<SlackChannelId>,
    pub text: String,
    /// The requester already confirmed (a button in Slack, `--yes` in a terminal).
    pub confirmed: bool,
    /// The approval this run carries out (set by `approve` once enough people approved).
    pub approval: Option<approvals::Approval>,
    /// Who, as Slack showed them (name) and where (workspace), for the audit trail.
    pub actor_name: Option<String>,
    pub team: Option<String>,
}

/// What the user sees along the way; a transport renders these.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Understood { canonical: String },
    Authorized { explanation: String },
    Justification { verification: Verification },
    Planned { change: Change },
    Progress { state: RolloutState },
}

/// How long before its lease could run out an action stops retrying to record its outcome
/// (see `Run::audit_outcome`): room for a slow statement and for clocks a little apart.
const OUTCOME_MARGIN: std::time::Duration = std::time::Duration::from_secs(3);

/// How a failed change's message names the command that undoes it (a Roll back button in
/// Slack runs that command, with all its checks).
pub const UNDO_HINT: &str = "roll back with `";

/// The command that undoes a failed change, from its outcome.
pub fn undo_command(outcome: &Outcome) -> Option<String> {
    let Outcome::ActionFailed { message } = outcome else {
        return None;
    };
    let start = message.find(UNDO_HINT)? + UNDO_HINT.len();
    let end = message[start..].find('`')? + start;
    Some(message[start..end].to_string())
}

/// A stored request waiting for a person: the requester's confirmation, or approvals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub id: String,
    /// `confirm` (the requester) or `approve` (other people holding `approve`).
    pub kind: &'static str,
}

/// How a command ended. Each has the process exit code `pitcrew exec` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Done (read-only answers, dry runs, completed rollouts). Exit 0.
    Done { message: String },
    /// The action ran but failed (rollout failed or timed out, or the API refused it). Exit 1.
    ActionFailed { message: String },
    /// The command could not be understood or does not fit the target. Exit 2.
    BadInput { message: String },
    /// A protected environment's change waits for the requester's confirmation (a button in
    /// Slack, `--yes` in a terminal); nothing was done. Exit 6.
    NeedsConfirmation {
        message: String,
        /// The stored request a button (or `pitcrew approve`) acts on.
        pending: Option<Pending>,
    },
    /// Refused by policy. Exit 3.
    Refused { message: String },
    /// The justification was refused. Exit 4.
    Unjustified { message: String },
    /// Something pitcrew depends on is unavailable; nothing was done. Exit 5.
    Unavailable { message: String },
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done { .. } => 0,
            Outcome::ActionFailed { .. } => 1,
            Outcome::BadInput { .. } => 2,
            Outcome::Refused { .. } => 3,
            Outcome::Unjustified { .. } => 4,
            Outcome::Unavailable { .. } => 5,
            Outcome::NeedsConfirmation { .. } => 6,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Done { message }
            | Outcome::ActionFailed { message }
            | Outcome::BadInput { message }
            | Outcome::Refused { message }
            | Outcome::Unjustified { message }
            | Outcome::Unavailable { message }
            | Outcome::NeedsConfirmation { message, .. } => message,
        }
    }
}

/// Runs one command through the pipeline, reporting events to `report`.
pub async fn run(
    ctx: &Context,
    request: &Request,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Outcome {
    let command = match command::parse(&request.text) {
        Ok(c) => c,
        Err(e) => {
            return Outcome::BadInput {
                message: e.to_string(),
            };
        }
    };
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
        started_at: std::sync::Mutex::default(),
    };
    let work = async move {
        match &command {
            Command::Help(h) => Outcome::Done { message: h.text() },
            Command::Status(s) => run.status(&s.target, &s.scope).await,
            Command::History(h) => run.history(&h.target, &h.scope).await,
            Command::CanI(c) => run.can_i(c).await,
            Command::Restart(r) => {
                run.mutate(
                    Action::Restart,
                    &r.target,
                    &r.scope,
                    &r.justification,
                    r.dry_run,
                    &command,
                )
                .await
            }
            Command::Rollback(r) => {
                run.mutate(
                    Action::Rollback,
                    &r.target,
                    &r.scope,
                    &r.justification,
                    r.dry_run,
                    &command,
                )
                .await
            }
            Command::Promote(p) => run.promote(p, &command).await,
            Command::Audit(a) => run.audit_summary(a).await,
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
    /// approve it: part of what a confirmation or approval is bound to.
    plan: std::sync::Mutex<String>,
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
    fn decide(&self, action: Action, place: &Place<'_>, target: &Target) -> Decision {
        let request = AccessRequest {
            actor: self.request.actor.clone(),
            channel: self.request.channel.clone(),
            action,
            env: place.env.clone(),
            cluster: place.cluster.clone(),
            namespace: place.namespace.clone(),
            target: target.clone(),
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

    /// The policy gate of a changing command: reports the decision, or refuses.
    fn authorize(
        &self,
        action: Action,
        place: &Place<'_>,
        target: &Target,
    ) -> Result<Decision, Outcome> {
        let decision = self.decide(action, place, target);
        if decision.allowed {
            (self.report)(Event::Authorized {
                explanation: decision.explanation.clone(),
            });
            Ok(decision)
        } else {
            Err(Outcome::Refused {
                message: format!(
                    "you may not {action} {target} in {}: {}",
                    place.env, decision.explanation
                ),
            })
        }
    }

    fn client(&self, place: &Place<'_>) -> Result<&cluster::Client, Outcome> {
        self.ctx
            .clusters
            .client(&place.cluster)
            .map_err(|e| Outcome::Unavailable {
                message: e.to_string(),
            })
    }

    fn set_subject(
        &self,
        action: Action,
        place: Option<&Place<'_>>,
        target: &Target,
        justification: &Option<Justification>,
    ) {
        let mut s = self.subject.lock().unwrap_or_else(|p| p.into_inner());
        s.action = Some(action);
        if let Some(p) = place {
            s.env = Some(p.env.clone());
            s.cluster = Some(p.cluster.clone());
            s.namespace = Some(p.namespace.clone());
        }
        s.target = Some(target.clone());
        s.reason = match justification {
            Some(Justification::Reason(r)) => Some(r.id().to_string()),
            Some(Justification::BreakGlass { .. }) => Some("break-glass".into()),
            None => None,
        };
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

    async fn audit(&self, phase: Phase, detail: serde_json::Value) -> Result<(), String> {
        let subject = self
            .subject
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let action = subject.action;
        let event = AuditEvent {
            correlation: self.correlation.clone(),
            phase,
            actor: self.request.actor.clone(),
            actor_name: self.request.actor_name.clone(),
            team: self.request.team.clone(),
            channel: self.request.channel.clone(),
            text: self.request.text.clone(),
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

    /// Checks the justification; a refusal is audited as `denied`. Protected environments
    /// need a reason verified live (or break-glass, if the policy grants it); elsewhere a
    /// reason that does not verify is recorded as unverified and does not block.
    async fn justify(
        &self,
        justification: &Option<Justification>,
        place: &Place<'_>,
        target: &Target,
    ) -> Result<Option<Verification>, Outcome> {
        let env = &place.env;
        let protected = place.environment.protected;
        let result = match justification {
            None if protected => Err(format!(
                "environment `{env}` is protected: give --reason with a PagerDuty incident or a Jira issue"
            )),
            None => Ok(None),
            Some(Justification::Reason(reason)) => {
                let v = self
                    .ctx
                    .justifier
                    .verify(reason, env, place.environment)
                    .await;
                match v {
                    Verification::Refused { message } if protected => Err(message),
                    Verification::Refused { message } => Ok(Some(Verification::Unverified {
                        reason: format!(
                            "{message}; recorded anyway, as `{env}` does not require a verified reason"
                        ),
                    })),
                    other => Ok(Some(other)),
                }
            }
            Some(Justification::BreakGlass { text }) => self.break_glass(text, place, target).await,
        };
        match result {
            Ok(v) => {
                if let Some(v) = &v {
                    (self.report)(Event::Justification {
                        verification: v.clone(),
                    });
                }
                Ok(v)
            }
            Err(message) => {
                let o = Outcome::Unjustified { message };
                let _ = self
                    .audit(Phase::Denied, serde_json::json!({"outcome": &o}))
                    .await;
                Err(o)
            }
        }
    }

    /// `--break-glass "why"`: only for holders of `break-glass` in this environment. Loud: the
    /// audit trail marks it (reason `break-glass`, so `audit query --reason break-glass` lists
    /// every one for follow-up) and the configured channel is told.
    async fn break_glass(
        &self,
        text: &str,
        place: &Place<'_>,
        target: &Target,
    ) -> Result<Option<Verification>, String> {
        let request = AccessRequest {
            actor: self.request.actor.clone(),
            channel: self.request.channel.clone(),
            action: Action::BreakGlass,
            env: place.env.clone(),
            cluster: place.cluster.clone(),
            namespace: place.namespace.clone(),
            target: target.clone(),
        };
        let decision = self.ctx.authorizer.decide(&request, place.environment);
        if !decision.allowed {
            return Err(format!(
                "--break-glass needs the `break-glass` right in `{}`, which you do not hold ({}); give --reason with a PagerDuty incident or a Jira issue",
                place.env, decision.explanation
            ));
        }
        let announcement = format!(
            ":rotating_light: BREAK-GLASS by <@{}> in {}: `{}` — \"{}\" (audit id {}). Follow up: attach the incident or ticket.",
            self.request.actor, place.env, self.request.text, text, self.correlation
        );
        match (self.ctx.outbox(), &self.ctx.config.slack.announce_channel) {
            (Some(outbox), Some(channel)) => {
                if let Err(e) = outbox
                    .enqueue(
                        OutboxKind::SlackAnnounce,
                        channel.as_str(),
                        &self.correlation,
                        &announcement,
                    )
                    .await
                {
                    return Err(format!(
                        "the break-glass announcement cannot be queued ({e}); nothing was done"
                    ));
                }
            }
            // Fail closed: a break-glass nobody is told about is a silent bypass.
            (_, None) => {
                return Err("--break-glass must be announced, and this pitcrew has no [slack].announce_channel configured; nothing was done. Give --reason with a PagerDuty incident or a Jira issue, or ask the platform team to set announce_channel".to_string());
            }
            (None, Some(_)) => {
                return Err(
                    "--break-glass must be announced, and without a database the announcement cannot be queued; nothing was done. Give --reason with a PagerDuty incident or a Jira issue"
                        .to_string(),
                );
            }
        }
        tracing::warn!(correlation = %self.correlation, actor = %self.request.actor, env = %place.env, text = %text, "BREAK-GLASS");
        Ok(Some(Verification::BreakGlass {
            text: text.to_string(),
            rule: decision.rule,
        }))
    }

    /// Step 6 of the pipeline: a protected environment's change needs the requester's
    /// confirmation, and the approvals the environment asks for. Approvals by a second person
    /// arrive with the Slack approval flow; until then such environments refuse (fail closed).
    async fn confirmed(
        &self,
        env: &crate::names::EnvName,
        environment: &crate::config::Environment,
        dry_run: bool,
    ) -> Result<(), Outcome> {
        if !environment.protected || dry_run {
            return Ok(());
        }
        if let Some(a) = self.request.approval.as_ref().filter(|a| a.needed == 0)
            && a.params_hash != self.params_hash(env)
        {
            let o = Outcome::Refused {
                message: format!(
                    "the change is no longer the one you confirmed (the workload changed meanwhile); run `{}` again to see what it would do now. Nothing was done",
                    a.command_text
                ),
            };
            let _ = self
                .audit(Phase::Cancelled, serde_json::json!({"outcome": &o}))
                .await;
            return Err(o);
        }
        let o = if !self.request.confirmed {
            // Stored, so that the Confirm button can refer to exactly this command.
            let pending = match &self.ctx.db {
                Some(db) => approvals::Approvals::new(db.clone())
                    .open(
                        self.request.actor.as_str(),
                        self.request.channel.as_ref().map(|c| c.as_str()),
                        &self.request.text,
                        env.as_str(),
                        &self.params_hash(env),
                        0,
                        self.ctx.config.server.approval_ttl,
                        &self.correlation,
                        self.request.team.as_deref(),
                    )
                    .await
                    .ok()
                    .map(|id| Pending {
                        id,
                        kind: "confirm",
                    }),
                None => None,
            };
            Outcome::NeedsConfirmation {
                message: format!(
                    "environment `{env}` is protected: confirm the change shown above (the Confirm button in Slack, --yes in a terminal). Nothing was done yet"
                ),
                pending,
            }
        } else if environment.approvals > 0 {
            match self.approved(env, environment).await {
                Ok(()) => return Ok(()),
                Err(o) => o,
            }
        } else {
            return Ok(());
        };
        // Waiting, not ended: pressing the button continues this command. A refusal found
        // while opening the request (say, the database is down) does end it.
        let phase = match &o {
            Outcome::NeedsConfirmation {
                pending: Some(_), ..
            } => Phase::Pending,
            _ => Phase::Cancelled,
        };
        let _ = self.audit(phase, serde_json::json!({"outcome": &o})).await;
        Err(o)
    }

    /// The change a `restart` or `rollback` makes (or, with `dry_run`, would make).
    async fn act(
        &self,
        command: &Command,
        client: &cluster::Client,
        ns: &str,
        target: &Target,
        dry_run: bool,
    ) -> Result<Change, cluster::Error> {
        let name = target.name.as_str();
        match command {
            Command::Restart(_) => {
                cluster::restart(client, ns, target.kind, name, Utc::now(), dry_run).await
            }
            Command::Rollback(r) => {
                let to = r
                    .to_revision
                    .map(|n| i64::try_from(n.get()).unwrap_or(i64::MAX));
                cluster::rollback(client, ns, target.kind, name, to, dry_run).await
            }
            _ => unreachable_command(),
        }
    }

    /// What binds an approval to this exact command.
    fn params_hash(&self, env: &crate::names::EnvName) -> String {
        let s = self
            .subject
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let canonical = command::parse(&self.request.text)
            .map(|c| c.to_string())
            .unwrap_or_default();
        approvals::params_hash(&[
            &canonical,
            self.request.actor.as_str(),
            self.request.channel.as_ref().map_or("", |c| c.as_str()),
            env.as_str(),
            &s.cluster.map(|c| c.to_string()).unwrap_or_default(),
            &s.namespace.map(|n| n.to_string()).unwrap_or_default(),
            &self.plan.lock().unwrap_or_else(|p| p.into_inner()),
        ])
    }

    /// An environment with `approvals > 0`: this run must carry an approval with enough
    /// approvers for exactly this command; otherwise one is opened and the command stops.
    async fn approved(
        &self,
        env: &crate::names::EnvName,
        environment: &crate::config::Environment,
    ) -> Result<(), Outcome> {
        let hash = self.params_hash(env);
        let needed = i64::from(environment.approvals);
        if let Some(a) = self.request.approval.as_ref().filter(|a| a.needed > 0) {
            if a.params_hash == hash && a.approvers.len() as i64 >= needed {
                return Ok(());
            }
            return Err(Outcome::Refused {
                message: format!(
                    "approval {} was given for a different change than `{}` would make now (the workload changed meanwhile); run it again to ask for a new approval. Nothing was done",
                    a.id, a.command_text
                ),
            });
        }
        let Some(db) = &self.ctx.db else {
            return Err(Outcome::Unavailable {
                message: "approvals need the database, which this pitcrew does not have; nothing was done".into(),
            });
        };
        let store = approvals::Approvals::new(db.clone());
        match store
            .open(
                self.request.actor.as_str(),
                self.request.channel.as_ref().map(|c| c.as_str()),
                &self.request.text,
                env.as_str(),
                &hash,
                needed,
                self.ctx.config.server.approval_ttl,
                &self.correlation,
                self.request.team.as_deref(),
            )
            .await
        {
            Ok(id) => Err(Outcome::NeedsConfirmation {
                pending: Some(Pending {
                    id: id.clone(),
                    kind: "approve",
                }),
                message: format!(
                    "environment `{env}` needs {needed} approval{} by someone else holding `approve` there: ask them to approve {id} (the Approve button in Slack, or `pitcrew approve {id} --as THEIR_ID`); it expires in {}. Nothing was done yet",
                    if needed == 1 { "" } else { "s" },
                    humantime::format_duration(self.ctx.config.server.approval_ttl)
                ),
            }),
            Err(e) => Err(Outcome::Unavailable {
                message: format!("cannot record the request for approval ({e}); nothing was done"),
            }),
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
        let subject = self
            .subject
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let place = match (&subject.env, &subject.cluster, &subject.namespace) {
            (Some(e), Some(c), Some(n)) => format!(" in {e} ({c}/{n})"),
            (Some(e), _, _) => format!(" in {e}"),
            _ => String::new(),
        };
        let first_line = outcome.message().lines().next().unwrap_or_default();
        let body = format!(
            "pitcrew: {} ran `{}`{place}: {phase}.\n{first_line}\nAudit id {} (pitcrew audit show {}).",
            self.request.actor,
            self.request.text.trim(),
            self.correlation,
            self.correlation
        );
        if let Err(e) = outbox.enqueue(kind, target, &self.correlation, &body).await {
            tracing::error!(correlation = %self.correlation, error = %e, "cannot queue the write-back");
        }
    }

    /// `promote`: authorized as `status` on every source namespace and `promote` on every
    /// destination namespace, then one change per workload whose images differ.
    async fn promote(&self, p: &command::Promote, command: &Command) -> Outcome {
        let config = &self.ctx.config;
        let (from, to) = match (
            resolve::environment(config, Some(&p.from)),
            resolve::environment(config, Some(&p.to)),
        ) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => {
                return Outcome::BadInput {
                    message: e.to_string(),
                };
            }
        };
        if from.1.cluster != to.1.cluster && self.ctx.clusters.client(&from.1.cluster).is_err() {
            return Outcome::Unavailable {
                message: format!(
                    "cluster `{}` of environment `{}` is not connected",
                    from.1.cluster, from.0
                ),
            };
        }
        let target = match &p.subject {
            command::Subject::App { name } => Target {
                kind: command::Kind::Deployment,
                name: name.clone(),
            },
            command::Subject::Workload { target } => target.clone(),
        };
        self.set_subject(Action::Promote, None, &target, &p.justification);
        {
            let mut subject = self.subject.lock().unwrap_or_else(|e| e.into_inner());
            subject.env = Some(to.0.clone());
            subject.cluster = Some(to.1.cluster.clone());
        }
        if let Err(e) = self
            .audit(
                Phase::Requested,
                serde_json::json!({"command": command, "from": from.0}),
            )
            .await
        {
            return unavailable_audit(e);
        }
        let checks = [(Action::Status, &from), (Action::Promote, &to)];
        let mut decisions = Vec::new();
        for (action, (env, environment)) in checks {
            for ns in &environment.namespaces {
                let place = Place {
                    env: env.clone(),
                    environment,
                    cluster: environment.cluster.clone(),
                    namespace: ns.clone(),
                };
                match self.authorize(action, &place, &target) {
                    Ok(d) => decisions.push(d),
                    Err(o) => {
                        let _ = self
                            .audit(Phase::Denied, serde_json::json!({"outcome": &o}))
                            .await;
                        return o;
                    }
                }
            }
        }
        let Some(first_ns) = to.1.namespaces.first() else {
            return Outcome::BadInput {
                message: format!("environment `{}` has no namespace", to.0),
            };
        };
        let to_place = Place {
            env: to.0.clone(),
            environment: to.1,
            cluster: to.1.cluster.clone(),
            namespace: first_ns.clone(),
        };
        let verification = match self.justify(&p.justification, &to_place, &target).await {
            Ok(v) => v,
            Err(o) => return o,
        };
        if let Err(e) = self
            .audit(
                Phase::Approved,
                serde_json::json!({"decisions": decisions, "justification": verification, "approval": self.request.approval}),
            )
            .await
        {
            return unavailable_audit(e);
        }
        if let Err(o) = self.confirmed(&to.0, to.1, p.dry_run).await {
            return o;
        }
        let (Ok(src_client), Ok(dst_client)) = (
            self.ctx.clusters.client(&from.1.cluster),
            self.ctx.clusters.client(&to.1.cluster),
        ) else {
            return Outcome::Unavailable {
                message: "a cluster of these environments is not connected".into(),
            };
        };
        let name = target.name.as_str();
        let lock = match self.lock(&to.1.cluster, None, &target, &to.0).await {
            Ok(guard) => guard,
            Err(o) => return o,
        };
        if let Err(e) = self
            .audit(Phase::Started, serde_json::json!({"dry_run": p.dry_run}))
            .await
        {
            return unavailable_audit(e);
        }
        let side = |client, env: &crate::config::Environment| cluster::Side {
            client,
            namespaces: env.namespaces.iter().map(|n| n.to_string()).collect(),
        };
        let planned = cluster::promote(
            &side(src_client, from.1),
            &side(dst_client, to.1),
            &p.kinds(),
            name,
            to.1.allow_gitops,
            p.dry_run,
        )
        .await;
        let changes = match planned {
            Ok(Ok(changes)) => changes,
            Ok(Err(mismatch)) => {
                let o = Outcome::BadInput {
                    message: format!(
                        "cannot promote {name} from {} to {}: {}",
                        from.0,
                        to.0,
                        mismatch.problems.join("; ")
                    ),
                };
                self.audit_outcome(&lock, Phase::Cancelled, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
            Err(e) => {
                let o = cluster_outcome(e);
                self.audit_outcome(&lock, Phase::Failed, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        if changes.is_empty() {
            let o = Outcome::Done {
                message: format!(
                    "{} already runs the images {} runs; nothing to promote",
                    to.0, from.0
                ),
            };
            self.audit_outcome(&lock, Phase::Succeeded, serde_json::json!({"outcome": &o}))
                .await;
            return o;
        }
        for change in &changes {
            (self.report)(Event::Planned {
                change: change.clone(),
            });
        }
        let summary: Vec<String> = changes.iter().map(describe).collect();
        if p.dry_run {
            let o = Outcome::Done {
                message: format!("dry run: {}; nothing was changed", summary.join("; ")),
            };
            self.audit_outcome(
                &lock,
                Phase::Succeeded,
                serde_json::json!({"changes": changes, "dry_run": true}),
            )
            .await;
            return o;
        }
        let mut failures = Vec::new();
        for change in &changes {
            let report = self.report;
            let followed = cluster::follow(
                dst_client,
                &change.namespace,
                change.kind,
                &change.name,
                config.rollout.timeout,
                self.ctx.cancelled(),
                |state| {
                    report(Event::Progress {
                        state: state.clone(),
                    })
                },
            )
            .await;
            match followed {
                Ok(Followed::Complete { .. }) => {}
                Ok(Followed::Failed { state }) => failures.push(format!(
                    "{}/{}: {}",
                    change.kind,
                    change.name,
                    state.failed.unwrap_or(state.message)
                )),
                Ok(other) => failures.push(format!("{}/{}: {other:?}", change.kind, change.name)),
                Err(e) => failures.push(e.to_string()),
            }
        }
        let (phase, o) = if failures.is_empty() {
            (
                Phase::Succeeded,
                Outcome::Done {
                    message: format!(
                        "promoted {name} from {} to {}: {}",
                        from.0,
                        to.0,
                        summary.join("; ")
                    ),
                },
            )
        } else {
            (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!("promoted {name} to {}, but: {}", to.0, failures.join("; ")),
                },
            )
        };
        self.audit_outcome(
            &lock,
            phase,
            serde_json::json!({"changes": changes, "outcome": &o}),
        )
        .await;
        self.write_back(&verification, phase, &o).await;
        o
    }

    /// Resolve, authorize and connect for a read-only command.
    fn read_access(
        &self,
        action: Action,
        target: &Target,
        scope: &command::Scope,
    ) -> Result<(Place<'_>, &cluster::Client), Outcome> {
        let place = self.place(scope)?;
        self.authorize(action, &place, target)?;
        let client = self.client(&place)?;
        Ok((place, client))
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

    async fn status(&self, target: &Target, scope: &command::Scope) -> Outcome {
        let (place, client) = match self.read_access(Action::Status, target, scope) {
            Ok(x) => x,
            Err(o) => return o,
        };
        let ns = place.namespace.as_str();
        let workload =
            match cluster::Workload::get(client, target.kind, ns, target.name.as_str()).await {
                Ok(w) => w,
                Err(e) => return cluster_outcome(e),
            };
        let state = cluster::rollout_state(&workload);
        let snapshot = match cluster::snapshot(client, ns, &workload).await {
            Ok(s) => s,
            Err(e) => return cluster_outcome(e),
        };
        let mut lines = vec![
            format!("{target} in {} ({ns}): {}", place.env, state.message),
            format!(
                "replicas: {} desired, {} updated, {} ready, {} available",
                state.desired, state.updated, state.ready, state.available
            ),
        ];
        if let Some(r) = snapshot.revision {
            lines.push(format!("revision: {r}"));
        }
        if !state.conditions.is_empty() {
            lines.push(format!("conditions: {}", state.conditions.join(", ")));
        }
        for (container, image) in &snapshot.images {
            lines.push(format!("image {container}: {image}"));
        }
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    async fn history(&self, target: &Target, scope: &command::Scope) -> Outcome {
        let (place, client) = match self.read_access(Action::History, target, scope) {
            Ok(x) => x,
            Err(o) => return o,
        };
        let ns = place.namespace.as_str();
        let result = async {
            let w = cluster::Workload::get(client, target.kind, ns, target.name.as_str()).await?;
            cluster::history(client, ns, &w).await
        }
        .await;
        let revisions = match result {
            Ok(r) => r,
            Err(e) => return cluster_outcome(e),
        };
        let now = Utc::now();
        let mut lines = vec![format!(
            "{target} in {} ({ns}): {} revisions",
            place.env,
            revisions.len()
        )];
        for r in revisions.iter().rev() {
            let images: Vec<String> = r.images.iter().map(|(_, i)| i.clone()).collect();
            let age = r
                .created
                .map(|c| {
                    humantime::format_duration(std::time::Duration::from_secs(
                        (now - c).num_seconds().max(0) as u64,
                    ))
                    .to_string()
                })
                .map(|a| format!(", {a} ago"))
                .unwrap_or_default();
            lines.push(format!(
                "{}{:>4}  {}  {}{age}",
                if r.current { "→" } else { " " },
                r.number,
                images.join(", "),
                r.change_cause.as_deref().unwrap_or("<no change cause>"),
            ));
        }
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    /// The chat `audit` command: a short summary of recent command outcomes, for users the
    /// policy grants `audit` (on the environment asked about, or on every one: `*`).
    async fn audit_summary(&self, a: &command::Audit) -> Outcome {
        let request = crate::policy::Request {
            sub: self.request.actor.to_string(),
            env: a.env.as_ref().map_or("*".into(), |e| e.to_string()),
            cluster: "*".into(),
            ns: "*".into(),
            obj: a.target.as_ref().map_or("*".into(), |t| t.to_string()),
            act: Action::Audit.to_string(),
            chan: self
                .request
                .channel
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
        };
        let (verdict, explanation) = self.ctx.policy.current().explain(&request);
        if !verdict.allowed {
            let hint = if a.env.is_none() {
                "; if you may read one environment's trail, say which with --env"
            } else {
                ""
            };
            return Outcome::Refused {
                message: format!("you may not read the audit trail: {explanation}{hint}"),
            };
        }
        let since = match &a.since {
            Some(command::Since::At { time }) => *time,
            Some(command::Since::Ago { seconds }) => {
                Utc::now()
                    - chrono::Duration::seconds(i64::try_from(*seconds).unwrap_or(i64::MAX / 1000))
            }
            None => Utc::now() - chrono::Duration::hours(24),
        };
        let filter = crate::audit::Filter {
            since: Some(since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            actor: a.actor.as_ref().map(|u| u.to_string()),
            env: a.env.as_ref().map(|e| e.to_string()),
            kind: a.target.as_ref().map(|t| t.kind.to_string()),
            name: a.target.as_ref().map(|t| t.name.to_string()),
            action: a.action.map(|x| x.to_string()),
            phase: a.outcome.map(|p| p.to_string()),
            limit: Some(10_000),
            ..crate::audit::Filter::default()
        };
        let events = match self.ctx.audit.query(filter).await {
            Ok(e) => e,
            Err(e) => {
                return Outcome::Unavailable {
                    message: format!("cannot read the audit trail: {e}"),
                };
            }
        };
        // One line per command: its last event (the outcome, or how far it got).
        let mut last: Vec<&crate::audit::Record> = Vec::new();
        for e in &events {
            match last.iter().position(|l| l.correlation == e.correlation) {
                Some(i) => last[i] = e,
                None => last.push(e),
            }
        }
        const SHOWN: usize = 15;
        let mut lines = vec![format!(
            "{} command{} since {} ({}):",
            last.len(),
            if last.len() == 1 { "" } else { "s" },
            since.format("%Y-%m-%d %H:%M UTC"),
            explanation
        )];
        for e in last.iter().rev().take(SHOWN) {
            lines.push(format!(
                "{}  {}  {:<11}  {}  (audit id {})",
                e.at.get(..16).unwrap_or(&e.at).replace('T', " "),
                e.actor_id,
                e.phase,
                crate::audit::render::terminal_safe(&e.command_text),
                e.correlation
            ));
        }
        if last.len() > SHOWN {
            lines.push(format!(
                "… and {} more; operators can list them all with `pitcrew audit query`",
                last.len() - SHOWN
            ));
        }
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    async fn can_i(&self, c: &command::CanI) -> Outcome {
        let place = match self.place(&c.scope) {
            Ok(p) => p,
            Err(o) => return o,
        };
        // The answer is the outcome itself: no `Authorized` event, which would say it twice.
        let d = self.decide(c.action, &place, &c.target);
        let message = if d.allowed {
            format!("yes: {}", d.explanation)
        } else {
            format!(
                "no: you may not {} {} in {}: {}",
                c.action, c.target, place.env, d.explanation
            )
        };
        Outcome::Done { message }
    }

    async fn mutate(
        &self,
        action: Action,
        target: &Target,
        scope: &command::Scope,
        justification: &Option<Justification>,
        dry_run: bool,
        command: &Command,
    ) -> Outcome {
        let place = match self.place(scope) {
            Ok(p) => p,
            Err(o) => return o,
        };
        self.set_subject(action, Some(&place), target, justification);
        let requested = serde_json::json!({"command": command, "env": place.env, "cluster": place.cluster, "namespace": place.namespace});
        if let Err(e) = self.audit(Phase::Requested, requested).await {
            return unavailable_audit(e);
        }
        let decision = match self.authorize(action, &place, target) {
            Ok(d) => d,
            Err(o) => {
                let _ = self
                    .audit(Phase::Denied, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        let verification = match self.justify(justification, &place, target).await {
            Ok(v) => v,
            Err(o) => return o,
        };
        if let Err(e) = self
            .audit(
                Phase::Approved,
                serde_json::json!({"decision": decision, "justification": verification, "approval": self.request.approval}),
            )
            .await
        {
            return unavailable_audit(e);
        }
        let client = match self.client(&place) {
            Ok(c) => c,
            Err(o) => return o,
        };
        if place.environment.protected && !dry_run {
            // Show what would change before anyone confirms or approves, and bind their
            // answer to it: if the workload moves meanwhile, the approval no longer applies.
            let planned = self
                .act(command, client, place.namespace.as_str(), target, true)
                .await;
            match planned {
                Ok(change) if change.unchanged => {
                    // Nothing to do: nobody is asked to confirm or approve a no-op.
                    let o = unchanged_outcome(&change);
                    let _ = self
                        .audit(
                            Phase::Unchanged,
                            serde_json::json!({"change": change, "outcome": &o}),
                        )
                        .await;
                    return o;
                }
                Ok(change) => {
                    *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = format!(
                        "{}/{} {:?}->{:?} {:?} {}",
                        change.kind,
                        change.name,
                        change.before.revision,
                        change.after.revision,
                        change.to_revision,
                        change.image_changes().join(",")
                    );
                    if !self.request.confirmed
                        || (place.environment.approvals > 0
                            && self.request.approval.as_ref().is_none_or(|a| a.needed == 0))
                    {
                        (self.report)(Event::Planned { change });
                    }
                }
                Err(e) => {
                    let o = cluster_outcome(e);
                    let _ = self
                        .audit(Phase::Failed, serde_json::json!({"outcome": &o}))
                        .await;
                    return o;
                }
            }
        }
        if let Err(o) = self.confirmed(&place.env, place.environment, dry_run).await {
            return o;
        }
        let ns = place.namespace.as_str();
        let lock = match self
            .lock(&place.cluster, Some(ns), target, &place.env)
            .await
        {
            Ok(guard) => guard,
            Err(o) => return o,
        };
        // The last gate before Kubernetes: no durable `started`, no action.
        if let Err(e) = self
            .audit(Phase::Started, serde_json::json!({"dry_run": dry_run}))
            .await
        {
            return unavailable_audit(e);
        }
        let name = target.name.as_str();
        let acted = self.act(command, client, ns, target, dry_run).await;
        let change = match acted {
            Ok(c) => c,
            Err(e) => {
                let o = cluster_outcome(e);
                self.audit_outcome(&lock, Phase::Failed, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        if change.unchanged {
            let o = unchanged_outcome(&change);
            self.audit_outcome(
                &lock,
                Phase::Unchanged,
                serde_json::json!({"change": change, "outcome": &o}),
            )
            .await;
            return o;
        }
        (self.report)(Event::Planned {
            change: change.clone(),
        });
        if dry_run {
            let o = Outcome::Done {
                message: format!("dry run: {}; nothing was changed", describe(&change)),
            };
            self.audit_outcome(
                &lock,
                Phase::Succeeded,
                serde_json::json!({"change": change, "dry_run": true}),
            )
            .await;
            return o;
        }
        let started = std::time::Instant::now();
        let report = self.report;
        let followed = cluster::follow(
            client,
            ns,
            target.kind,
            name,
            self.ctx.config.rollout.timeout,
            self.ctx.cancelled(),
            |state| {
                report(Event::Progress {
                    state: state.clone(),
                })
            },
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let (phase, outcome) = match followed {
            Ok(Followed::Complete { state }) => (
                Phase::Succeeded,
                Outcome::Done {
                    message: format!("{}; {} ({seconds:.1} s)", describe(&change), state.message),
                },
            ),
            Ok(Followed::Failed { state }) => (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!(
                        "{}, but the rollout failed: {}; {UNDO_HINT}rollback {target} -e {}{}`",
                        describe(&change),
                        state.failed.unwrap_or(state.message),
                        place.env,
                        change
                            .before
                            .revision
                            .map(|r| format!(" --to-revision {r}"))
                            .unwrap_or_default()
                    ),
                },
            ),
            Ok(Followed::TimedOut {
                state,
                after_seconds,
            }) => (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!(
                        "{}, but the rollout did not finish within {after_seconds} s{}; check `status {target} -e {}`",
                        describe(&change),
                        state
                            .map(|s| format!(" ({})", s.message))
                            .unwrap_or_default(),
                        place.env
                    ),
                },
            ),
            Ok(Followed::Cancelled { .. }) => (
                Phase::Interrupted,
                Outcome::ActionFailed {
                    message: format!(
                        "{}; stopped following the rollout, which goes on in the cluster; check `status {target} -e {}`",
                        describe(&change),
                        place.env
                    ),
                },
            ),
            Err(e) => (Phase::Failed, cluster_outcome(e)),
        };
        self.audit_outcome(
            &lock,
            phase,
            serde_json::json!({"change": change, "outcome": &outcome}),
        )
        .await;
        self.write_back(&verification, phase, &outcome).await;
        outcome
    }
}

/// A change with nothing to do (kubectl's "skipped rollback"): done, exit 0, in kubectl's words.
fn unchanged_outcome(change: &Change) -> Outcome {
    Outcome::Done {
        message: format!("{}; nothing was changed", describe(change)),
    }
}

fn unreachable_command() -> Result<Change, cluster::Error> {
    Err(cluster::Error::Malformed {
        what: "a non-mutating command reached the action step".into(),
    })
}

fn unavailable_audit(e: String) -> Outcome {
    Outcome::Unavailable {
        message: format!("the audit trail cannot be written ({e}); nothing was done"),
    }
}

/// `approve ID` by `user`: checks that the request is open, unexpired, someone else's, and that
/// `user` holds `approve` for its target; records the approval; once enough people approved,
/// uses the approval (once) and runs the command as its requester, through every check again.
pub async fn approve(
    ctx: &Context,
    id: &str,
    user: &SlackUserId,
    team: Option<&str>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Outcome {
    let (store, approval) = match stored_request(ctx, id, "request for approval", team).await {
        Ok(found) => found,
        Err(o) => return o,
    };
    if approval.state != "pending" {
        return Outcome::BadInput {
            message: format!(
                "request {id} is already {} (approvals are single-use); ask for a new one by running the command again",
                approval.state
            ),
        };
    }
    if approval.expired(Utc::now()) {
        let _ = store.close(id, "expired").await;
        return Outcome::Refused {
            message: format!(
                "request {id} expired at {}; ask for a new one by running the command again",
                approval.expires_at
            ),
        };
    }
    if approval.needed == 0 {
        return Outcome::BadInput {
            message: format!("{id} asks for the requester's confirmation, not for approvals"),
        };
    }
    if approval.requester == user.as_str() {
        return Outcome::Refused {
            message: "you cannot approve your own request: someone else holding `approve` must"
                .into(),
        };
    }
    // The approver needs `approve` on what the command changes.
    let decision = match approver_decision(ctx, &approval, user) {
        Ok(d) => d,
        Err(o) => return o,
    };
    if !decision.allowed {
        return Outcome::Refused {
            message: format!("you may not approve {id}: {}", decision.explanation),
        };
    }
    let updated = match store.add_approver(&approval, user.as_str()).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return Outcome::BadInput {
                message: format!(
                    "request {id} changed while you approved it (another approval, or it was used); look at it again"
                ),
            };
        }
        Err(e) => {
            return Outcome::Unavailable {
                message: format!("cannot record your approval ({e}); nothing was done"),
            };
        }
    };
    let have = updated.approvers.len() as i64;
    if have < updated.needed {
        return Outcome::Done {
            message: format!(
                "approved {id} ({have} of {}); waiting for {} more",
                updated.needed,
                updated.needed - have
            ),
        };
    }
    // Exactly one approver's click runs it.
    match store.close(id, "used").await {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::BadInput {
                message: format!("request {id} was already used; nothing more was done"),
            };
        }
        Err(e) => {
            return Outcome::Unavailable {
                message: format!("cannot use the approval ({e}); nothing was done"),
            };
        }
    }
    let (Ok(requester), channel) = (
        SlackUserId::parse(&updated.requester),
        updated
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
    ) else {
        return Outcome::BadInput {
            message: format!("request {id} names an invalid requester"),
        };
    };
    let request = Request {
        actor: requester,
        channel,
        text: updated.command_text.clone(),
        confirmed: true,
        team: updated.team.clone(),
        approval: Some(updated),
        actor_name: None,
    };
    run(ctx, &request, report).await
}

/// The Confirm button: only the requester confirms, once, before it expires; the command then
/// runs (and may still need approvals).
pub async fn confirm(
    ctx: &Context,
    id: &str,
    user: &SlackUserId,
    team: Option<&str>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Outcome {
    let (store, a) = match stored_request(ctx, id, "confirmation", team).await {
        Ok((store, a)) if a.needed == 0 => (store, a),
        Ok(_) => {
            return Outcome::BadInput {
                message: format!("there is no confirmation `{id}`"),
            };
        }
        Err(o) => return o,
    };
    if a.requester != user.as_str() {
        return Outcome::Refused {
            message: format!(
                "only <@{}>, who asked for it, can confirm this",
                a.requester
            ),
        };
    }
    if a.expired(Utc::now()) {
        let _ = store.close(id, "expired").await;
        return Outcome::Refused {
            message: "this confirmation expired; run the command again".into(),
        };
    }
    match store.close(id, "used").await {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::BadInput {
                message: format!("{id} was already {}; nothing more was done", a.state),
            };
        }
        Err(e) => {
            return Outcome::Unavailable {
                message: format!("cannot use the confirmation ({e}); nothing was done"),
            };
        }
    }
    let request = Request {
        actor: user.clone(),
        channel: a
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
        text: a.command_text.clone(),
        confirmed: true,
        // The confirmation travels with the run: it applies only to the change it was shown.
        approval: Some(a.clone()),
        actor_name: None,
        team: a.team.clone(),
    };
    run(ctx, &request, report).await
}

/// The Cancel button: the requester, or anyone who may approve it, ends a pending request.
pub async fn cancel(ctx: &Context, id: &str, user: &SlackUserId, team: Option<&str>) -> Outcome {
    let (store, a) = match stored_request(ctx, id, "request", team).await {
        Ok(found) => found,
        Err(o) => return o,
    };
    let may = a.requester == user.as_str()
        || (a.needed > 0 && approver_decision(ctx, &a, user).is_ok_and(|d| d.allowed));
    if !may {
        return Outcome::Refused {
            message: "only the requester or someone who may approve it can cancel this".into(),
        };
    }
    match store.close(id, "cancelled").await {
        Ok(true) => {
            // Ends the waiting command's story in the trail (its earlier events, under the
            // same correlation id, hold the target and the checks).
            if let Some(correlation) = &a.correlation {
                let action = command::parse(&a.command_text)
                    .ok()
                    .and_then(|c| c.change_action());
                if let Some(action) = action {
                    ctx.count_phase(action, Phase::Cancelled);
                }
                let event = AuditEvent {
                    correlation: correlation.clone(),
                    phase: Phase::Cancelled,
                    actor: user.clone(),
                    actor_name: None,
                    team: a.team.clone(),
                    channel: a
                        .channel
                        .as_deref()
                        .and_then(|c| SlackChannelId::parse(c).ok()),
                    text: a.command_text.clone(),
                    action,
                    env: crate::names::EnvName::parse(&a.env).ok(),
                    cluster: None,
                    namespace: None,
                    target: None,
                    reason: None,
                    detail: serde_json::json!({"cancelled_by": user.as_str(), "request": id}),
                };
                if let Err(e) = ctx.audit.record(&event).await {
                    tracing::error!(error = %e, %correlation, "could not record the cancellation in the audit trail");
                }
            }
            Outcome::Done {
                message: format!("cancelled `{}`; nothing was done", a.command_text),
            }
        }
        Ok(false) => Outcome::BadInput {
            message: format!("{id} was already {}", a.state),
        },
        Err(e) => Outcome::Unavailable {
            message: format!("cannot cancel ({e})"),
        },
    }
}

/// The stored request `id` (a confirmation or a request for approval, named `what` in
/// messages) and its store, or the outcome that says why it cannot be had.
/// The stored request `id`, for a click or `pitcrew approve`. A click from another Slack
/// workspace than the request's is refused: the allow-list admits the clicker's workspace, not
/// its right to act on another's requests. (`team` is `None` from a terminal, whose user is
/// checked by the policy alone.)
async fn stored_request(
    ctx: &Context,
    id: &str,
    what: &str,
    team: Option<&str>,
) -> Result<(approvals::Approvals, approvals::Approval), Outcome> {
    let Some(db) = &ctx.db else {
        return Err(Outcome::Unavailable {
            message: format!("a {what} needs the database; nothing was done"),
        });
    };
    let store = approvals::Approvals::new(db.clone());
    match store.get(id).await {
        Ok(Some(a)) if a.team.is_some() && team.is_some() && a.team.as_deref() != team => {
            Err(Outcome::Refused {
                message: format!(
                    "{id} was asked for in another Slack workspace; only people there can act on it. Nothing was done"
                ),
            })
        }
        Ok(Some(a)) => Ok((store, a)),
        Ok(None) => Err(Outcome::BadInput {
            message: format!("there is no {what} `{id}`; check the id"),
        }),
        Err(e) => Err(Outcome::Unavailable {
            message: format!("cannot read the {what} ({e}); nothing was done"),
        }),
    }
}

fn approver_decision(
    ctx: &Context,
    a: &approvals::Approval,
    user: &SlackUserId,
) -> Result<Decision, Outcome> {
    let bad = |message: String| Outcome::BadInput { message };
    let command = command::parse(&a.command_text).map_err(|e| bad(e.to_string()))?;
    let (target, namespace) = match &command {
        Command::Restart(r) => (r.target.clone(), r.scope.namespace.clone()),
        Command::Rollback(r) => (r.target.clone(), r.scope.namespace.clone()),
        Command::Promote(p) => (
            match &p.subject {
                command::Subject::App { name } => Target {
                    kind: command::Kind::Deployment,
                    name: name.clone(),
                },
                command::Subject::Workload { target } => target.clone(),
            },
            None,
        ),
        _ => return Err(bad(format!("request {} is not for a change", a.id))),
    };
    let env = crate::names::EnvName::parse(&a.env).map_err(|e| bad(e.to_string()))?;
    let place = resolve::place(&ctx.config, Some(&env), namespace.as_ref())
        .or_else(|_| {
            // Several namespaces and none named (promote): the first is representative.
            let environment = ctx.config.environments.get(&env);
            let ns = environment.and_then(|e| e.namespaces.first());
            resolve::place(&ctx.config, Some(&env), ns)
        })
        .map_err(|e| bad(e.to_string()))?;
    let request = AccessRequest {
        actor: user.clone(),
        channel: a
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
        action: Action::Approve,
        env: place.env.clone(),
        cluster: place.cluster.clone(),
        namespace: place.namespace.clone(),
        target,
    };
    Ok(ctx.authorizer.decide(&request, place.environment))
}

/// A command that was interrupted (pitcrew stopped between `started` and its outcome) and is
/// now closed as `interrupted`, with what the cluster shows.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciled {
    pub correlation: String,
    pub command_text: String,
    pub found: String,
}

/// Start-up reconciliation: closes every command with a `started` event and no outcome as
/// `interrupted`, recording the workload's state as found in the cluster now.
/// The workload lock's key: `cluster/namespace/kind/name` for restart and rollback, and
/// `promote/cluster/kind/name` for a promote (which spans the destination's namespaces). The
/// same function names the lock an action takes and the one reconciliation checks.
pub fn workload_lock_key(cluster: &str, namespace: Option<&str>, kind: &str, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{cluster}/{ns}/{kind}/{name}"),
        None => format!("promote/{cluster}/{kind}/{name}"),
    }
}

/// Tells the channel a command came from that pitcrew lost track of it: the live message the
/// dead replica was updating stopped where it was. Through the outbox (durable, posted once,
/// retried while Slack is away); a command from a terminal has no channel and nothing is sent.
async fn tell_channel_interrupted(ctx: &Context, started: &crate::audit::Record, found: &str) {
    let (Some(outbox), Some(channel)) = (ctx.outbox(), started.channel.as_deref()) else {
        return;
    };
    let escape = crate::chat::commands::escape;
    let text = format!(
        ":warning: pitcrew lost track of `{}` by <@{}>: the replica following it stopped, so its message above stopped too. Recorded as interrupted; found now: {}. Check with `status` (audit id {}).",
        escape(&started.command_text),
        started.actor_id,
        escape(found),
        started.correlation
    );
    let marker = format!("{}/interrupted", started.correlation);
    if let Err(e) = outbox
        .enqueue(OutboxKind::SlackAnnounce, channel, &marker, &text)
        .await
    {
        tracing::warn!(correlation = %started.correlation, error = %e, "cannot queue the message about an interrupted command");
    }
}

/// Closes commands left at `started` by a process that died, as `interrupted`, with the
/// workload's state as found. Safe with several replicas: a command whose workload lock is
/// still leased is running on another replica and is left alone, and only the replica that
/// takes the lock closes a command (re-checked under it), so two replicas starting together
/// never close one twice. `serve` runs it at start and every lease period.
pub async fn reconcile(ctx: &Context) -> Result<Vec<Reconciled>, String> {
    let mut closed = Vec::new();
    for started in ctx.audit.unfinished().await? {
        let key = match (&started.cluster, &started.kind, &started.name) {
            (Some(c), Some(k), Some(n)) => {
                Some(workload_lock_key(c, started.namespace.as_deref(), k, n))
            }
            _ => None,
        };
        let _guard = match &key {
            Some(key) => match ctx.locks.lock(key, &started.correlation).await {
                Ok(guard) => Some(guard),
                Err(locks::LockError::Busy { by, .. }) => {
                    tracing::debug!(correlation = %started.correlation, %by, "still running elsewhere; not reconciled");
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            },
            None => None,
        };
        // Under the lock: another replica may have closed it (or the command ended) meanwhile.
        let still_open = ctx
            .audit
            .unfinished()
            .await?
            .iter()
            .any(|r| r.correlation == started.correlation);
        if !still_open {
            continue;
        }
        let found = match inspect(ctx, &started).await {
            Ok(found) => found,
            Err(e) => format!("could not read the workload: {e}"),
        };
        let detail = serde_json::json!({"reconciled": true, "found": found});
        let event = started.follow_up(Phase::Interrupted.as_str(), detail);
        ctx.audit.record_raw(event).await?;
        tell_channel_interrupted(ctx, &started, &found).await;
        if let Some(action) = started
            .action
            .as_deref()
            .and_then(|a| Action::parse(a).ok())
        {
            ctx.count_phase(action, Phase::Interrupted);
        }
        tracing::warn!(correlation = %started.correlation, command = %started.command_text, found = %found, "closed an interrupted command");
        closed.push(Reconciled {
            correlation: started.correlation,
            command_text: started.command_text,
            found,
        });
    }
    Ok(closed)
}

async fn inspect(ctx: &Context, started: &crate::audit::Record) -> Result<String, String> {
    let (Some(cluster), Some(ns), Some(kind), Some(name)) = (
        &started.cluster,
        &started.namespace,
        &started.kind,
        &started.name,
    ) else {
        return Err("the started event does not name a workload".into());
    };
    let cluster = crate::names::ClusterName::parse(cluster).map_err(|e| e.to_string())?;
    let kind = command::Kind::parse(kind).map_err(|e| e.to_string())?;
    let client = ctx.clusters.client(&cluster).map_err(|e| e.to_string())?;
    let workload = cluster::Workload::get(client, kind, ns, name)
        .await
        .map_err(|e| e.to_string())?;
    let state = cluster::rollout_state(&workload);
    let snapshot = cluster::snapshot(client, ns, &workload)
        .await
        .map_err(|e| e.to_string())?;
    let images: Vec<String> = snapshot
        .images
        .iter()
        .map(|(c, i)| format!("{c}={i}"))
        .collect();
    Ok(format!(
        "{} (revision {}, images {})",
        state.message,
        snapshot
            .revision
            .map(|r| r.to_string())
            .unwrap_or_else(|| "unknown".into()),
        images.join(", ")
    ))
}

/// One line for a change: what was done to what, from which revision and images to which.
pub fn describe(change: &Change) -> String {
    if change.unchanged {
        // kubectl: `deployment.apps/web skipped rollback (current template already matches
        // revision 3)`. No warning: nothing was rolled back for an apply to undo.
        return format!(
            "{}/{} in {}: skipped rollback (current template already matches revision {})",
            change.kind,
            change.name,
            change.namespace,
            change.to_revision.unwrap_or_default()
        );
    }
    let what = match (change.to_revision, change.annotations_set.is_empty()) {
        (Some(r), _) => format!(
            "rolled back {}/{} to revision {r}",
            change.kind, change.name
        ),
        (None, false) => format!("restarted {}/{}", change.kind, change.name),
        (None, true) => format!("set the images of {}/{}", change.kind, change.name),
    };
    let what = if change.dry_run {
        what.replacen("restarted", "would restart", 1)
            .replacen("rolled back", "would roll back", 1)
            .replacen("set the images", "would set the images", 1)
    } else {
        what
    };
    let revisions = match (change.before.revision, change.after.revision) {
        (Some(a), Some(b)) => format!(", revision {a} → {b}"),
        _ => String::new(),
    };
    let images = change.image_changes();
    let images = if images.is_empty() {
        String::new()
    } else {
        format!(", {}", images.join(", "))
    };
    let annotations: Vec<String> = change
        .annotations_set
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let annotations = if annotations.is_empty() {
        String::new()
    } else {
        format!(", sets {}", annotations.join(", "))
    };
    let warnings: String = change
        .warnings
        .iter()
        .map(|w| format!("; warning: {w}"))
        .collect();
    format!(
        "{what} in {}{revisions}{images}{annotations}{warnings}",
        change.namespace
    )
}

/// Maps a cluster error to an outcome: a workload problem is the user's to fix (2), an API
/// refusal means the action failed (1), an unreachable cluster is unavailable (5).
fn cluster_outcome(e: cluster::Error) -> Outcome {
    let message = e.to_string();
    if e.is_rejection() {
        Outcome::ActionFailed { message }
    } else if e.is_infrastructure() {
        Outcome::Unavailable { message }
    } else {
        Outcome::BadInput { message }
    }
}
