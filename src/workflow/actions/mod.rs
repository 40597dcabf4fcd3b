//! The changing actions, one file each (mirroring `crates/command/src/command/`). Each says
//! where it acts, what the policy must allow, how it changes the cluster, and how its outcome
//! reads; the gate sequence every one of them goes through is written once, in `change.rs`.
//!
//! Adding a changing action: a command file in `crates/command`, a file here implementing
//! [`ChangeAction`], its Kubernetes side in `src/cluster/` (a [`Workloads`] method), and a
//! line in [`for_command`]. See ARCHITECTURE.md, "Adding an action".
//!
//! [`Workloads`]: crate::cluster::Workloads

mod gitops;
mod pause;
mod promote;
mod restart;
mod rollback;
mod scale;
mod step;

use futures::future::BoxFuture;

use super::{Context, Outcome, describe};
use crate::cluster::{self, Change, Followed};
use crate::command::{Action, Command, Justification, Target};
use crate::names::ClusterName;
use crate::resolve::Place;

/// Where a change acts, resolved from the configuration.
pub(super) struct Scope<'c> {
    /// The environment changed: what the justification is checked for, and the audit events,
    /// the confirmation and the lock name.
    pub place: Place<'c>,
    /// Whether the change stays in `place.namespace` (restart, rollback) or spans the
    /// environment's namespaces (promote): the audit events and the lock key say which.
    pub one_namespace: bool,
    /// Every (action, place) the policy must allow, in order.
    pub checks: Vec<(Action, Place<'c>)>,
    /// Every cluster the change reads or writes.
    pub clusters: Vec<ClusterName>,
    /// What the `requested` event records besides the command.
    pub requested: serde_json::Map<String, serde_json::Value>,
    /// Whom the change's Kubernetes requests act as (environments with `impersonate`), set
    /// by the gate sequence once the requester is authorized.
    pub as_user: Option<cluster::Impersonation>,
    /// Whom a promote's reads of its source environment act as (when that one impersonates).
    pub source_as_user: Option<cluster::Impersonation>,
    /// Who asked, set by the gate sequence (what an action records about its requester
    /// outside the audit trail: a GitOps suspension's deadline row and annotation).
    pub by: Option<Requester>,
}

/// Who asked for a change, and under which audit correlation id.
#[derive(Debug, Clone)]
pub(super) struct Requester {
    pub actor: String,
    pub correlation: String,
    pub channel: Option<String>,
    /// The command's canonical text.
    pub command: String,
}

impl Requester {
    /// What a revision this change makes records as its `kubernetes.io/change-cause`.
    pub fn cause(&self) -> String {
        format!(
            "pitcrew: {} (by {}, audit id {})",
            self.command, self.actor, self.correlation
        )
    }
}

impl<'c> Scope<'c> {
    /// The environment a change reads from besides the one it changes: a promote's source
    /// (the places `status` is checked on); `None` for the other actions.
    pub fn source(&self) -> Option<&Place<'c>> {
        self.checks
            .iter()
            .find(|(action, _)| *action == Action::Status)
            .map(|(_, place)| place)
    }
}

/// Why acting did not produce changes.
pub(super) enum ActError {
    /// Kubernetes refused or could not be reached.
    Cluster(cluster::Error),
    /// The change does not fit what the cluster holds (a promote's source and destination
    /// differ); nothing was changed. Recorded as `cancelled`.
    Mismatch(String),
}

impl From<cluster::Error> for ActError {
    fn from(e: cluster::Error) -> ActError {
        ActError::Cluster(e)
    }
}

/// What every changing command asks for besides its action.
pub(super) struct Asked<'c> {
    /// The workload the policy, the audit trail and the lock name.
    pub target: Target,
    pub justification: Option<&'c Justification>,
    pub dry_run: bool,
}

impl<'c> Asked<'c> {
    /// What a command on one workload asks: its target, justification and dry-run switch.
    pub fn of(
        target: &Target,
        justification: &'c Option<Justification>,
        dry_run: bool,
    ) -> Asked<'c> {
        Asked {
            target: target.clone(),
            justification: justification.as_ref(),
            dry_run,
        }
    }
}

