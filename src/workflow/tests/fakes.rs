//! In-memory stand-ins for what the workflow talks to: Kubernetes (`Workloads`), PagerDuty/Jira
//! (`Justifier`) and the audit trail (`AuditSink`), so the gate sequence is tested without a
//! cluster or a database.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::audit::{Error as AuditError, Filter, NewEvent, Record};
use crate::cluster::{
    self, Change, Followed, Location, Mismatch, Progress, Promotion, Reachability, Revision,
    RolloutState, Snapshot, Workloads,
};
use crate::command::{Kind, Phase, Reason};
use crate::config::Environment;
use crate::justify::{Justifier, Verification};
use crate::names::{ClusterName, EnvName};
use crate::workflow::gates::{AuditEvent, AuditSink};

/// A cluster holding one workload at revision `revision`, whose rollouts end as `ends`.
pub struct FakeCluster {
    /// Every change asked for, as `(what, dry_run)`.
    pub calls: Mutex<Vec<(String, bool)>>,
    pub revision: Mutex<i64>,
    pub ends: Mutex<Ending>,
    /// Acting fails with this API refusal.
    pub refuse: Mutex<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Complete,
    Failed,
    TimedOut,
    Cancelled,
}

impl FakeCluster {
    pub fn new() -> Arc<FakeCluster> {
        Arc::new(FakeCluster {
            calls: Mutex::default(),
            revision: Mutex::new(3),
            ends: Mutex::new(Ending::Complete),
            refuse: Mutex::default(),
        })
    }

    /// Changes actually made (dry runs aside).
    pub fn changes_made(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls
            .iter()
            .filter(|(_, dry)| !dry)
            .map(|(w, _)| w.clone())
            .collect()
    }

    fn change(&self, at: &Location, dry_run: bool, to_revision: Option<i64>) -> Change {
        let revision = *self.revision.lock().unwrap_or_else(|p| p.into_inner());
        let image = |r: i64| vec![("app".to_string(), format!("shop/{}:{r}", at.name))];
        Change {
            operation: match to_revision {
                Some(_) => cluster::Operation::Rollback,
                None => cluster::Operation::Restart,
            },
            kind: at.kind,
            namespace: at.namespace.clone(),
            name: at.name.clone(),
            dry_run,
            before: Snapshot {
                revision: Some(revision),
                images: image(revision),
            },
            after: Snapshot {
                revision: Some(revision + 1),
                images: image(to_revision.unwrap_or(revision)),
            },
            annotations_set: if to_revision.is_none() {
                vec![(cluster::RESTARTED_AT.into(), "2026-12-04T00:00:00Z".into())]
            } else {
                Vec::new()
            },
            to_revision,
            unchanged: false,
            warnings: Vec::new(),
            managed_by: None,
        }
    }

    fn acted(&self, what: String, dry_run: bool) -> Result<(), cluster::Error> {
        if let Some(message) = self
            .refuse
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(cluster::Error::Connect {
                cluster: "main".into(),
                reason: message,
            });
        }
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((what, dry_run));
        Ok(())
    }
}

fn state(done: bool, failed: Option<&str>) -> RolloutState {
    RolloutState {
        done,
        failed: failed.map(str::to_string),
        message: if done { "rolled out" } else { "waiting" }.into(),
        desired: 2,
        updated: 2,
        ready: 2,
        available: 2,
        conditions: Vec::new(),
    }
}

impl Workloads for FakeCluster {
    fn connected(&self, _: &ClusterName) -> Result<(), cluster::Error> {
        Ok(())
    }

