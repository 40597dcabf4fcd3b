//! What can go wrong on the Kubernetes side, each with what the user can do about it.

use crate::command::Kind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to cluster `{cluster}`: {reason}")]
    Connect { cluster: String, reason: String },

    #[error(
        "the Kubernetes API failed while {doing}: {source}; check that the cluster is reachable and pitcrew's account may do this"
    )]
    Api {
        doing: String,
        #[source]
        source: kube::Error,
    },

    /// A 403: pitcrew's own Kubernetes identity lacks a permission. Not the user's fault.
    #[error(
        "pitcrew's Kubernetes account may not do this ({doing}): {message}. Nothing was changed; the platform team must grant it (deploy/rbac.yaml lists what pitcrew needs, bound with a RoleBinding in each namespace it manages; with the Helm chart, add the namespace to rbac.namespaces)"
    )]
    Forbidden { doing: String, message: String },

    /// Resuming an Argo CD Application pitcrew did not suspend: the automated sync policy to
    /// put back (prune, selfHeal) is not known.
    #[error(
        "pitcrew holds no suspension of application/{name}, so it does not know which automated sync policy (prune, selfHeal) to put back; turn automated sync on in Argo CD or in Git. Nothing was changed"
    )]
    NothingToRestore { name: String },

    /// A workload action asked of a GitOps object (the parser refuses these; kept so no
    /// match on a kind needs a panic).
    #[error(
        "{kind}/{name} is not a workload: pitcrew restarts, rolls back, scales and follows Deployments, StatefulSets and DaemonSets"
    )]
    NotAWorkload { kind: Kind, name: String },

    #[error("{kind} `{name}` was not found in namespace `{namespace}`{suggestion}")]
    NotFound {
        kind: Kind,
        name: String,
        namespace: String,
        suggestion: String,
    },

    #[error(
        "can't restart paused deployment `{name}`: resume it first (`resume deployment/{name}`, as `kubectl rollout resume` would)"
    )]
    PausedRestart { name: String },

    #[error("{name} is a DaemonSet, which runs one pod per node and cannot be scaled")]
    NotScalable { name: String },

    /// A count the workload's autoscaler would undo.
    #[error(
        "{kind}/{name} is kept between {min} and {max} replicas by HorizontalPodAutoscaler `{autoscaler}`, which would undo {replicas}; scale within those bounds, or add --hpa to move the autoscaler's bounds instead"
    )]
    OutsideAutoscaler {
        kind: Kind,
        name: String,
        replicas: i32,
        autoscaler: String,
        min: i32,
        max: i32,
    },

    #[error(
        "--hpa changes the autoscaler of {kind}/{name}, and no HorizontalPodAutoscaler targets it; scale without --hpa"
    )]
    NoAutoscaler { kind: Kind, name: String },

    /// `pause` of a paused Deployment, `resume` of one that is not: kubectl refuses both.
    #[error("deployment `{name}` is {}", if *paused { "already paused" } else { "not paused" })]
    PausedAlready { name: String, paused: bool },

    /// kubectl's refusal when the restart stamp (seconds) would not change: the patch would be
    /// empty and nothing would restart.
    #[error(
        "{kind}/{name} was already restarted within this second (restartedAt {stamp}), so restarting it again now would change nothing; wait a second and try again"
    )]
    RestartedThisSecond {
        kind: crate::command::Kind,
        name: String,
        stamp: String,
    },

    #[error(
        "you cannot roll back paused deployment `{name}`; resume it first (`resume deployment/{name}`, as `kubectl rollout resume` would) and try again"
    )]
    PausedRollback { name: String },

    #[error("{kind} `{name}` has no earlier revision to roll back to")]
    NoHistory { kind: Kind, name: String },

    #[error(
        "revision {revision} of {kind} `{name}` is not in its history (revisions: {available}); see `history`"
    )]
    RevisionNotFound {
        kind: Kind,
        name: String,
        revision: i64,
        available: String,
    },

    #[error(
        "the object returned by the API is incomplete ({what}); this is a bug or an unusual API server, please report it"
    )]
    Malformed { what: String },
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Connect { .. } => "connect",
            Error::Api { .. } => "api",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::PausedRestart { .. } | Error::PausedRollback { .. } => "paused",
            Error::PausedAlready { .. } => "paused_already",
            Error::NotScalable { .. } => "not_scalable",
            Error::NotAWorkload { .. } => "not_a_workload",
            Error::NothingToRestore { .. } => "nothing_to_restore",
            Error::OutsideAutoscaler { .. } => "outside_autoscaler",
            Error::NoAutoscaler { .. } => "no_autoscaler",
            Error::RestartedThisSecond { .. } => "restarted_this_second",
            Error::NoHistory { .. } => "no_history",
            Error::RevisionNotFound { .. } => "revision_not_found",
            Error::Malformed { .. } => "malformed",
        }
    }

    /// Whether the cluster could not be reached or answered with an error (infrastructure),
    /// as opposed to a refusal about the workload itself.
    pub fn is_infrastructure(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. } | Error::Api { .. } | Error::Malformed { .. }
        ) && !self.is_rejection()
    }

    /// Whether the API server answered and refused the request (4xx other than 429: invalid,
    /// forbidden, conflict, an admission webhook's denial): the action was tried and failed.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Error::Forbidden { .. })
            || matches!(self, Error::Api { source: kube::Error::Api(status), .. } if (400..500).contains(&status.code) && status.code != 429)
    }

    pub(crate) fn api(doing: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let doing = doing.into();
        move |source| match source {
            kube::Error::Api(status) if status.code == 403 => Error::Forbidden {
                doing,
                message: status.message.clone(),
            },
            source => Error::Api { doing, source },
        }
    }
}
