//! Appending to, verifying and querying the audit trail, with one set of queries for SQLite
//! and PostgreSQL.

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::chain::{GENESIS, hash, hash_with};
use super::{NewEvent, Record};
use crate::db::{Backend, Database};
use crate::{Error, Result};

const COLUMNS: &str = "id, at, correlation, phase, actor_id, actor_name, team, channel, command_text, action, env, \
     cluster, namespace, kind, name, reason, detail, prev_hash, hash";

/// The key of the PostgreSQL advisory lock that serialises appends across processes.
const APPEND_LOCK: i64 = 0x7069_7463_7277; // "pitcrw"

/// An event waiting to be written, and where its result goes.
type Pending = (
    NewEvent,
    tokio::sync::oneshot::Sender<std::result::Result<Record, String>>,
);

#[derive(Clone)]
pub struct AuditStore {
    db: Database,
    /// One writer at a time in this process; PostgreSQL's advisory lock covers other processes.
    append: Arc<tokio::sync::Mutex<()>>,
    /// Events queued by concurrent callers; whoever holds the writer lock writes them all in
    /// one transaction (group commit), so N concurrent appends cost one commit, not N.
    queue: Arc<std::sync::Mutex<Vec<Pending>>>,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    /// The hash of the last event: the chain head to keep outside the database.
    pub head: String,
    /// Events up to this id were archived (removed behind a boundary event).
    pub archived_through: Option<i64>,
    pub first_problem: Option<Problem>,
}

/// One id range's result in [`AuditStore::verify`].
struct RangeCheck {
    /// The first event's id and prev_hash, for stitching to the range before.
    first: Option<(i64, String)>,
    last_id: i64,
    last_hash: String,
    events: u64,
    problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub id: i64,
    pub what: String,
}

/// Filters for [`AuditStore::query`]; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub env: Option<String>,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub action: Option<String>,
    pub phase: Option<String>,
    pub reason: Option<String>,
    pub correlation: Option<String>,
    /// Only events with an id up to this one.
    pub through_id: Option<i64>,
    pub limit: Option<i64>,
}