/// One changing action.
pub(super) trait ChangeAction: Send + Sync {
    fn action(&self) -> Action;

    fn asked(&self) -> Asked<'_>;

    /// Where it acts; a name the configuration does not know is the user's to fix.
    fn scope<'c>(&self, ctx: &'c Context) -> Result<Scope<'c>, Outcome>;

    /// The change it makes, or with `dry_run` what it would make (the server-side dry run).
    fn act<'a>(
        &'a self,
        ctx: &'a Context,
        scope: &'a Scope<'a>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<Change>, ActError>>;

    /// The answer when there is nothing to change (a promote whose images already match).
    fn nothing_to_do(&self, scope: &Scope<'_>) -> String;

    /// How the change ended, from each change's followed rollout.
    fn finished(
        &self,
        scope: &Scope<'_>,
        followed: &[(Change, Result<Followed, cluster::Error>)],
        seconds: f64,
    ) -> (crate::command::Phase, Outcome);

    /// Whether its changes start a rollout to follow (a pause starts none).
    fn follows(&self) -> bool {
        true
    }

    /// What happens next after a change that is not followed (who or what acts on it).
    fn afterwards(&self, _scope: &Scope<'_>) -> Option<String> {
        None
    }

    /// How a change that is not followed ended: done, in the words of each change, then what
    /// happens next.
    fn finished_at_once(
        &self,
        scope: &Scope<'_>,
        changes: &[Change],
    ) -> (crate::command::Phase, Outcome) {
        let mut words: Vec<String> = changes.iter().map(describe).collect();
        words.extend(self.afterwards(scope));
        (
            crate::command::Phase::Succeeded,
            Outcome::Done {
                message: words.join("; "),
            },
        )
    }

    /// Whether the audit records the changes as a list (`changes`) or one (`change`).
    fn many_workloads(&self) -> bool {
        false
    }
}

/// The action behind a changing command; `None` for read-only commands.
pub(super) fn for_command(command: &Command) -> Option<Box<dyn ChangeAction + '_>> {
    match command {
        Command::Restart(c) => Some(Box::new(restart::RestartAction(c))),
        Command::Rollback(c) => Some(Box::new(rollback::RollbackAction(c))),
        Command::Promote(c) => Some(Box::new(promote::PromoteAction(c))),
        Command::Scale(c) => Some(Box::new(scale::ScaleAction(c))),
        Command::Pause(c) => Some(Box::new(pause::PauseAction(c))),
        Command::Gitops(c) => Some(Box::new(gitops::GitopsAction(c))),
        Command::Step(c) => Some(Box::new(step::StepAction(c))),
        Command::Freeze(_)
        | Command::Unfreeze(_)
        | Command::Status(_)
        | Command::History(_)
        | Command::CanI(_)
        | Command::Audit(_)
        | Command::Help(_) => None,
    }
}

/// The scope of a change to one workload in one namespace (restart, rollback).
fn one_workload<'c>(
    ctx: &'c Context,
    action: Action,
    scope: &crate::command::Scope,
) -> Result<Scope<'c>, Outcome> {
    let place = crate::resolve::place(&ctx.config, scope.env.as_ref(), scope.namespace.as_ref())
        .map_err(|e| Outcome::BadInput {
            message: e.to_string(),
        })?;
    Ok(scope_at(place, action))
}

