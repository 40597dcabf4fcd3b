//! "Is the rollout done?" with the rules and words of `kubectl rollout status`
//! (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go).

use kube::{Client, ResourceExt};
use serde::Serialize;

use super::Error;
use super::objects::{Snapshot, Workload, controller_revisions, revision_annotation};

/// Where a rollout stands, with the counts a progress message shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutState {
    pub done: bool,
    /// Why the rollout failed (the Deployment's progress deadline passed), if it did.
    pub failed: Option<String>,
    /// kubectl's own words for the state.
    pub message: String,
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    /// The workload's conditions as `Type=Status (Reason)`.
    pub conditions: Vec<String>,
}

pub fn rollout_state(workload: &Workload) -> RolloutState {
    let mut state = verdict(workload);
    state.conditions = conditions(workload);
    state
}

fn conditions(workload: &Workload) -> Vec<String> {
    fn fmt(type_: &str, status: &str, reason: Option<&String>) -> String {
        match reason {
            Some(r) => format!("{type_}={status} ({r})"),
            None => format!("{type_}={status}"),
        }
    }
    match workload {
        Workload::Deployment(d) => d
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| fmt(&c.type_, &c.status, c.reason.as_ref()))
            .collect(),
        Workload::StatefulSet(s) => s
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| fmt(&c.type_, &c.status, c.reason.as_ref()))
            .collect(),
        Workload::DaemonSet(d) => d
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| fmt(&c.type_, &c.status, c.reason.as_ref()))
            .collect(),
    }
}

fn verdict(workload: &Workload) -> RolloutState {
    match workload {
        Workload::Deployment(d) => {
            let name = d.name_any();
            let status = d.status.clone().unwrap_or_default();
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let updated = status.updated_replicas.unwrap_or(0);
            let available = status.available_replicas.unwrap_or(0);
            let mut state = RolloutState {
                done: false,
                failed: None,
                message: String::new(),
                desired,
                updated,
                ready: status.ready_replicas.unwrap_or(0),
                available,
                conditions: Vec::new(),
            };
            if d.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
                state.message = "Waiting for deployment spec update to be observed...".into();
                return state;
            }
            let timed_out = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Progressing")
                .filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
            if let Some(c) = timed_out {
                let why = format!("deployment \"{name}\" exceeded its progress deadline");
                state.message = why.clone();
                state.failed = Some(match &c.message {
                    Some(m) => format!("{why}: {m}"),
                    None => why,
                });
                return state;
            }
            let replicas = status.replicas.unwrap_or(0);
            state.message = if updated < desired {
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {desired} new replicas have been updated..."
                )
            } else if replicas > updated {
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
                    replicas - updated
                )
            } else if available < updated {
                format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
                )
            } else {
                state.done = true;
                format!("deployment \"{name}\" successfully rolled out")
            };
            state
        }
        Workload::StatefulSet(s) => {
            let status = s.status.clone().unwrap_or_default();
            let spec = s.spec.clone().unwrap_or_default();
            let desired = spec.replicas.unwrap_or(1);
            let mut state = RolloutState {
                done: false,
                failed: None,
                message: String::new(),
                desired,
                updated: status.updated_replicas.unwrap_or(0),
                ready: status.ready_replicas.unwrap_or(0),
                available: status.available_replicas.unwrap_or(0),
                conditions: Vec::new(),
            };
            let strategy = spec.update_strategy.clone().unwrap_or_default();
            if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
                return on_delete(
                    state,
                    "statefulset",
                    &s.name_any(),
                    s.metadata.generation.unwrap_or(0) <= status.observed_generation.unwrap_or(0),
                    status.replicas,
                );
            }
            if status.observed_generation.unwrap_or(0) == 0
                || s.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0)
            {
                state.message = "Waiting for statefulset spec update to be observed...".into();
                return state;
            }
            if state.ready < desired {
                state.message =
                    format!("Waiting for {} pods to be ready...", desired - state.ready);
                return state;
            }
            if let Some(partition) = strategy.rolling_update.and_then(|r| r.partition) {
                if state.updated < desired - partition {
                    state.message = format!(
                        "Waiting for partitioned roll out to finish: {} out of {} new pods have been updated...",
                        state.updated,
                        desired - partition
                    );
                } else {
                    state.done = true;
                    state.message = format!(
                        "partitioned roll out complete: {} new pods have been updated...",
                        state.updated
                    );
                }
                return state;
            }
            let update = status.update_revision.clone().unwrap_or_default();
            if status.update_revision != status.current_revision {
                state.message = format!(
                    "waiting for statefulset rolling update to complete {} pods at revision {update}...",
                    state.updated
                );
                return state;
            }
            state.done = true;
            state.message = format!(
                "statefulset rolling update complete {} pods at revision {}...",
                status.current_replicas.unwrap_or(0),
                status.current_revision.unwrap_or_default()
            );
            state
        }
        Workload::DaemonSet(d) => {
            let name = d.name_any();
            let status = d.status.clone().unwrap_or_default();
            let desired = status.desired_number_scheduled;
            let updated = status.updated_number_scheduled.unwrap_or(0);
            let available = status.number_available.unwrap_or(0);
            let mut state = RolloutState {
                done: false,
                failed: None,
                message: String::new(),
                desired,
                updated,
                ready: status.number_ready,
                available,
                conditions: Vec::new(),
            };
            let strategy = d
                .spec
                .as_ref()
                .and_then(|s| s.update_strategy.clone())
                .unwrap_or_default();
            if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
                return on_delete(
                    state,
                    "daemon set",
                    &name,
                    d.metadata.generation.unwrap_or(0) <= status.observed_generation.unwrap_or(0),
                    status.current_number_scheduled,
                );
            }
            if d.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
                state.message = "Waiting for daemon set spec update to be observed...".into();
                return state;
            }
            state.message = if updated < desired {
                format!(
                    "Waiting for daemon set \"{name}\" rollout to finish: {updated} out of {desired} new pods have been updated..."
                )
            } else if available < desired {
                format!(
                    "Waiting for daemon set \"{name}\" rollout to finish: {available} of {desired} updated pods are available..."
                )
            } else {
                state.done = true;
                format!("daemon set \"{name}\" successfully rolled out")
            };
            state
        }
    }
}