    fn restart<'a>(
        &'a self,
        at: &'a Location,
        _: DateTime<Utc>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("restart {}", at.name), dry_run)?;
            Ok(self.change(at, dry_run, None))
        })
    }

    fn rollback<'a>(
        &'a self,
        at: &'a Location,
        to_revision: Option<i64>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("rollback {}", at.name), dry_run)?;
            Ok(self.change(at, dry_run, Some(to_revision.unwrap_or(1))))
        })
    }

    fn scale<'a>(
        &'a self,
        at: &'a Location,
        replicas: i32,
        _hpa: bool,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("scale {} {replicas}", at.name), dry_run)?;
            let mut change = self.change(at, dry_run, None);
            change.operation = cluster::Operation::Scale {
                from: 1,
                to: replicas,
            };
            change.annotations_set.clear();
            Ok(change)
        })
    }

    fn revisions_since<'a>(
        &'a self,
        _cluster: &'a ClusterName,
        _namespace: &'a str,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<Vec<cluster::Revisioned>, cluster::Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn rollout_step<'a>(
        &'a self,
        at: &'a Location,
        verb: crate::command::StepVerb,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("step {}", at.name), dry_run)?;
            let mut change = self.change(at, dry_run, None);
            change.operation = cluster::Operation::Step { verb };
            change.annotations_set.clear();
            Ok(change)
        })
    }

    fn gitops_read<'a>(
        &'a self,
        at: &'a Location,
    ) -> BoxFuture<'a, Result<cluster::Reconciliation, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("read {}", at.name), true)?;
            Ok(cluster::Reconciliation {
                active: true,
                restore: serde_json::json!({"prune": true}),
                resource_version: "1".into(),
                only_automated: true,
            })
        })
    }

    fn gitops_suspend<'a>(
        &'a self,
        at: &'a Location,
        _seen: &'a cluster::Reconciliation,
        until: chrono::DateTime<chrono::Utc>,
        _by: &'a str,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("suspend {}", at.name), dry_run)?;
            let mut change = self.change(at, dry_run, None);
            change.operation = cluster::Operation::SuspendReconciliation { until };
            change.annotations_set.clear();
            Ok(change)
        })
    }

    fn gitops_resume<'a>(
        &'a self,
        at: &'a Location,
        _restore: &'a serde_json::Value,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("resume reconciliation {}", at.name), dry_run)?;
            let mut change = self.change(at, dry_run, None);
            change.operation = cluster::Operation::ResumeReconciliation;
            change.annotations_set.clear();
            Ok(change)
        })
    }

    fn set_paused<'a>(
        &'a self,
        at: &'a Location,
        paused: bool,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Change, cluster::Error>> {
        Box::pin(async move {
            let verb = if paused { "pause" } else { "resume" };
            self.acted(format!("{verb} {}", at.name), dry_run)?;
            let mut change = self.change(at, dry_run, None);
            change.operation = if paused {
                cluster::Operation::Pause
            } else {
                cluster::Operation::Resume
            };
            change.annotations_set.clear();
            Ok(change)
        })
    }

    fn promote<'a>(
        &'a self,
        p: &'a Promotion,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Result<Vec<Change>, Mismatch>, cluster::Error>> {
        Box::pin(async move {
            self.acted(format!("promote {}", p.name), dry_run)?;
            let at = Location {
                cluster: p.to.0.clone(),
                namespace: p.to.1.first().cloned().unwrap_or_default(),
                kind: Kind::Deployment,
                name: p.name.clone(),
                as_user: None,
                cause: None,
            };
            let mut change = self.change(&at, dry_run, None);
            change.annotations_set.clear();
            Ok(Ok(vec![change]))
        })
    }

    fn follow<'a>(
        &'a self,
        _: &'a Location,
        _: Duration,
        _: BoxFuture<'a, ()>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<Followed, cluster::Error>> {
        Box::pin(async move {
            progress(&state(false, None));
            let ends = *self.ends.lock().unwrap_or_else(|p| p.into_inner());
            Ok(match ends {
                Ending::Complete => Followed::Complete {
                    state: state(true, None),
                },
                Ending::Failed => Followed::Failed {
                    state: state(false, Some("progress deadline exceeded")),
                },
                Ending::TimedOut => Followed::TimedOut {
                    state: Some(state(false, None)),
                    after_seconds: 60,
                },
                Ending::Cancelled => Followed::Cancelled { state: None },
            })
        })
    }

    fn status<'a>(
        &'a self,
        at: &'a Location,
    ) -> BoxFuture<'a, Result<(RolloutState, Snapshot), cluster::Error>> {
        Box::pin(async move { Ok((state(true, None), self.change(at, true, None).before)) })
    }

    fn history<'a>(
        &'a self,
        _: &'a Location,
    ) -> BoxFuture<'a, Result<Vec<Revision>, cluster::Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn reachability(&self, _: Duration) -> BoxFuture<'_, Reachability> {
        Box::pin(async { Reachability::new() })
    }
}

/// Answers every reference with `answer`.
pub struct FakeJustifier(pub Verification);

impl Justifier for FakeJustifier {
    fn verify<'a>(
        &'a self,
        _: &'a Reason,
        _: &'a EnvName,
        _: &'a Environment,
    ) -> BoxFuture<'a, Verification> {
        Box::pin(std::future::ready(self.0.clone()))
    }

    fn on_call<'a>(
        &'a self,
        _: &'a str,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<crate::justify::OnCall>, String>> {
        Box::pin(std::future::ready(Err(
            "no PagerDuty in these tests".to_string()
        )))
    }
}

/// The audit trail in memory; writing `fail_at` fails (a full disk, a database away).
#[derive(Default)]
pub struct MemoryAudit {
    pub events: Mutex<Vec<AuditEvent>>,
    pub fail_at: Option<Phase>,
}

impl MemoryAudit {
    pub fn phases(&self) -> Vec<Phase> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|e| e.phase)
            .collect()
    }
}

impl AuditSink for Arc<MemoryAudit> {
    fn record<'a>(&'a self, event: &'a AuditEvent) -> BoxFuture<'a, Result<(), AuditError>> {
        Box::pin(async move {
            if self.fail_at == Some(event.phase) {
                return Err(AuditError::Unavailable("disk full".into()));
            }
            self.events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(event.clone());
            Ok(())
        })
    }

    fn unfinished(&self) -> BoxFuture<'_, Result<Vec<Record>, AuditError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn query(&self, _: Filter) -> BoxFuture<'_, Result<Vec<Record>, AuditError>> {
        Box::pin(async { Err(AuditError::NotQueryable) })
    }

    fn record_raw(&self, _: NewEvent) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(async { Ok(()) })
    }
}