/// The scope of a change to one object at `place`.
fn scope_at(place: crate::resolve::Place<'_>, action: Action) -> Scope<'_> {
    let mut requested = serde_json::Map::new();
    requested.insert("env".into(), serde_json::json!(place.env));
    requested.insert("cluster".into(), serde_json::json!(place.cluster));
    requested.insert("namespace".into(), serde_json::json!(place.namespace));
    Scope {
        checks: vec![(action, place.clone())],
        clusters: vec![place.cluster.clone()],
        place,
        one_namespace: true,
        requested,
        as_user: None,
        source_as_user: None,
        by: None,
    }
}

/// The GitOps objects whose reconciliation pitcrew holds suspended in `env` now. A database
/// that cannot be read gives none, so GitOps-managed workloads stay refused (fail closed).
async fn suspended_managers(ctx: &Context, env: &crate::names::EnvName) -> Vec<cluster::GitopsRef> {
    let Some(db) = &ctx.db else {
        return Vec::new();
    };
    match crate::gitops::Suspensions::new(db.clone())
        .open_in(env)
        .await
    {
        Ok(open) => open
            .into_iter()
            .filter(|s| s.until > chrono::Utc::now())
            .map(|s| cluster::GitopsRef {
                kind: s.kind,
                name: s.name,
                namespace: Some(s.namespace),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, %env, "cannot read GitOps suspensions; GitOps-managed workloads stay refused");
            Vec::new()
        }
    }
}

/// Where one workload is, for the cluster side.
fn location(scope: &Scope<'_>, target: &Target) -> cluster::Location {
    cluster::Location {
        cluster: scope.place.cluster.clone(),
        namespace: scope.place.namespace.to_string(),
        kind: target.kind,
        name: target.name.to_string(),
        as_user: scope.as_user.clone(),
        cause: scope.by.as_ref().map(Requester::cause),
    }
}

/// How a change to one workload ended (restart, rollback). A failed rollout names the
/// rollback that undoes it (`undo`), which a Roll back button in Slack runs.
fn one_workload_finished(
    scope: &Scope<'_>,
    target: &Target,
    followed: &[(Change, Result<Followed, cluster::Error>)],
    seconds: f64,
    undo: impl FnOnce(Option<i64>) -> Command,
) -> (crate::command::Phase, Outcome) {
    use crate::command::Phase;
    let env = &scope.place.env;
    let Some((change, result)) = followed.first() else {
        return (
            Phase::Failed,
            Outcome::failed("the change returned nothing to follow".into()),
        );
    };
    match result {
        Ok(Followed::Complete { state }) => (
            Phase::Succeeded,
            Outcome::Done {
                message: format!("{}; {} ({seconds:.1} s)", describe(change), state.message),
            },
        ),
        Ok(Followed::Failed { state }) => {
            let undo = undo(change.before.revision);
            (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!(
                        "{}, but the rollout failed: {}; {} with `{undo}`",
                        describe(change),
                        state.failed.clone().unwrap_or(state.message.clone()),
                        undo_words(&undo),
                    ),
                    undo: Some(Box::new(undo)),
                },
            )
        }
        Ok(Followed::TimedOut {
            state,
            after_seconds,
        }) => (
            Phase::Failed,
            Outcome::failed(format!(
                "{}, but the rollout did not finish within {after_seconds} s{}; check `status {target} -e {env}`",
                describe(change),
                state
                    .as_ref()
                    .map(|s| format!(" ({})", s.message))
                    .unwrap_or_default(),
            )),
        ),
        Ok(Followed::Cancelled { .. }) => (
            Phase::Interrupted,
            Outcome::failed(format!(
                "{}; stopped following the rollout, which goes on in the cluster; check `status {target} -e {env}`",
                describe(change),
            )),
        ),
        Err(e) => (Phase::Failed, super::cluster_outcome(e)),
    }
}

/// How the command that undoes a change is offered: a scale is scaled back, anything else
/// rolled back.
fn undo_words(undo: &Command) -> &'static str {
    match undo {
        Command::Scale(_) => "scale back",
        Command::Step(_) => "go back to the stable version",
        _ => "roll back",
    }
}

/// The rollback that undoes a change to `target` (to the revision it ran before).
fn undo_rollback(
    target: &Target,
    scope: &Scope<'_>,
    namespace: Option<crate::names::NamespaceName>,
    before: Option<i64>,
) -> Command {
    Command::Rollback(crate::command::Rollback {
        target: target.clone(),
        scope: crate::command::Scope {
            env: Some(scope.place.env.clone()),
            namespace,
        },
        to_revision: before
            .and_then(|r| u64::try_from(r).ok())
            .and_then(std::num::NonZeroU64::new),
        justification: None,
        dry_run: false,
    })
}
