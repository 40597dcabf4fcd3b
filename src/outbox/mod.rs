//! The durable outbox: PagerDuty notes, Jira comments and Slack announcements (break-glass,
//! interrupted commands), delivered at least once with retries and backoff and, where the
//! delivering side can look for its marker after an ambiguous failure, posted at most once.
//!
//! The outbox knows neither Slack nor PagerDuty nor Jira: items hold a typed [`Notice`], and
//! each side that can deliver some [`Kind`]s implements [`Deliver`] (`justify/` for notes and
//! comments, `chat/` for announcements), wording the notice for its audience.
//!
//! Claiming is a conditional UPDATE (`claimed_until` in the past or empty), so two deliverers
//! (two replicas) never hold the same item at the same time on either database.

mod notice;

use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use sqlx::Row;

use crate::db::Database;
pub use notice::{MessageRef, Notice};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PagerDutyNote,
    JiraComment,
    SlackAnnounce,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::PagerDutyNote, Kind::JiraComment, Kind::SlackAnnounce];

    /// The stored name's kind (`None` for a name this version does not know).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PagerDutyNote => "pagerduty-note",
            Kind::JiraComment => "jira-comment",
            Kind::SlackAnnounce => "slack-announce",
        }
    }
}

/// One item, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub target: String,
    pub marker: String,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    /// Found already posted (an earlier attempt had worked) and marked delivered.
    pub found_posted: usize,
    pub failed: usize,
}

impl Item {
    /// What the item says.
    pub fn notice(&self) -> Notice {
        Notice::from_body(&self.body)
    }
}

/// How an item was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Posted,
    /// An earlier attempt had worked after all (its marker was found); not posted again.
    FoundPosted,
}

/// Why an item was not delivered this time; it stays queued and is retried with backoff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("rate-limited (429) beyond the time allowed")]
    RateLimited,
    #[error("{0}")]
    Failed(String),
    #[error("no client for `{0}` items in this process")]
    NoClient(String),
}

/// A side that delivers some kinds of items: the PagerDuty/Jira clients, the Slack Web API.
/// A kind no side here delivers waits for a process that has one.
pub trait Deliver: Send + Sync {
    /// Whether this side delivers `kind` (it has the client and credentials for it).
    fn delivers(&self, kind: Kind) -> bool;

    /// Posts one item. After an earlier attempt (`item.attempts > 0`), which may have worked
    /// although it failed, a side that can look for `item.marker` does so first.
    fn deliver<'a>(
        &'a self,
        kind: Kind,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>>;
}

#[derive(Clone)]
pub struct Outbox {
    db: Database,
    /// How long a claim lasts; a deliverer that dies releases its items after this.
    pub lease: Duration,
}

fn now_text() -> String {
    crate::db::stored_time(Utc::now())
}

fn later(d: Duration) -> String {
    crate::db::stored_time(
        Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1)),
    )
}

/// 5 s, 10 s, 20 s, … up to an hour between attempts; it never gives up silently: an item
/// keeps its last error and stays visible until it is delivered.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 12) - 1;
    Duration::from_secs((5u64 << exp).min(3600))
}

impl Outbox {
    pub fn new(db: Database) -> Outbox {
        Outbox {
            db,
            lease: Duration::from_secs(60),
        }
    }

    /// Adds an item; enqueuing the same (kind, target, marker) twice keeps one.
    pub async fn enqueue(
        &self,
        kind: Kind,
        target: &str,
        marker: &str,
        notice: &Notice,
    ) -> Result<(), sqlx::Error> {
        let body = notice.to_body();
        let now = now_text();
        self.db
            .execute(
                "INSERT INTO outbox (created_at, kind, target, marker, body, attempts, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (kind, target, marker) DO NOTHING",
                vec![
                    now.clone().into(),
                    kind.as_str().into(),
                    target.into(),
                    marker.into(),
                    body.into(),
                    now.into(),
                ],
            )
            .await
            .map(|_| ())
    }

    pub async fn items(&self) -> Result<Vec<Item>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, kind, target, marker, body, attempts, next_attempt_at, delivered_at, last_error \
             FROM outbox ORDER BY id",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(item_from).collect()
    }

    /// Items waiting for delivery (for health and metrics).
    pub async fn depth(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
            .fetch_one(self.db.pool())
            .await
    }

    async fn claim(&self, id: i64) -> Result<bool, sqlx::Error> {
        let now = now_text();
        let done = self
            .db
            .execute(
                "UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND delivered_at IS NULL \
                 AND (claimed_until IS NULL OR claimed_until < $3)",
                vec![later(self.lease).into(), id.into(), now.into()],
            )
            .await?;
        Ok(done == 1)
    }

    async fn settle(
        &self,
        item: &Item,
        result: &Result<Delivered, DeliveryError>,
    ) -> Result<(), sqlx::Error> {
        match result {
            Ok(_) => {
                self.db
                    .execute(
                        "UPDATE outbox SET delivered_at = $1, claimed_until = NULL, attempts = attempts + 1, last_error = NULL WHERE id = $2",
                        vec![now_text().into(), item.id.into()],
                    )
                    .await?;
            }
            Err(e) => {
                self.db
                    .execute(
                        "UPDATE outbox SET claimed_until = NULL, attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
                        vec![
                            e.to_string().into(),
                            later(backoff(item.attempts + 1)).into(),
                            item.id.into(),
                        ],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Delivers every due item one of `sides` can deliver (kinds no side here delivers are
    /// left for a process that has one).
    pub async fn deliver_due(&self, sides: &[&dyn Deliver]) -> Result<Round, sqlx::Error> {
        let due = sqlx::query(
            "SELECT id, kind, target, marker, body, attempts, next_attempt_at, delivered_at, last_error \
             FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT 100",
        )
        .bind(now_text())
        .fetch_all(self.db.pool())
        .await?;
        let mut round = Round::default();
        for row in &due {
            let item = item_from(row)?;
            let Some(kind) = Kind::parse(&item.kind) else {
                continue;
            };
            let Some(side) = sides.iter().find(|s| s.delivers(kind)) else {
                continue;
            };
            if !self.claim(item.id).await? {
                continue;
            }
            let result = side.deliver(kind, &item).await;
            match &result {
                Ok(Delivered::FoundPosted) => round.found_posted += 1,
                Ok(Delivered::Posted) => round.delivered += 1,
                Err(e) => {
                    round.failed += 1;
                    tracing::warn!(kind = %item.kind, target = %item.target, attempt = item.attempts + 1, error = %e, "write-back failed; will retry");
                }
            }
            self.settle(&item, &result).await?;
        }
        Ok(round)
    }
}

fn item_from(r: &sqlx::any::AnyRow) -> Result<Item, sqlx::Error> {
    Ok(Item {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        target: r.try_get("target")?,
        marker: r.try_get("marker")?,
        body: r.try_get("body")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        delivered_at: r.try_get("delivered_at")?,
        last_error: r.try_get("last_error")?,
    })
}
