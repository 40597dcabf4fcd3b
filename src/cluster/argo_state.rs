//! An Argo Rollout's state in Argo's own terms (the words `kubectl argo rollouts status` and
//! `get` print: phase and message, step N/M, set weight, stable and canary), following one
//! after a change, and its history.

use std::future::Future;
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;

use super::argo::{HASH_LABEL, get, replica_sets};
use super::{Client, Error, Followed, Revision, RolloutState};

/// How often a followed Rollout is read (a poll: the controller writes its status often, and a
/// Rollout's follow ends at a pause as well as at the end).
const POLL: Duration = Duration::from_millis(500);
/// How long the state from before a change may still be read after it.
const STALE: Duration = Duration::from_secs(5);

fn int(v: Option<&Value>) -> i32 {
    v.and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(0)
}

/// The step the Rollout is at, as `N/M` with the weight it sets, for a canary with steps.
fn step(obj: &DynamicObject) -> Option<(i64, usize, Option<i64>)> {
    let steps = obj
        .data
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())?;
    let index = obj
        .data
        .pointer("/status/currentStepIndex")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // The weight set by the last setWeight step reached, as the plugin shows it.
    let upto = usize::try_from(index).unwrap_or(0).min(steps.len());
    let weight = steps[..upto]
        .iter()
        .rev()
        .find_map(|s| s.get("setWeight").and_then(Value::as_i64))
        .or(if upto == steps.len() { Some(100) } else { None });
    Some((index, steps.len(), weight))
}

