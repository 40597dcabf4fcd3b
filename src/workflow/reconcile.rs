//! Closing commands a crashed or killed replica left at `started`, once their workload lease
//! has run out, and telling their channel.

use super::*;

/// Why reconciliation could not run; it is retried every lease period.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Audit(#[from] crate::audit::Error),
    #[error("{0}")]
    Lock(#[from] locks::LockError),
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
pub(super) async fn tell_channel_interrupted(
    ctx: &Context,
    started: &crate::audit::Record,
    found: &str,
) {
    let (Some(outbox), Some(channel)) = (ctx.outbox(), started.channel.as_deref()) else {
        return;
    };
    let notice = Notice::Interrupted {
        actor: started.actor_id.clone(),
        command: started.command_text.clone(),
        found: found.to_string(),
        correlation: started.correlation.clone(),
    };
    let marker = format!("{}/interrupted", started.correlation);
    if let Err(e) = outbox
        .enqueue(OutboxKind::SlackAnnounce, channel, &marker, &notice)
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
pub async fn reconcile(ctx: &Context) -> Result<Vec<Reconciled>, ReconcileError> {
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
                Err(e) => return Err(e.into()),
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

pub(super) async fn inspect(
    ctx: &Context,
    started: &crate::audit::Record,
) -> Result<String, String> {
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
    let at = cluster::Location {
        cluster,
        namespace: ns.clone(),
        kind,
        name: name.clone(),
        as_user: None,
        cause: None,
    };
    let (state, snapshot) = ctx.clusters.status(&at).await.map_err(|e| e.to_string())?;
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