/// A StatefulSet or DaemonSet with the `OnDelete` update strategy: its controller replaces a
/// pod only when someone deletes it, so there is no rollout to wait for. kubectl's `rollout
/// status` refuses ("only available for RollingUpdate strategy type"); reporting that as done
/// would be a false "fixed" in an incident. Instead: done as far as pitcrew can take it (once
/// the controller has seen the new template), saying how many pods still run an older revision
/// and what replaces them. `updated` of `state` is the controller's count of pods at the
/// current revision.
fn on_delete(
    mut state: RolloutState,
    what: &str,
    name: &str,
    observed: bool,
    pods: i32,
) -> RolloutState {
    if !observed {
        state.message = format!("Waiting for {what} spec update to be observed...");
        return state;
    }
    state.done = true;
    let old = (pods - state.updated).max(0);
    state.message = if old == 0 {
        format!(
            "{what} \"{name}\" uses the OnDelete update strategy: all {pods} pods run the current revision"
        )
    } else {
        format!(
            "{what} \"{name}\" uses the OnDelete update strategy, so its pods are replaced only when deleted: {old} of {pods} pods still run an older revision (delete them to replace them)"
        )
    };
    state
}

/// The workload's revision and images now.
pub async fn snapshot(
    client: &Client,
    namespace: &str,
    workload: &Workload,
) -> Result<Snapshot, Error> {
    let revision = match workload {
        Workload::Deployment(d) => revision_annotation(d),
        Workload::StatefulSet(_) | Workload::DaemonSet(_) => {
            controller_revisions(client, namespace, workload)
                .await?
                .last()
                .map(|r| r.revision)
        }
    };
    Ok(Snapshot {
        revision,
        images: workload.images(),
    })
}