/// The Rollout's state: done when Healthy, failed when Degraded, with Argo's words.
pub fn state(obj: &DynamicObject) -> RolloutState {
    let status = obj.data.get("status");
    let text = |k: &str| {
        status
            .and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let generation = obj.metadata.generation.unwrap_or(0);
    // Argo Rollouts writes observedGeneration as a string.
    let observed = status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(|g| g.as_str().and_then(|t| t.parse().ok()).or(g.as_i64()))
        .unwrap_or(0);
    // The controller writes `abort` and `abortedAt` together (argo-rollouts rollout/pause.go);
    // one without the other is an abort or a retry (status subresource, no generation) it has
    // not acted on yet, whatever the phase still says.
    let abort = status.and_then(|s| s.get("abort")).and_then(Value::as_bool) == Some(true);
    let aborted_at = status.is_some_and(|s| s.get("abortedAt").is_some_and(|a| !a.is_null()));
    let unobserved = if observed < generation {
        Some("waiting for rollout spec update to be observed")
    } else if abort != aborted_at {
        Some("waiting for the abort or retry to be observed")
    } else {
        None
    };
    let phase = match unobserved {
        Some(_) => "Progressing".to_string(),
        None => text("phase"),
    };
    let message = match unobserved {
        Some(waiting) => waiting.to_string(),
        None => text("message"),
    };
    let words = if message.is_empty() {
        phase.clone()
    } else {
        format!("{phase} - {message}")
    };
    let mut conditions = vec![format!(
        "Phase={}",
        if phase.is_empty() { "Unknown" } else { &phase }
    )];
    if let Some((index, of, weight)) = step(obj) {
        conditions.push(format!("Step={index}/{of}"));
        if let Some(w) = weight {
            conditions.push(format!("SetWeight={w}"));
        }
    }
    for (k, label) in [("stableRS", "Stable"), ("currentPodHash", "Current")] {
        let v = text(k);
        if !v.is_empty() {
            conditions.push(format!("{label}={v}"));
        }
    }
    RolloutState {
        done: phase == "Healthy",
        failed: (phase == "Degraded").then(|| words.clone()),
        message: words,
        // Kubernetes' default when `replicas` is left out.
        desired: obj
            .data
            .pointer("/spec/replicas")
            .map_or(1, |r| int(Some(r))),
        updated: int(status.and_then(|s| s.get("updatedReplicas"))),
        ready: int(status.and_then(|s| s.get("readyReplicas"))),
        available: int(status.and_then(|s| s.get("availableReplicas"))),
        conditions,
    }
}

/// Whether the Rollout waits at a pause (a step's, or a person's `spec.paused`), observed.
fn paused(s: &RolloutState) -> bool {
    s.message.starts_with("Paused")
}

/// Follows a Rollout after a change until it is Healthy, Degraded, or waits at a pause (a
/// canary reaching its next pause step is where the change ends, as `kubectl argo rollouts
/// status` ends there too).
pub async fn follow(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
    mut progress: impl FnMut(&RolloutState),
) -> Result<Followed, Error> {
    let first = get(client, namespace, name).await?;
    // A change through the status subresource (advance, retry) moves no generation, so the
    // state read at once may be the one before it: it counts only after the controller had
    // time to answer (its resync is immediate on an update; a few seconds is generous). A retry
    // not yet acted on is also seen in the object itself (`state`: abort without abortedAt).
    let before = state(&first);
    let began = std::time::Instant::now();
    let settled = |now: &RolloutState| *now != before || began.elapsed() > STALE;
    let last: std::sync::Mutex<Option<RolloutState>> = std::sync::Mutex::new(None);
    let seen = || last.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let watch = async {
        loop {
            let obj = get(client, namespace, name).await?;
            let now = state(&obj);
            {
                let mut held = last.lock().unwrap_or_else(|p| p.into_inner());
                if held.as_ref() != Some(&now) {
                    progress(&now);
                    *held = Some(now.clone());
                }
            }
            if !settled(&now) {
                tokio::time::sleep(POLL).await;
                continue;
            }
            if now.failed.is_some() {
                return Ok(Followed::Failed { state: now });
            }
            if now.done || paused(&now) {
                return Ok(Followed::Complete { state: now });
            }
            tokio::time::sleep(POLL).await;
        }
    };
    tokio::pin!(watch);
    tokio::pin!(cancel);
    tokio::select! {
        ended = &mut watch => ended,
        _ = tokio::time::sleep(timeout) => Ok(Followed::TimedOut { state: seen(), after_seconds: timeout.as_secs() }),
        _ = &mut cancel => Ok(Followed::Cancelled { state: seen() }),
    }
}

/// The Rollout's state and what it runs now (`status`).
pub async fn status(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<(RolloutState, super::Snapshot), Error> {
    let obj = get(client, namespace, name).await?;
    Ok((state(&obj), super::argo::snapshot(&obj)))
}

/// Its revisions (its ReplicaSets by `rollout.argoproj.io/revision`), oldest first; the
/// current one is the ReplicaSet of `status.currentPodHash`.
pub async fn history(client: &Client, namespace: &str, name: &str) -> Result<Vec<Revision>, Error> {
    let obj = get(client, namespace, name).await?;
    let current_hash = obj
        .data
        .pointer("/status/currentPodHash")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut revisions: Vec<Revision> = replica_sets(client, namespace, &obj)
        .await?
        .into_iter()
        .map(|(number, rs)| {
            let hash = rs
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(HASH_LABEL))
                .cloned()
                .unwrap_or_default();
            let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
            super::history::revision(&rs.metadata, number, template, hash == current_hash)
        })
        .collect();
    revisions.sort_by_key(|r| r.number);
    Ok(revisions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(status: serde_json::Value) -> DynamicObject {
        let obj = serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 4},
            "status": status,
        });
        serde_json::from_value(obj).unwrap_or_else(|e| panic!("a DynamicObject: {e}"))
    }

    #[test]
    fn an_abort_or_retry_the_controller_has_not_acted_on_is_progressing() {
        let aborted = |abort: bool, at: serde_json::Value| {
            state(&rollout(serde_json::json!({
                "observedGeneration": "2", "phase": "Degraded",
                "message": "RolloutAborted: Rollout aborted update to revision 2",
                "abort": abort, "abortedAt": at,
            })))
        };
        // Aborted, as the controller left it: failed.
        let done = aborted(true, "2026-12-05T10:00:00Z".into());
        assert!(done.failed.is_some(), "{done:?}");
        // Retried (abort: false) while abortedAt is still set: not yet acted on.
        let retried = aborted(false, "2026-12-05T10:00:00Z".into());
        assert!(retried.failed.is_none(), "{retried:?}");
        assert_eq!(
            retried.message,
            "Progressing - waiting for the abort or retry to be observed"
        );
        // Acted on: abortedAt cleared, the phase is believed again.
        let acted = aborted(false, serde_json::Value::Null);
        assert!(acted.failed.is_some(), "the phase as written: {acted:?}");
    }
}
