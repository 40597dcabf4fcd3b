//! The audit trail streamed to a SIEM as it is written: every event, in order, at least once,
//! each carrying its id and hash so the receiver de-duplicates. Two sinks: RFC 5424 syslog over
//! TCP (`syslog.rs`) and OCSF JSON over HTTPS (`ocsf.rs`).
//!
//! The trail itself is the durable queue: a `siem_cursors` row per destination says how far the
//! receiver has the trail. A shipper (one per destination at a time, by a lease on that row)
//! reads the events after the cursor, hands them to its sink, and only when the sink says they
//! were delivered moves the cursor, compare-and-set. A receiver that is down delays the stream
//! (retried with backoff) and never a command; `/metrics` shows the backlog per destination
//! (`pitcrew_siem_backlog{destination}`) and what was sent.

mod ocsf;
mod syslog;

use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;

use crate::audit::{AuditStore, Filter, Record};
use crate::db::{Database, stored_time};

pub use ocsf::HttpsSink;
pub use syslog::{SyslogSink, frame};

/// Events handed to a sink at once.
const BATCH: i64 = 500;
/// How long a shipper holds the destination.
const LEASE: Duration = Duration::from_secs(30);
/// How often the trail is looked at when there is nothing new; the first wait after a failure.
const IDLE: Duration = Duration::from_millis(500);
/// The longest wait between tries while the receiver is away.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Where events go. `send` returns once the receiver has them (or says why not).
pub trait Sink: Send {
    /// The destination's name in `siem_cursors` and in `/metrics`.
    fn name(&self) -> &'static str;
    fn send<'a>(&'a mut self, events: &'a [Record]) -> BoxFuture<'a, Result<(), String>>;
}

/// What the stream reports to `/metrics`.
#[derive(Clone, Default)]
pub struct Gauges {
    pub backlog: prometheus_client::metrics::gauge::Gauge,
    pub sent: prometheus_client::metrics::counter::Counter,
}

/// Streams the trail to `sink` until `stop` resolves.
pub async fn stream(
    db: Database,
    mut sink: impl Sink,
    gauges: Gauges,
    stop: impl std::future::Future<Output = ()>,
) {
    let me = uuid::Uuid::now_v7().to_string();
    let store = AuditStore::new(db.clone());
    let mut failures: u32 = 0;
    tokio::pin!(stop);
    loop {
        let wait = match ship_once(&db, &store, &mut sink, &me, &gauges).await {
            Ok(true) => {
                failures = 0;
                Duration::ZERO
            }
            Ok(false) => {
                failures = 0;
                IDLE
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(destination = sink.name(), error = %e, "the SIEM stream waits; nothing is lost, it resumes from where the receiver has it");
                (IDLE * 2u32.saturating_pow(failures.min(6))).min(BACKOFF_MAX)
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Hand the destination over at once rather than after the lease runs out.
    let released = db
        .execute(
            "UPDATE siem_cursors SET leased_by = NULL, leased_until = NULL \
             WHERE destination = $1 AND leased_by = $2",
            vec![sink.name().into(), me.as_str().into()],
        )
        .await;
    if let Err(e) = released {
        tracing::debug!(error = %e, "cannot release the SIEM stream's lease; it runs out");
    }
}

/// One round: true when a batch was delivered (there may be more).
async fn ship_once(
    db: &Database,
    store: &AuditStore,
    sink: &mut impl Sink,
    me: &str,
    gauges: &Gauges,
) -> Result<bool, String> {
    let name = sink.name();
    // Reads first: an idle stream writes nothing (the lease is taken only to ship).
    let last = store.last_id().await.map_err(|e| e.to_string())?;
    let shipped = cursor(db, name).await.map_err(|e| e.to_string())?;
    gauges.backlog.set(last - shipped.unwrap_or(0));
    if last <= shipped.unwrap_or(0) {
        return Ok(false);
    }
    let Some(cursor) = claim(db, me, name).await.map_err(|e| e.to_string())? else {
        return Ok(false);
    };
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
    sink.send(&events).await?;
    let moved = db
        .execute(
            "UPDATE siem_cursors SET last_id = $1 WHERE destination = $2 AND last_id = $3",
            vec![newest.into(), name.into(), cursor.into()],
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
async fn claim(db: &Database, me: &str, name: &str) -> Result<Option<i64>, sqlx::Error> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::seconds(30));
    let take = || {
        db.execute(
            "UPDATE siem_cursors SET leased_by = $1, leased_until = $2 WHERE destination = $3 \
             AND (leased_by IS NULL OR leased_by = $4 OR leased_until < $5)",
            vec![
                me.into(),
                stored_time(until).into(),
                name.into(),
                me.into(),
                stored_time(now).into(),
            ],
        )
    };
    let mut held = take().await?;
    if held == 0 {
        // A destination streamed for the first time has no row yet: from the trail's start.
        db.execute(
            "INSERT INTO siem_cursors (destination, last_id) VALUES ($1, 0) ON CONFLICT (destination) DO NOTHING",
            vec![name.into()],
        )
        .await?;
        held = take().await?;
    }
    if held != 1 {
        return Ok(None);
    }
    cursor(db, name).await
}

/// How far `name` has the trail (`None` before it was first streamed to).
async fn cursor(db: &Database, name: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT last_id FROM siem_cursors WHERE destination = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await
}
