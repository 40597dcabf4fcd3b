//! `serve`'s anchoring of the chain head (`[audit.timestamp]`, see `audit::anchors`): every
//! `every` when the head moved, and once at shutdown, one replica at a time (a lock in
//! `workload_locks`). A TSA that is away is retried sooner (5 s, doubling up to `every`),
//! counted in `/metrics` and shown in `/readyz`; it never holds up a command, which writes
//! its events whatever anchoring does.

use super::*;
use crate::audit::anchors::{AnchorError, Tsa, anchor_once};
use crate::audit::timestamp::Roots;
use crate::audit::{Anchor, AuditStore};

/// The first retry after a failure.
const RETRY: std::time::Duration = std::time::Duration::from_secs(5);
/// How long the last try at shutdown may take (within serve's final wait).
const AT_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(8);

/// One try now: the head anchored (`Some`), nothing new or another replica at it (`None`).
/// Counts and records the outcome for `/metrics` and `/readyz`.
pub async fn anchor_now(ctx: &Context) -> Result<Option<Anchor>, AnchorError> {
    let (Some(db), Some(cfg)) = (&ctx.db, &ctx.config.audit.timestamp) else {
        return Ok(None);
    };
    let guard = match ctx.locks.lock("audit/anchor", "anchor").await {
        Ok(g) => g,
        Err(locks::LockError::Busy { .. }) => return Ok(None),
        Err(e) => return Err(AnchorError::Store(crate::Error::AuditWrite(e.to_string()))),
    };
    let outcome = async {
        let roots = Roots::from_pem_file(&cfg.ca_file)
            .map_err(|e| AnchorError::Store(crate::Error::Usage(e)))?;
        let tsa =
            Tsa::new(cfg.url.clone()).map_err(|e| AnchorError::Store(crate::Error::Usage(e)))?;
        anchor_once(&AuditStore::new(db.clone()), &tsa, &roots).await
    }
    .await;
    // Given back before returning, so the next try (here or on another replica) finds it free.
    drop(guard);
    ctx.locks.settle().await;
    let m = &ctx.metrics;
    match &outcome {
        Ok(anchor) => {
            m.anchoring.succeeded();
            if let Some(a) = anchor {
                m.anchored_event.set(a.event_id);
            }
        }
        Err(e) => {
            m.anchor_failures.inc();
            m.anchoring
                .failed(e.to_string(), crate::db::stored_time(Utc::now()));
        }
    }
    outcome
}

/// Anchors until shutdown, then once more.
pub async fn keep_anchoring(ctx: Arc<Context>) {
    let Some(every) = ctx.config.audit.timestamp.as_ref().map(|t| t.every) else {
        return;
    };
    let stop = ctx.cancelled();
    tokio::pin!(stop);
    let mut wait = std::time::Duration::ZERO;
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut stop => break,
        }
        wait = match anchor_now(&ctx).await {
            Ok(Some(a)) => {
                tracing::info!(event = a.event_id, at = %a.gen_time, tsa = %a.tsa, "audit chain head anchored");
                failing = false;
                every
            }
            Ok(None) => {
                failing = false;
                every
            }
            Err(e) => {
                let next = if failing {
                    (wait * 2).clamp(RETRY, every)
                } else {
                    RETRY.min(every)
                };
                failing = true;
                tracing::warn!(error = %e, retry_in = %humantime::format_duration(next), "cannot anchor the audit chain head; commands go on, anchoring is retried");
                next
            }
        };
    }
    match tokio::time::timeout(AT_SHUTDOWN, anchor_now(&ctx)).await {
        Ok(Ok(Some(a))) => {
            tracing::info!(event = a.event_id, "audit chain head anchored at shutdown")
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot anchor the audit chain head at shutdown; the next start anchors it")
        }
        Err(_) => tracing::warn!(
            "the timestamp authority did not answer at shutdown; the next start anchors the head"
        ),
    }
}
