//! One action per workload at a time, across every replica.
//!
//! Two layers: a set in this process (cheap, and enough when there is no database), and a
//! lease in the database (`workload_locks`) that every replica sees. Taking the lease is one
//! upsert that succeeds only if the key is free or its lease has run out, so a lock held by a
//! replica that crashed (kill -9, a lost node) frees itself after `LEASE`; while an action runs
//! its replica renews the lease every `LEASE / 4`. Dropping the guard gives both back.
//!
//! Times are this replica's clock, written as fixed-width RFC 3339 UTC text so that they
//! compare as strings on both back-ends. Replicas' clocks must agree to well within `LEASE`
//! (NTP does); a replica far ahead could take over a live lease early.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::db::Database;

/// How long a lease lasts without renewal: the longest a crashed replica's lock blocks others.
pub const LEASE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Locks {
    held: Arc<Mutex<HashSet<String>>>,
    /// Releases started by dropped guards and not yet known to be done (see [`Locks::settle`]).
    releasing: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    db: Option<Database>,
    /// Who this process is, in the lease table (host, pid and a random part).
    holder: Arc<str>,
}

impl Default for Locks {
    fn default() -> Self {
        Locks::new(None)
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another action on this workload is running (since {since}, {by})")]
    Busy { since: String, by: String },
    #[error("cannot take the workload lock in the database: {0}")]
    Database(#[from] sqlx::Error),
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    crate::db::stored_time(t)
}

/// Held while a workload is being changed; released on drop.
pub struct LockGuard {
    key: String,
    held: Arc<Mutex<HashSet<String>>>,
    releasing: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// The database, this acquisition's token, and the renewing task.
    lease: Option<(Database, String, tokio::task::JoinHandle<()>)>,
    /// Until when (this process's monotonic clock) the lease is surely still this guard's:
    /// `LEASE` after the moment just before the last successful take or renewal was sent.
    held_until: Arc<Mutex<tokio::time::Instant>>,
}

impl LockGuard {
    /// How much longer the lease is surely this guard's: no other replica can take the
    /// workload before then. Without a database (one process) the lock never runs out.
    pub fn surely_held_for(&self) -> Duration {
        if self.lease.is_none() {
            return Duration::MAX;
        }
        let until = *self.held_until.lock().unwrap_or_else(|p| p.into_inner());
        until.saturating_duration_since(tokio::time::Instant::now())
    }
}

impl Locks {
    pub fn new(db: Option<Database>) -> Locks {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let random = uuid::Uuid::now_v7().simple().to_string();
        Locks {
            held: Arc::default(),
            releasing: Arc::default(),
            db,
            holder: format!(
                "{host}:{}:{}",
                std::process::id(),
                &random[random.len() - 8..]
            )
            .into(),
        }
    }

    /// Waits for the releases of dropped guards to reach the database. The workflow calls it
    /// before a command returns, so that a process that exits right after (`pitcrew exec`)
    /// leaves no lease behind to block the next command until it runs out.
    pub async fn settle(&self) {
        let pending: Vec<_> =
            std::mem::take(&mut *self.releasing.lock().unwrap_or_else(|p| p.into_inner()));
        for release in pending {
            let _ = release.await;
        }
    }

    /// Takes the lock for `key` (cluster/namespace/kind/name) for the command `correlation`.
    pub async fn lock(&self, key: &str, correlation: &str) -> Result<LockGuard, LockError> {
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if !held.insert(key.to_string()) {
                return Err(LockError::Busy {
                    since: "now".into(),
                    by: "this replica".into(),
                });
            }
        }
        // From here on the in-process entry is ours; the guard (or the error path) removes it.
        let mut guard = LockGuard {
            key: key.to_string(),
            held: self.held.clone(),
            releasing: self.releasing.clone(),
            lease: None,
            held_until: Arc::new(Mutex::new(tokio::time::Instant::now())),
        };
        let Some(db) = &self.db else {
            return Ok(guard);
        };
        let sent = tokio::time::Instant::now();
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        // Each acquisition has its own token: renewing and releasing touch only that one, so
        // a late release can never free a newer lease. This process may retake a lease it
        // still holds in the table (its release may not have run yet): the in-process set
        // above already keeps two of its own actions apart.
        let token = uuid::Uuid::now_v7().to_string();
        let taken = db
            .execute(
                "INSERT INTO workload_locks (lock_key, holder, token, correlation, acquired_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (lock_key) DO UPDATE SET holder = excluded.holder, token = excluded.token, \
                   correlation = excluded.correlation, acquired_at = excluded.acquired_at, \
                   expires_at = excluded.expires_at \
                 WHERE workload_locks.expires_at < $5 OR workload_locks.holder = $2",
                vec![
                    key.into(),
                    self.holder.to_string().into(),
                    token.clone().into(),
                    correlation.into(),
                    stamp(now).into(),
                    stamp(expires).into(),
                ],
            )
            .await?;
        if taken != 1 {
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT acquired_at, holder FROM workload_locks WHERE lock_key = $1",
            )
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
            let (since, by) = row.unwrap_or_else(|| ("a moment ago".into(), "?".into()));
            return Err(LockError::Busy {
                since,
                by: format!("replica {by}"),
            });
        }
        *guard.held_until.lock().unwrap_or_else(|p| p.into_inner()) = sent + LEASE;
        let renew = tokio::spawn(renew_lease(
            db.clone(),
            key.to_string(),
            token.clone(),
            guard.held_until.clone(),
        ));
        guard.lease = Some((db.clone(), token, renew));
        Ok(guard)
    }
}

/// Keeps the lease alive while the action runs. If renewing fails the lease may run out and
/// another replica may take the workload after this one's action; the action itself is not
/// interrupted (it was audited as started and is already under way).
async fn renew_lease(
    db: Database,
    key: String,
    token: String,
    held_until: Arc<Mutex<tokio::time::Instant>>,
) {
    let every = LEASE / 4;
    loop {
        tokio::time::sleep(every).await;
        let sent = tokio::time::Instant::now();
        let expires = Utc::now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let renewed = db
            .execute(
                "UPDATE workload_locks SET expires_at = $1 WHERE lock_key = $2 AND token = $3",
                vec![
                    stamp(expires).into(),
                    key.clone().into(),
                    token.clone().into(),
                ],
            )
            .await;
        match renewed {
            Ok(1) => {
                *held_until.lock().unwrap_or_else(|p| p.into_inner()) = sent + LEASE;
            }
            Ok(_) => {
                tracing::error!(%key, "the workload lock was taken over (its lease ran out); another replica may act on it");
                return;
            }
            Err(e) => tracing::warn!(%key, error = %e, "cannot renew the workload lock; retrying"),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
        if let Some((db, token, renew)) = self.lease.take() {
            renew.abort();
            let key = std::mem::take(&mut self.key);
            // Give the lease back now rather than after it runs out. Dropped outside a runtime
            // (never in pitcrew), the lease simply expires.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let release = rt.spawn(async move {
                    let released = db
                        .execute(
                            "DELETE FROM workload_locks WHERE lock_key = $1 AND token = $2",
                            vec![key.clone().into(), token.into()],
                        )
                        .await;
                    if let Err(e) = released {
                        tracing::warn!(%key, error = %e, "cannot release the workload lock; it expires by itself");
                    }
                });
                self.releasing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(release);
            }
        }
    }
}
