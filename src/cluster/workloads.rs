//! What the workflow asks of Kubernetes, as one trait: every action and read by cluster name
//! and workload. [`Clusters`] implements it with kube; the workflow's unit tests implement it
//! in memory, so the gate sequence is tested without an API server.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{
    Change, Clusters, Error, Followed, GitopsAllowed, Impersonation, Mismatch, Reachability,
    Reconciliation, Revision, RolloutState, Side, Snapshot, Workload,
};
use crate::command::Kind;
use crate::names::ClusterName;

/// One workload on one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub cluster: ClusterName,
    pub namespace: String,
    pub kind: Kind,
    pub name: String,
    /// Whom the requests act as (impersonation); `None`: pitcrew's own identity.
    pub as_user: Option<Impersonation>,
    /// The change-cause a change that makes a revision records (`kubernetes.io/change-cause`:
    /// the command, its requester, its audit id); `None` for reads.
    pub cause: Option<String>,
}

/// A promotion: `name` (of `kinds`) from the source's namespaces into the destination's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub from: (ClusterName, Vec<String>),
    pub to: (ClusterName, Vec<String>),
    pub kinds: Vec<Kind>,
    pub name: String,
    /// Which GitOps-managed workloads it may change.
    pub gitops: GitopsAllowed,
    /// Whom the destination's requests act as.
    pub as_user: Option<Impersonation>,
    /// Whom the source's reads act as.
    pub from_as_user: Option<Impersonation>,
    /// The change-cause the destination's workloads record.
    pub cause: Option<String>,
}

/// Called with each new rollout state while a rollout is followed.
pub type Progress<'a> = &'a (dyn Fn(&RolloutState) + Send + Sync);

/// Kubernetes as the workflow sees it.
pub trait Workloads: Send + Sync {
    /// Whether `cluster` has a client (it is configured and connected).
    fn connected(&self, cluster: &ClusterName) -> Result<(), Error>;

    /// `kubectl rollout restart` (with `dry_run`, the server-side dry run of the same patch).
    fn restart<'a>(
        &'a self,
        at: &'a Location,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// `kubectl rollout undo [--to-revision]`.
    fn rollback<'a>(
        &'a self,
        at: &'a Location,
        to_revision: Option<i64>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// `kubectl scale --replicas`, or with `hpa` its autoscaler's bounds.
    fn scale<'a>(
        &'a self,
        at: &'a Location,
        replicas: i32,
        hpa: bool,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// `kubectl rollout pause` (`paused`) or `kubectl rollout resume` of a Deployment.
    fn set_paused<'a>(
        &'a self,
        at: &'a Location,
        paused: bool,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// An Argo Rollout's step: `kubectl argo rollouts promote [--full]`, `abort`, `retry`.
    fn rollout_step<'a>(
        &'a self,
        at: &'a Location,
        verb: crate::command::StepVerb,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// How a GitOps object (`at.kind` an Application, Kustomization or HelmRelease)
    /// reconciles now.
    fn gitops_read<'a>(&'a self, at: &'a Location) -> BoxFuture<'a, Result<Reconciliation, Error>>;

    /// Suspends its reconciliation until `until`, if `seen` is still how it reconciles.
    fn gitops_suspend<'a>(
        &'a self,
        at: &'a Location,
        seen: &'a Reconciliation,
        until: DateTime<Utc>,
        by: &'a str,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// Resumes its reconciliation, putting `restore` back (Argo CD's automated sync policy).
    fn gitops_resume<'a>(
        &'a self,
        at: &'a Location,
        restore: &'a serde_json::Value,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>>;

    /// Sets the destination's images to the source's; one change per workload that differs.
    fn promote<'a>(
        &'a self,
        promotion: &'a Promotion,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Result<Vec<Change>, Mismatch>, Error>>;

    /// Watches a rollout until it completes, fails, times out or `cancel` resolves.
    fn follow<'a>(
        &'a self,
        at: &'a Location,
        timeout: Duration,
        cancel: BoxFuture<'a, ()>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<Followed, Error>>;

    /// The rollout state and the revision and images running now (`status`, reconciliation).
    fn status<'a>(
        &'a self,
        at: &'a Location,
    ) -> BoxFuture<'a, Result<(RolloutState, Snapshot), Error>>;

    /// The workload's revisions, oldest first (`history`).
    fn history<'a>(&'a self, at: &'a Location) -> BoxFuture<'a, Result<Vec<Revision>, Error>>;

    /// Every revision of `namespace`'s workloads made since `since` (`audit drift`).
    fn revisions_since<'a>(
        &'a self,
        cluster: &'a ClusterName,
        namespace: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<super::Revisioned>, Error>>;

    /// Every cluster's API server version, or why it cannot be reached (`/readyz`).
    fn reachability(&self, timeout: Duration) -> BoxFuture<'_, Reachability>;
}

impl Workloads for Clusters {
    fn connected(&self, cluster: &ClusterName) -> Result<(), Error> {
        self.client(cluster).map(|_| ())
    }