impl AuditStore {
    pub fn new(db: Database) -> AuditStore {
        AuditStore {
            db,
            append: Arc::default(),
            queue: Arc::default(),
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Appends one event at the end of the chain and returns it as stored. When this returns
    /// `Ok`, the event is durable (committed; SQLite with `synchronous = FULL`). Concurrent
    /// callers are written together in one transaction (group commit).
    pub async fn append(&self, event: NewEvent) -> Result<Record> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((event, tx));
        let writer = self.append.lock().await;
        // A previous writer may have taken our event along with its own.
        if let Ok(result) = rx.try_recv() {
            return result.map_err(Error::AuditWrite);
        }
        let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        let (events, replies): (Vec<NewEvent>, Vec<_>) = batch.into_iter().unzip();
        match self.write(events).await {
            Ok(records) => {
                for (record, reply) in records.into_iter().zip(replies) {
                    let _ = reply.send(Ok(record));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
        drop(writer);
        match rx.await {
            Ok(result) => result.map_err(Error::AuditWrite),
            Err(_) => Err(Error::AuditWrite(
                "the audit writer stopped before answering".into(),
            )),
        }
    }

    /// Appends many events in one transaction (imports, benchmarks). Callers must not run it
    /// concurrently with [`AuditStore::append`] on the same store.
    pub async fn append_many(&self, events: Vec<NewEvent>) -> Result<Vec<Record>> {
        let _writer = self.append.lock().await;
        self.write(events).await
    }

    /// Writes `events` at the end of the chain in one transaction.
    async fn write(&self, events: Vec<NewEvent>) -> Result<Vec<Record>> {
        let err = |e| self.db.error(e);
        let mut tx = self.db.pool().begin().await.map_err(err)?;
        let written = self.write_in(&mut tx, events).await?;
        tx.commit().await.map_err(err)?;
        Ok(written)
    }

    /// Appends `events` at the end of the chain inside `tx` (which the caller commits).
    async fn write_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Record>> {
        let err = |e| self.db.error(e);
        if self.db.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(APPEND_LOCK)
                .execute(&mut **tx)
                .await
                .map_err(err)?;
        }
        let last = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(err)?;
        let (mut prev_id, mut prev_hash) = match last {
            Some(row) => (
                row.try_get::<i64, _>(0).map_err(err)?,
                row.try_get::<String, _>(1).map_err(err)?,
            ),
            None => (0, GENESIS.to_string()),
        };
        let sql = format!(
            "INSERT INTO audit_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        );
        let mut written = Vec::with_capacity(events.len());
        for event in events {
            let mut record = Record {
                id: prev_id + 1,
                at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
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
                .execute(&mut **tx)
                .await
                .map_err(err)?;
            prev_id = record.id;
            prev_hash = record.hash.clone();
            written.push(record);
        }
        Ok(written)
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
        let _writer = self.append.lock().await;
        let err = |e| self.db.error(e);
        let mut tx = self.db.pool().begin().await.map_err(err)?;
        let removed_head: String =
            sqlx::query_scalar("SELECT hash FROM audit_events WHERE id = $1")
                .bind(through)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        let removed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE id <= $1")
            .bind(through)
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        let boundary = NewEvent {
            correlation: format!("archive-{through}"),
            phase: "archived".into(),
            actor_id: actor.into(),
            command_text: command_text.into(),
            action: Some("archive".into()),
            detail: serde_json::json!({
                "removed_through": through,
                "removed_count": removed,
                "removed_head_hash": removed_head,
                "export": export,
            }),
            ..NewEvent::default()
        };
        let mut written = self.write_in(&mut tx, vec![boundary]).await?;
        sqlx::query("INSERT INTO audit_archive_permit (through_id) VALUES ($1)")
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("DELETE FROM audit_events WHERE id <= $1")
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("DELETE FROM audit_archive_permit")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        written
            .pop()
            .ok_or_else(|| Error::AuditWrite("the archive boundary was not written".into()))
    }

    /// Where verification starts: event 1 with the genesis hash, or, after archives, the
    /// first remaining event, vouched for by a boundary event that recorded its predecessor.
    async fn chain_start(&self) -> Result<(i64, String, Option<i64>)> {
        let err = |e| self.db.error(e);
        let first = sqlx::query("SELECT id, prev_hash FROM audit_events ORDER BY id LIMIT 1")
            .fetch_optional(self.db.pool())
            .await
            .map_err(err)?;
        let Some(first) = first else {
            return Ok((1, GENESIS.to_string(), None));
        };
        let id: i64 = first.try_get(0).map_err(err)?;
        let prev: String = first.try_get(1).map_err(err)?;
        if id == 1 {
            return Ok((1, GENESIS.to_string(), None));
        }
        let boundaries: Vec<String> =
            sqlx::query_scalar("SELECT detail FROM audit_events WHERE phase = 'archived'")
                .fetch_all(self.db.pool())
                .await
                .map_err(err)?;
        let vouched = boundaries
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .any(|d| {
                d["removed_through"].as_i64() == Some(id - 1)
                    && d["removed_head_hash"].as_str() == Some(prev.as_str())
            });
        if vouched {
            Ok((id, prev, Some(id - 1)))
        } else {
            // Nothing vouches for the missing start: verify will report the first event.
            Ok((1, GENESIS.to_string(), None))
        }
    }

    /// Walks the whole chain in order, recomputing every hash. Stops at the first problem.
    /// Reads in pages of ids (fetching a page at once is several times faster than streaming
    /// row by row through SQLite's driver thread).
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.verify_in(None).await
    }

    /// [`verify`](Self::verify) reading the trail in `parts` parallel ranges (by default one
    /// per core, 2 to 4, for 200,000 events or more; tests force several on small trails).
    pub async fn verify_in(&self, parts: Option<i64>) -> Result<VerifyReport> {
        let (first_id, genesis, archived_through) = self.chain_start().await?;
        let max_id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_events")
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        let max_id = max_id.unwrap_or(0);
        // Large trails are read as consecutive id ranges on parallel connections (each
        // connection has its own driver thread), then stitched: range k+1 must start at the
        // id after range k's last and point at its hash.
        let events = (max_id - first_id + 1).max(0);
        let parts = match parts {
            Some(n) => n.max(1),
            None if events >= 200_000 => {
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4)) as i64
            }
            None => 1,
        };
        let step = events / parts + 1;
        let mut tasks = Vec::new();
        for k in 0..parts {
            // Range k covers ids in (lo, hi]; the last one is open-ended (appends go on).
            let lo = if k == 0 {
                i64::MIN
            } else {
                first_id - 1 + k * step
            };
            let hi = if k == parts - 1 {
                i64::MAX
            } else {
                first_id - 1 + (k + 1) * step
            };
            let store = self.clone();
            tasks.push(tokio::spawn(
                async move { store.verify_range(lo, hi).await },
            ));
        }
        let mut report = VerifyReport {
            events: 0,
            head: genesis,
            archived_through,
            first_problem: None,
        };
        let mut expected_id = first_id;
        for task in tasks {
            let range = task
                .await
                .map_err(|e| crate::Error::AuditWrite(format!("verify task failed: {e}")))??;
            let Some((id, prev)) = &range.first else {
                continue;
            };
            let stitch = if *id != expected_id {
                Some(format!(
                    "expected event {expected_id} next but found {id}: events were removed or inserted"
                ))
            } else if *prev != report.head {
                Some("its prev_hash does not match the previous event's hash: an event before it was changed, removed or inserted".to_string())
            } else {
                None
            };
            if let Some(what) = stitch {
                report.first_problem = Some(Problem { id: *id, what });
                return Ok(report);
            }
            report.events += range.events;
            if range.events > 0 {
                report.head = range.last_hash;
                expected_id = range.last_id + 1;
            }
            if let Some(problem) = range.problem {
                report.first_problem = Some(problem);
                return Ok(report);
            }
        }
        Ok(report)
    }

    /// Checks the events with ids in (lo, hi] among themselves: consecutive ids, each
    /// pointing at the previous one's hash, each matching its own hash.
    async fn verify_range(&self, lo: i64, hi: i64) -> Result<RangeCheck> {
        const PAGE: i64 = 10_000;
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT {PAGE}"
        );
        let mut check = RangeCheck {
            first: None,
            last_id: lo,
            last_hash: String::new(),
            events: 0,
            problem: None,
        };
        let mut buf = Vec::with_capacity(1024);
        // On SQLite, read through the native driver: sqlx's `Any` layer costs several times
        // the hashing itself per row (BENCHMARKS.md).
        let mut native = match self.db.sqlite_path() {
            Some(path) => {
                use sqlx::ConnectOptions;
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true);
                Some(options.connect().await.map_err(|e| self.db.error(e))?)
            }
            None => None,
        };
        let mut after = lo;
        loop {
            let page = match native.as_mut() {
                Some(conn) => sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(after)
                    .bind(hi)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| self.db.error(e))?,
                None => {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(after)
                        .bind(hi)
                        .fetch_all(self.db.pool())
                        .await
                        .map_err(|e| self.db.error(e))?;
                    rows.iter()
                        .map(record_from)
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| self.db.error(e))?
                }
            };
            let Some(last) = page.last() else { break };
            after = last.id;
            for record in page {
                let problem = if check.first.is_none() {
                    None
                } else if record.id != check.last_id + 1 {
                    Some(format!(
                        "expected event {} next but found {}: events were removed or inserted",
                        check.last_id + 1,
                        record.id
                    ))
                } else if record.prev_hash != check.last_hash {
                    Some("its prev_hash does not match the previous event's hash: an event before it was changed, removed or inserted".into())
                } else {
                    None
                };
                let problem = problem.or_else(|| {
                    (hash_with(&mut buf, &record) != record.hash).then(|| {
                        "its content does not match its hash: it was changed after it was written"
                            .to_string()
                    })
                });
                if check.first.is_none() {
                    check.first = Some((record.id, record.prev_hash.clone()));
                }
                if let Some(what) = problem {
                    check.problem = Some(Problem {
                        id: record.id,
                        what,
                    });
                    return Ok(check);
                }
                check.events += 1;
                check.last_id = record.id;
                check.last_hash = record.hash;
            }
        }
        Ok(check)
    }

    /// The `started` events of commands that never recorded an outcome (succeeded, unchanged, failed,
    /// interrupted, cancelled): what a crash or kill left behind.
    pub async fn unfinished(&self) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE phase = 'started' AND correlation NOT IN \
             (SELECT correlation FROM audit_events WHERE phase IN ('succeeded', 'unchanged', 'failed', 'interrupted', 'cancelled')) \
             ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        rows.iter()
            .map(|r| record_from(r).map_err(|e| self.db.error(e)))
            .collect()
    }

    /// The event with this id, if it exists.
    pub async fn event(&self, id: i64) -> Result<Option<Record>> {
        let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        row.as_ref()
            .map(record_from)
            .transpose()
            .map_err(|e| self.db.error(e))
    }

    /// Events matching `filter`, oldest first.
    pub async fn query(&self, filter: &Filter) -> Result<Vec<Record>> {
        let mut clauses = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut add = |clause: &str, value: &Option<String>| {
            if let Some(v) = value {
                values.push(v.clone());
                clauses.push(format!("{clause} ${}", values.len()));
            }
        };
        add("at >=", &filter.since);
        add("at <", &filter.until);
        add("actor_id =", &filter.actor);
        add("env =", &filter.env);
        add("cluster =", &filter.cluster);
        add("namespace =", &filter.namespace);
        add("kind =", &filter.kind);
        add("name =", &filter.name);
        add("action =", &filter.action);
        add("phase =", &filter.phase);
        add("reason =", &filter.reason);
        add("correlation =", &filter.correlation);
        if let Some(id) = filter.through_id {
            // An integer, formatted: nothing a user typed.
            clauses.push(format!("id <= {id}"));
        }
        let mut sql = format!("SELECT {COLUMNS} FROM audit_events");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY id");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {}", limit.max(0)));
        }
        // Only fixed column names and numbered placeholders are formatted into the SQL;
        // every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values {
            query = query.bind(v);
        }
        let rows = query
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        rows.iter()
            .map(|r| record_from(r).map_err(|e| self.db.error(e)))
            .collect()
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
