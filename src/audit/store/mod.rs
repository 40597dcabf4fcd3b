//! Appending to, verifying and querying the audit trail, with one set of queries for SQLite
//! and PostgreSQL.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::chain::{GENESIS, hash, hash_with};
use super::{NewEvent, Record};
use crate::db::{Backend, Database};
use crate::{Error, Result};

mod anchors;
mod query;
mod review;
mod verify;

pub use anchors::Anchor;
pub use query::{Filter, Parties};
pub use review::Unreviewed;
pub use verify::{Problem, VerifyReport};

const COLUMNS: &str = "id, at, correlation, phase, actor_id, actor_name, team, channel, command_text, action, env, \
     cluster, namespace, kind, name, reason, detail, prev_hash, hash";

/// The key of the PostgreSQL advisory lock that serialises appends across processes.
const APPEND_LOCK: i64 = 0x7069_7463_7277; // "pitcrw"

#[derive(Clone)]
pub struct AuditStore {
    db: Database,
}

impl AuditStore {
    pub fn new(db: Database) -> AuditStore {
        AuditStore { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Appends one event at the end of the chain and returns it as stored. When this returns
    /// `Ok`, the event is durable (committed; SQLite with `synchronous = FULL`). Concurrent
    /// appends, and the other hot writes of the moment, share one transaction (the database's
    /// group commit), so N concurrent appends cost one commit, not N.
    pub async fn append(&self, event: NewEvent) -> Result<Record> {
        self.append_many(vec![event])
            .await?
            .pop()
            .ok_or_else(|| Error::AuditWrite("the event was not written".into()))
    }

    /// Appends `events`, in order, at the end of the chain, in one transaction.
    pub async fn append_many(&self, events: Vec<NewEvent>) -> Result<Vec<Record>> {
        let backend = self.db.backend();
        let events = Arc::new(events);
        self.db
            .write(move |conn| {
                let events = events.clone();
                Box::pin(async move { write_in(conn, backend, &events).await })
            })
            .await
            .map_err(|e| Error::AuditWrite(self.db.error(e).to_string()))
    }

    /// The newest event written before `before` (RFC 3339, as stored): what an archive up to
    /// that date would remove.
    pub async fn last_id_before(&self, before: &str) -> Result<Option<i64>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_events WHERE at < $1")
            .bind(before)
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        Ok(id)
    }

    /// Removes events `1..=through` in one transaction, after appending an archive boundary
    /// event that records how many were removed and the hash of the last one, so the rest of
    /// the chain still verifies. The caller exports them first and passes what to record
    /// about the export in `export`.
    pub async fn archive_through(
        &self,
        through: i64,
        actor: &str,
        command_text: &str,
        export: serde_json::Value,
    ) -> Result<Record> {
        let backend = self.db.backend();
        let (actor, command_text) = (actor.to_string(), command_text.to_string());
        // Through the group commit, so it never interleaves with appends of this process.
        let mut written = self
            .db
            .write(move |conn| {
                let (actor, command_text, export) =
                    (actor.clone(), command_text.clone(), export.clone());
                Box::pin(async move {
                    let removed_head: String =
                        sqlx::query_scalar("SELECT hash FROM audit_events WHERE id = $1")
                            .bind(through)
                            .fetch_one(&mut *conn)
                            .await?;
                    let removed: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE id <= $1")
                            .bind(through)
                            .fetch_one(&mut *conn)
                            .await?;
                    let boundary = NewEvent {
                        correlation: format!("archive-{through}"),
                        phase: "archived".into(),
                        actor_id: actor,
                        command_text,
                        action: Some("archive".into()),
                        detail: serde_json::json!({
                            "removed_through": through,
                            "removed_count": removed,
                            "removed_head_hash": removed_head,
                            "export": export,
                        }),
                        ..NewEvent::default()
                    };
                    let written = write_in(conn, backend, &[boundary]).await?;
                    sqlx::query("INSERT INTO audit_archive_permit (through_id) VALUES ($1)")
                        .bind(through)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("DELETE FROM audit_events WHERE id <= $1")
                        .bind(through)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("DELETE FROM audit_archive_permit")
                        .execute(&mut *conn)
                        .await?;
                    Ok(written)
                })
            })
            .await
            .map_err(|e| self.db.error(e))?;
        written
            .pop()
            .ok_or_else(|| Error::AuditWrite("the archive boundary was not written".into()))
    }
}

fn record_from(row: &AnyRow) -> std::result::Result<Record, sqlx::Error> {
    Ok(Record {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        correlation: row.try_get("correlation")?,
        phase: row.try_get("phase")?,
        actor_id: row.try_get("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        team: row.try_get("team")?,
        channel: row.try_get("channel")?,
        command_text: row.try_get("command_text")?,
        action: row.try_get("action")?,
        env: row.try_get("env")?,
        cluster: row.try_get("cluster")?,
        namespace: row.try_get("namespace")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        reason: row.try_get("reason")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Appends `events` at the end of the chain on `conn`, inside the caller's transaction. It
/// reads the chain's end itself, so it may run again after a rolled-back batch.
async fn write_in(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    events: &[NewEvent],
) -> std::result::Result<Vec<Record>, sqlx::Error> {
    if backend == Backend::Postgres {
        // Appends from other processes wait here until this transaction ends.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let last = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (mut prev_id, mut prev_hash) = match last {
        Some(row) => (row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?),
        None => (0, GENESIS.to_string()),
    };
    let sql = format!(
        "INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    );
    let mut written = Vec::with_capacity(events.len());
    for event in events.iter().cloned() {
        let mut record = Record {
            id: prev_id + 1,
            at: crate::db::stored_time(Utc::now()),
            correlation: event.correlation,
            phase: event.phase,
            actor_id: event.actor_id,
            actor_name: event.actor_name,
            team: event.team,
            channel: event.channel,
            command_text: event.command_text,
            action: event.action,
            env: event.env,
            cluster: event.cluster,
            namespace: event.namespace,
            kind: event.kind,
            name: event.name,
            reason: event.reason,
            detail: event.detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        record.hash = hash(&record);
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(record.id)
            .bind(&record.at)
            .bind(&record.correlation)
            .bind(&record.phase)
            .bind(&record.actor_id)
            .bind(&record.actor_name)
            .bind(&record.team)
            .bind(&record.channel)
            .bind(&record.command_text)
            .bind(&record.action)
            .bind(&record.env)
            .bind(&record.cluster)
            .bind(&record.namespace)
            .bind(&record.kind)
            .bind(&record.name)
            .bind(&record.reason)
            .bind(&record.detail)
            .bind(&record.prev_hash)
            .bind(&record.hash)
            .execute(&mut *conn)
            .await?;
        prev_id = record.id;
        prev_hash = record.hash.clone();
        written.push(record);
    }
    Ok(written)
}