    fn restart<'a>(
        &'a self,
        at: &'a Location,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            if at.kind == Kind::Rollout {
                return super::argo::restart(client, &at.namespace, &at.name, now, dry_run).await;
            }
            super::restart(
                client,
                &at.namespace,
                at.kind,
                &at.name,
                now,
                dry_run,
                at.cause.as_deref(),
            )
            .await
        })
    }

    fn rollback<'a>(
        &'a self,
        at: &'a Location,
        to_revision: Option<i64>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            if at.kind == Kind::Rollout {
                return super::argo::undo(client, &at.namespace, &at.name, to_revision, dry_run)
                    .await;
            }
            super::rollback(
                client,
                &at.namespace,
                at.kind,
                &at.name,
                to_revision,
                dry_run,
                at.cause.as_deref(),
            )
            .await
        })
    }

    fn scale<'a>(
        &'a self,
        at: &'a Location,
        replicas: i32,
        hpa: bool,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            super::scale(
                client,
                &at.namespace,
                at.kind,
                &at.name,
                replicas,
                hpa,
                dry_run,
            )
            .await
        })
    }

    fn set_paused<'a>(
        &'a self,
        at: &'a Location,
        paused: bool,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            if at.kind == Kind::Rollout {
                return super::argo::set_paused(client, &at.namespace, &at.name, paused, dry_run)
                    .await;
            }
            super::set_paused(client, &at.namespace, &at.name, paused, dry_run).await
        })
    }

    fn rollout_step<'a>(
        &'a self,
        at: &'a Location,
        verb: crate::command::StepVerb,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            super::argo::step(client, &at.namespace, &at.name, verb, dry_run).await
        })
    }

    fn gitops_read<'a>(&'a self, at: &'a Location) -> BoxFuture<'a, Result<Reconciliation, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            super::gitops::read_reconciliation(client, at.kind, &at.namespace, &at.name).await
        })
    }

    fn gitops_suspend<'a>(
        &'a self,
        at: &'a Location,
        seen: &'a Reconciliation,
        until: DateTime<Utc>,
        by: &'a str,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            super::gitops::suspend(
                client,
                at.kind,
                &at.namespace,
                &at.name,
                seen,
                until,
                by,
                dry_run,
            )
            .await
        })
    }

    fn gitops_resume<'a>(
        &'a self,
        at: &'a Location,
        restore: &'a serde_json::Value,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            super::gitops::resume(client, at.kind, &at.namespace, &at.name, restore, dry_run).await
        })
    }

    fn promote<'a>(
        &'a self,
        p: &'a Promotion,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Result<Vec<Change>, Mismatch>, Error>> {
        Box::pin(async move {
            let source = Side {
                client: &self.client_as(&p.from.0, p.from_as_user.as_ref())?,
                namespaces: p.from.1.clone(),
            };
            let destination = Side {
                client: &self.client_as(&p.to.0, p.as_user.as_ref())?,
                namespaces: p.to.1.clone(),
            };
            super::promote(
                &source,
                &destination,
                &p.kinds,
                &p.name,
                &p.gitops,
                dry_run,
                p.cause.as_deref(),
            )
            .await
        })
    }

    fn follow<'a>(
        &'a self,
        at: &'a Location,
        timeout: Duration,
        cancel: BoxFuture<'a, ()>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<Followed, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            if at.kind == Kind::Rollout {
                return super::argo_state::follow(
                    client,
                    &at.namespace,
                    &at.name,
                    timeout,
                    cancel,
                    progress,
                )
                .await;
            }
            super::follow(
                client,
                &at.namespace,
                at.kind,
                &at.name,
                timeout,
                cancel,
                progress,
            )
            .await
        })
    }

    fn status<'a>(
        &'a self,
        at: &'a Location,
    ) -> BoxFuture<'a, Result<(RolloutState, Snapshot), Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            if at.kind == Kind::Rollout {
                return super::argo_state::status(client, &at.namespace, &at.name).await;
            }
            let workload = Workload::get(client, at.kind, &at.namespace, &at.name).await?;
            let state = super::rollout_state(&workload);
            let snapshot = super::snapshot(client, &at.namespace, &workload).await?;
            Ok((state, snapshot))
        })
    }

    fn revisions_since<'a>(
        &'a self,
        cluster: &'a ClusterName,
        namespace: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<super::Revisioned>, Error>> {
        Box::pin(async move {
            let client = self.client(cluster)?;
            super::revisions_since(client, namespace, since).await
        })
    }

    fn history<'a>(&'a self, at: &'a Location) -> BoxFuture<'a, Result<Vec<Revision>, Error>> {
        Box::pin(async move {
            let client = &self.client_as(&at.cluster, at.as_user.as_ref())?;
            if at.kind == Kind::Rollout {
                return super::argo_state::history(client, &at.namespace, &at.name).await;
            }
            let workload = Workload::get(client, at.kind, &at.namespace, &at.name).await?;
            super::history(client, &at.namespace, &workload).await
        })
    }

    fn reachability(&self, timeout: Duration) -> BoxFuture<'_, Reachability> {
        Box::pin(Clusters::reachability(self, timeout))
    }
}
