//! `restart`, as `kubectl rollout restart` does it: a strategic-merge patch that sets the
//! pod-template annotation `kubectl.kubernetes.io/restartedAt` to the current time (RFC 3339;
//! in UTC, where kubectl writes its local time with an offset: the same instant),
//! which makes the controller replace every pod under the workload's own rollout strategy.
//! A paused Deployment is refused, with kubectl's advice.

use chrono::{DateTime, SecondsFormat, Utc};
use kube::Client;
use kube::api::Patch;

use super::objects::Workload;
use super::status::snapshot;
use super::{Change, Error, patch_params};
use crate::command::Kind;

/// The annotation kubectl (and so pitcrew) sets to trigger a restart.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Restarts `kind/name` in `namespace` at time `now`. With `dry_run`, the API server validates
/// and admits the same patch without persisting it, and the returned [`Change`] shows it.
pub async fn restart(
    client: &Client,
    namespace: &str,
    kind: Kind,
    name: &str,
    now: DateTime<Utc>,
    dry_run: bool,
    cause: Option<&str>,
) -> Result<Change, Error> {
    let current = Workload::get(client, kind, namespace, name).await?;
    if let Workload::Deployment(d) = &current
        && d.spec.as_ref().and_then(|s| s.paused) == Some(true)
    {
        return Err(Error::PausedRestart {
            name: name.to_string(),
        });
    }
    let before = snapshot(client, namespace, &current).await?;

    // Go's time.RFC3339 format, as kubectl writes it. kubectl formats its machine's local time
    // with its offset (TZ=Asia/Kolkata gives "…T14:30:00+05:30"); pitcrew always writes UTC
    // ("2026-11-23T09:00:00Z"): the same instant, independent of where pitcrew runs. The
    // controller only compares the value with the previous one, so the offset never matters.
    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    // kubectl diffs the object it would send with the one it read and refuses an empty patch
    // ("if restart has already been triggered within the past second, please wait"): the same
    // stamp means the same template, so no new rollout, and a restart reported as done that
    // did nothing.
    let current_stamp = current
        .template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(RESTARTED_AT));
    if current_stamp == Some(&stamp) {
        return Err(Error::RestartedThisSecond {
            kind,
            name: name.to_string(),
            stamp,
        });
    }
    let patch = super::with_cause(
        serde_json::json!({
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}
        }),
        cause,
    );
    let patched = Workload::patch(
        client,
        kind,
        namespace,
        name,
        &patch_params(dry_run),
        &Patch::Strategic(patch),
        format!("restarting {kind} {namespace}/{name}"),
    )
    .await?;
    // A new template means a new revision once the controller sees it; before that (and in a
    // dry run) the next revision is the current one plus one.
    let mut after = snapshot(client, namespace, &patched).await?;
    if after.revision == before.revision {
        after.revision = before.revision.map(|r| r + 1);
    }
    Ok(Change {
        operation: super::Operation::Restart,
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        dry_run,
        before,
        after,
        annotations_set: vec![(RESTARTED_AT.to_string(), stamp)],
        to_revision: None,
        unchanged: false,
        warnings: Vec::new(),
        managed_by: current.managed_by(),
    })
}
