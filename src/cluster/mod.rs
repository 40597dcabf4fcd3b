//! Kubernetes: one client per configured cluster, and the actions with exactly kubectl's
//! semantics (`kubectl rollout restart|undo|status|history`), through typed kube-rs calls.
//!
//! Architecture invariant: only this module imports `kube` and `k8s_openapi`; the rest of
//! pitcrew sees [`Workload`], [`Change`] and [`RolloutState`].

mod argo;
mod argo_state;
mod connect;
mod drift;
mod error;
mod follow;
mod gitops;
mod history;
mod objects;
mod pause;
mod promote;
mod restart;
mod rollback;
mod scale;
mod status;
mod workloads;

pub use connect::{Clusters, Impersonation, Reachability, Unreachable, client_with_nodelay};
pub use drift::{Revisioned, revisions_since};
pub use error::Error;
pub use follow::{Followed, follow, follow_with_watch_timeout};
pub use gitops::{GitopsRef, Reconciliation, SUSPENDED_BY, SUSPENDED_UNTIL, manager_of};
pub use history::{Revision, history};
pub use objects::{Snapshot, Workload};
pub use pause::set_paused;
pub use promote::{GitopsAllowed, Mismatch, Side, promote};
pub use restart::{RESTARTED_AT, restart};
pub use rollback::rollback;
pub use scale::{Autoscaler, autoscaler_of, scale};
pub use status::{RolloutState, rollout_state, snapshot};
pub use workloads::{Location, Progress, Promotion, Workloads};

use crate::command::Kind;

/// A connection to one cluster (kube's client, named here so that only this module imports kube).
pub type Client = kube::Client;

/// The field manager pitcrew's patches carry, so `managedFields` shows who changed what.
pub const FIELD_MANAGER: &str = "pitcrew";

/// Patch parameters for every change pitcrew makes: its field manager, and the server-side
/// dry run when asked.
pub(crate) fn patch_params(dry_run: bool) -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run,
        ..kube::api::PatchParams::default()
    }
}

/// What a mutating action did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// What was done (the words of `describe`).
    pub operation: Operation,
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub dry_run: bool,
    pub before: Snapshot,
    pub after: Snapshot,
    /// Pod-template annotations that the action set (restart: `restartedAt`).
    pub annotations_set: Vec<(String, String)>,
    /// The revision the workload was rolled back to (rollback only).
    pub to_revision: Option<i64>,
    /// Nothing to do: the workload already runs the template asked for (a rollback to the
    /// revision already running, which kubectl reports as "skipped rollback"). Nothing was
    /// patched; `after` is `before`.
    pub unchanged: bool,
    /// What the person about to make this change should know (as kubectl warns on stderr):
    /// a `kubectl apply`-managed workload whose next apply will undo a rollback.
    pub warnings: Vec<String>,
    /// The Argo CD Application or Flux object that manages the workload, from its marks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<GitopsRef>,
}

/// What a [`Change`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Restart,
    Rollback,
    /// Set the images (promote).
    SetImages,
    Pause,
    Resume,
    /// The workload's replica count, `from` → `to`.
    Scale {
        from: i32,
        to: i32,
    },
    /// Its HorizontalPodAutoscaler's bounds, each (before, after).
    ScaleAutoscaler {
        autoscaler: String,
        min: (i32, i32),
        max: (i32, i32),
    },
    /// A GitOps object's reconciliation suspended until a deadline (`gitops suspend`).
    SuspendReconciliation {
        until: chrono::DateTime<chrono::Utc>,
    },
    /// A GitOps object's reconciliation resumed (`gitops resume`, or the deadline).
    ResumeReconciliation,
    /// An Argo Rollout moved through its steps (`advance`, `abort`, `retry`).
    Step {
        verb: crate::command::StepVerb,
    },
}

/// The annotation `kubectl rollout history` shows as each revision's CHANGE-CAUSE. pitcrew sets
/// it on every change that makes a revision (restart, rollback, promote) to name the command,
/// its requester and its audit id, so the history says who and why and `audit drift` can tell
/// pitcrew's revisions from changes made around it.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// `{"metadata": {"annotations": {change-cause}}}` merged into a patch body, when there is a
/// cause to record.
pub(crate) fn with_cause(mut patch: serde_json::Value, cause: Option<&str>) -> serde_json::Value {
    if let (Some(cause), Some(body)) = (cause, patch.as_object_mut()) {
        body.insert(
            "metadata".into(),
            serde_json::json!({"annotations": {CHANGE_CAUSE: cause}}),
        );
    }
    patch
}

/// The annotation `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// kubectl's warning when rolling back a workload that `kubectl apply` manages
/// (k8s.io/kubectl/pkg/cmd/rollout/rollout_undo.go), in pitcrew's words: the rollback does not
/// touch the last-applied annotation, so the next `kubectl apply` of the old file brings the
/// bad template back.
pub fn apply_managed_warning(kind: Kind, name: &str) -> String {
    format!(
        "{kind}/{name} was previously managed with `kubectl apply`: rolling back does not update its {LAST_APPLIED} annotation, so the next `kubectl apply` of the old configuration file will undo this rollback; change the configuration in its repository too"
    )
}

impl Change {
    /// "images before → after" lines, one per container whose image changes.
    pub fn image_changes(&self) -> Vec<String> {
        self.after
            .images
            .iter()
            .filter_map(|(container, after)| {
                let before = self
                    .before
                    .images
                    .iter()
                    .find(|(c, _)| c == container)
                    .map(|(_, i)| i.as_str());
                (before != Some(after.as_str())).then(|| {
                    format!(
                        "{container}: {} → {after}",
                        before.unwrap_or("(new container)")
                    )
                })
            })
            .collect()
    }
}
