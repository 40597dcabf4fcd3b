//! Keeping the tables that grow with traffic bounded, on every replica, every lease period.
//!
//! | table | kept | why |
//! | --- | --- | --- |
//! | `audit_events`, `audit_archive` | forever | the trail; triggers refuse DELETE |
//! | `slack_requests` | [`REQUEST_IDS_FOR`] (1 h) | a request id only matters while its signature is fresh (5 minutes); the margin covers replicas' clocks apart |
//! | `outbox` | undelivered forever, delivered [`DELIVERED_FOR`] (7 days) | undelivered items stay visible until delivered; what was delivered is in the trail |
//! | `approvals` | [`APPROVALS_FOR`] (30 days) past expiry | a used, cancelled or expired request acts on nothing; who approved is in the trail |
//! | `workload_locks` | while held | released on the action's end; an expired lease is taken over in place (one row per workload) |
//!
//! Deleting is safe with several replicas: each DELETE is one statement on rows no replica
//! uses any more, so running it twice, or on two replicas at once, deletes the same rows once.

use std::time::Duration;

use chrono::Utc;

use crate::db::Database;

/// How long a Slack request id is kept for de-duplication.
pub const REQUEST_IDS_FOR: Duration = Duration::from_secs(3600);
/// How long a delivered outbox item is kept.
pub const DELIVERED_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a request for confirmation or approval is kept after it expired.
pub const APPROVALS_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The tables whose sizes `/metrics` shows (`pitcrew_table_rows{table}`): fixed names, never
/// from input.
pub const TABLES: [&str; 4] = ["slack_requests", "outbox", "approvals", "workload_locks"];

/// Rows deleted by one pass, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub slack_requests: u64,
    pub outbox: u64,
    pub approvals: u64,
}

/// `age` ago, written as stored times are (`db::stored_time`), so it compares with them as text.
fn before(age: Duration) -> String {
    crate::db::stored_time(
        Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::zero()),
    )
}

/// Deletes what is past keeping (see the module's table).
pub async fn prune(db: &Database) -> crate::Result<Pruned> {
    prune_older_than(db, REQUEST_IDS_FOR, DELIVERED_FOR, APPROVALS_FOR).await
}

/// [`prune`] with the ages given (tests use short ones).
pub async fn prune_older_than(
    db: &Database,
    request_ids: Duration,
    delivered: Duration,
    approvals: Duration,
) -> crate::Result<Pruned> {
    let run = |sql: &'static str, cut: String| async move {
        sqlx::query(sql)
            .bind(cut)
            .execute(db.pool())
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| db.error(e))
    };
    Ok(Pruned {
        slack_requests: run(
            "DELETE FROM slack_requests WHERE received_at < $1",
            before(request_ids),
        )
        .await?,
        outbox: run(
            "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
            before(delivered),
        )
        .await?,
        approvals: run(
            "DELETE FROM approvals WHERE expires_at < $1",
            before(approvals),
        )
        .await?,
    })
}

/// How many rows each of [`TABLES`] holds now.
pub async fn table_rows(db: &Database) -> crate::Result<Vec<(&'static str, i64)>> {
    let mut rows = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        // The table name comes from the fixed list above, never from input.
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(db.pool())
            .await
            .map_err(|e| db.error(e))?;
        rows.push((table, n));
    }
    Ok(rows)
}
