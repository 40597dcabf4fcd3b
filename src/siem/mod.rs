//! The audit trail streamed to a SIEM as it is written: every event, in order, at least once,
//! each carrying its id and hash so the receiver de-duplicates (`syslog.rs` frames them).
//!
//! The trail itself is the durable queue: a `siem_cursors` row per destination says how far the
//! receiver has the trail. A shipper (one per destination at a time, by a lease on that row)
//! reads the events after the cursor, writes them, makes sure the connection is still open a
//! moment later (a receiver that stopped closes it, and what it had not read is lost with it),
//! and only then moves the cursor, compare-and-set. A receiver that is down delays the stream
//! and never a command; `/metrics` shows the backlog (`pitcrew_siem_backlog`) and what was sent.

mod syslog;

use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::audit::{AuditStore, Filter};
use crate::config::SyslogConfig;
use crate::db::{Database, stored_time};

pub use syslog::frame;

/// The destination's name in `siem_cursors`.
const SYSLOG: &str = "syslog";
/// Events sent in one write.
const BATCH: i64 = 500;
/// How long a shipper holds the destination.
const LEASE: Duration = Duration::from_secs(30);
/// How long after a write the connection must still be open for the batch to count.
const SETTLE: Duration = Duration::from_millis(300);
/// How often the trail is looked at when there is nothing new, or the receiver is away.
const IDLE: Duration = Duration::from_millis(500);

/// What the stream reports to `/metrics`.
#[derive(Clone, Default)]
pub struct Gauges {
    pub backlog: prometheus_client::metrics::gauge::Gauge,
    pub sent: prometheus_client::metrics::counter::Counter,
}

/// Streams the trail to `[audit.syslog]` until `stop` resolves.
pub async fn stream_syslog(
    db: Database,
    cfg: SyslogConfig,
    gauges: Gauges,
    stop: impl std::future::Future<Output = ()>,
) {
    let me = uuid::Uuid::now_v7().to_string();
    let hostname = cfg
        .hostname
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "pitcrew".into());
    let store = AuditStore::new(db.clone());
    let mut conn: Option<TcpStream> = None;
    tokio::pin!(stop);
    loop {
        let wait = match ship_once(&db, &store, &cfg, &hostname, &me, &mut conn, &gauges).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => IDLE,
            Err(e) => {
                tracing::warn!(destination = %cfg.address, error = %e, "the SIEM stream waits; nothing is lost, it resumes from where the receiver has it");
                conn = None;
                IDLE
            }
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One round: true when a batch was delivered (there may be more).
async fn ship_once(
    db: &Database,
    store: &AuditStore,
    cfg: &SyslogConfig,
    hostname: &str,
    me: &str,
    conn: &mut Option<TcpStream>,
    gauges: &Gauges,
) -> Result<bool, String> {
    let cursor = claim(db, me).await.map_err(|e| e.to_string())?;
    let last = store.last_id().await.map_err(|e| e.to_string())?;
    let Some(cursor) = cursor else {
        return Ok(false);
    };
    gauges.backlog.set(last - cursor);
    if last <= cursor {
        return Ok(false);
    }
    let events = store
        .query(&Filter {
            after_id: Some(cursor),
            limit: Some(BATCH),
            ..Filter::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let Some(newest) = events.last().map(|e| e.id) else {
        return Ok(false);
    };
    let mut bytes = Vec::new();
    for e in &events {
        bytes.extend(frame(e, cfg, hostname));
    }
    if conn.is_none() {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&cfg.address))
            .await
            .map_err(|_| format!("connecting to {} timed out", cfg.address))?
            .map_err(|e| format!("cannot connect to {}: {e}", cfg.address))?;
        *conn = Some(stream);
    }
    let Some(stream) = conn.as_mut() else {
        return Ok(false);
    };
    stream
        .write_all(&bytes)
        .await
        .map_err(|e| format!("writing to {}: {e}", cfg.address))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("writing to {}: {e}", cfg.address))?;
    // A receiver sends nothing back; a closed connection reads as end of file.
    let mut probe = [0u8; 1];
    match tokio::time::timeout(SETTLE, stream.read(&mut probe)).await {
        Err(_) => {}
        Ok(Ok(0)) => {
            return Err(format!("{} closed the connection", cfg.address));
        }
        Ok(Err(e)) => return Err(format!("{}: {e}", cfg.address)),
        // A receiver that talks back (it should not): the connection is open.
        Ok(Ok(_)) => {}
    }
    let moved = db
        .execute(
            "UPDATE siem_cursors SET last_id = $1 WHERE destination = $2 AND last_id = $3",
            vec![newest.into(), SYSLOG.into(), cursor.into()],
        )
        .await
        .map_err(|e| e.to_string())?;
    if moved == 1 {
        gauges.sent.inc_by(events.len() as u64);
        gauges.backlog.set(last.max(newest) - newest);
    }
    Ok(true)
}

/// The cursor, when this shipper holds the destination's lease (taken or renewed here).
async fn claim(db: &Database, me: &str) -> Result<Option<i64>, sqlx::Error> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::seconds(30));
    db.execute(
        "INSERT INTO siem_cursors (destination, last_id) VALUES ($1, 0) ON CONFLICT (destination) DO NOTHING",
        vec![SYSLOG.into()],
    )
    .await?;
    let held = db
        .execute(
            "UPDATE siem_cursors SET leased_by = $1, leased_until = $2 WHERE destination = $3 \
             AND (leased_by IS NULL OR leased_by = $4 OR leased_until < $5)",
            vec![
                me.into(),
                stored_time(until).into(),
                SYSLOG.into(),
                me.into(),
                stored_time(now).into(),
            ],
        )
        .await?;
    if held != 1 {
        return Ok(None);
    }
    let last: i64 = sqlx::query_scalar("SELECT last_id FROM siem_cursors WHERE destination = $1")
        .bind(SYSLOG)
        .fetch_one(db.pool())
        .await?;
    Ok(Some(last))
}
