//! `serve`'s retention sweep (`[audit] retain_online`, `retain_total`): one replica at a time
//! (a lock in `workload_locks`), archives what is older than `retain_online` and removes
//! archives older than `retain_total` (see `audit::retention`). `now` is a parameter so tests
//! drive the clock.

use super::*;
use crate::audit::retention::{Archived, archive_before, expire_archives};

/// One sweep at `now`: the archive written (if any) and the archive files removed.
pub async fn keep_retention(
    ctx: &Context,
    now: chrono::DateTime<Utc>,
) -> Result<(Option<Archived>, Vec<std::path::PathBuf>), crate::Error> {
    let (Some(db), Some(retention)) = (&ctx.db, &ctx.config.audit.retention) else {
        return Ok((None, Vec::new()));
    };
    let _guard = match ctx.locks.lock("audit/retention", "retention").await {
        Ok(g) => g,
        Err(locks::LockError::Busy { .. }) => return Ok((None, Vec::new())),
        Err(e) => return Err(crate::Error::AuditWrite(e.to_string())),
    };
    let online = chrono::Duration::from_std(retention.online)
        .map_err(|e| crate::Error::AuditWrite(e.to_string()))?;
    let store = crate::audit::AuditStore::new(db.clone());
    let archived = archive_before(&store, now - online, &retention.dir, "pitcrew", now).await?;
    let removed = match retention
        .total
        .and_then(|t| chrono::Duration::from_std(t).ok())
    {
        Some(total) => expire_archives(&retention.dir, now - total),
        None => Vec::new(),
    };
    Ok((archived, removed))
}
