//! Following a rollout after an action: watch the workload until kubectl's rules say it is
//! complete, it failed (progress deadline exceeded), the time is up, or the caller cancels.
//!
//! kube-runtime's watcher re-lists and resumes when a watch is lost (API server restart,
//! expired resource version), with backoff, so a blip does not end the follow.

use std::future::Future;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde::Serialize;

use super::Error;
use super::objects::Workload;
use super::status::{RolloutState, rollout_state};
use crate::command::Kind;

/// How a followed rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Followed {
    Complete {
        state: RolloutState,
    },
    Failed {
        state: RolloutState,
    },
    TimedOut {
        state: Option<RolloutState>,
        after_seconds: u64,
    },
    Cancelled {
        state: Option<RolloutState>,
    },
}

/// How long the API server keeps one watch open. It ends each watch after 25 s, before the
/// client's 30 s read timeout, so a quiet rollout means a clean re-watch rather than an error.
pub const WATCH_SECONDS: u32 = 25;

/// Watches `kind/name` until its rollout ends, calling `progress` whenever the state changes.
pub async fn follow(
    client: &Client,
    namespace: &str,
    kind: Kind,
    name: &str,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
    progress: impl FnMut(&RolloutState),
) -> Result<Followed, Error> {
    follow_with_watch_timeout(
        client,
        namespace,
        kind,
        name,
        timeout,
        WATCH_SECONDS,
        cancel,
        progress,
    )
    .await
}

/// [`follow`] with the length of each watch chosen by the caller (tests use a short one to
/// prove that following survives watches ending under it).
#[allow(clippy::too_many_arguments)]
pub async fn follow_with_watch_timeout(
    client: &Client,
    namespace: &str,
    kind: Kind,
    name: &str,
    timeout: Duration,
    watch_seconds: u32,
    cancel: impl Future<Output = ()>,
    mut progress: impl FnMut(&RolloutState),
) -> Result<Followed, Error> {
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(watch_seconds);
    let stream = match kind {
        Kind::Deployment => watcher(
            Api::<Deployment>::namespaced(client.clone(), namespace),
            config,
        )
        .default_backoff()
        .applied_objects()
        .map_ok(Workload::Deployment)
        .boxed(),
        Kind::StatefulSet => watcher(
            Api::<StatefulSet>::namespaced(client.clone(), namespace),
            config,
        )
        .default_backoff()
        .applied_objects()
        .map_ok(Workload::StatefulSet)
        .boxed(),
        Kind::DaemonSet => watcher(
            Api::<DaemonSet>::namespaced(client.clone(), namespace),
            config,
        )
        .default_backoff()
        .applied_objects()
        .map_ok(Workload::DaemonSet)
        .boxed(),
        Kind::Application | Kind::Kustomization | Kind::HelmRelease | Kind::Rollout => {
            return Err(Error::NotAWorkload {
                kind,
                name: name.to_string(),
            });
        }
    };
    // Shared with the select below, so a timeout or cancel still reports the last state seen.
    // A Mutex, not a RefCell: the future must be Send to run on a server's worker threads.
    let last: std::sync::Mutex<Option<RolloutState>> = std::sync::Mutex::new(None);
    let seen = || last.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let watch = async {
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            // The watcher retries with backoff on its own; an error here is only reported.
            let workload = match item {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "watch interrupted; resuming");
                    continue;
                }
            };
            let state = rollout_state(&workload);
            let mut held = last.lock().unwrap_or_else(|p| p.into_inner());
            if held.as_ref() != Some(&state) {
                progress(&state);
                *held = Some(state.clone());
            }
            if state.failed.is_some() {
                return Followed::Failed { state };
            }
            if state.done {
                return Followed::Complete { state };
            }
        }
        Followed::Cancelled { state: seen() }
    };
    tokio::pin!(watch);
    tokio::pin!(cancel);
    tokio::select! {
        ended = &mut watch => Ok(ended),
        _ = tokio::time::sleep(timeout) => Ok(Followed::TimedOut { state: seen(), after_seconds: timeout.as_secs() }),
        _ = &mut cancel => Ok(Followed::Cancelled { state: seen() }),
    }
}
