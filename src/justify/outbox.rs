//! The durable outbox for write-back: PagerDuty notes, Jira comments and break-glass
//! announcements, delivered at least once with retries and backoff and, thanks to the marker
//! check after an ambiguous failure, posted at most once.
//!
//! Claiming is a conditional UPDATE (`claimed_until` in the past or empty), so two deliverers
//! (two replicas) never hold the same item at the same time on either database.

use std::time::Duration;

use chrono::Utc;
use sqlx::Row;

use super::LiveJustifier;
use super::http::FetchError;
use crate::chat::web::SlackWeb;
use crate::db::Database;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PagerDutyNote,
    JiraComment,
    SlackAnnounce,
}

impl Kind {
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

/// The clients items are delivered with; a kind without its client here waits for a process
/// that has one.
#[derive(Clone, Copy)]
pub struct Deliverers<'a> {
    pub justify: &'a LiveJustifier,
    pub slack: Option<&'a SlackWeb>,
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
        body: &str,
    ) -> Result<(), sqlx::Error> {
        let now = now_text();
        sqlx::query(
            "INSERT INTO outbox (created_at, kind, target, marker, body, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (kind, target, marker) DO NOTHING",
        )
        .bind(&now)
        .bind(kind.as_str())
        .bind(target)
        .bind(marker)
        .bind(body)
        .bind(&now)
        .execute(self.db.pool())
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
        let done = sqlx::query(
            "UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND delivered_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until < $3)",
        )
        .bind(later(self.lease))
        .bind(id)
        .bind(&now)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn settle(
        &self,
        item: &Item,
        result: &Result<(), FetchError>,
    ) -> Result<(), sqlx::Error> {
        match result {
            Ok(()) => {
                sqlx::query(
                    "UPDATE outbox SET delivered_at = $1, claimed_until = NULL, attempts = attempts + 1, last_error = NULL WHERE id = $2",
                )
                .bind(now_text())
                .bind(item.id)
                .execute(self.db.pool())
                .await?;
            }
            Err(e) => {
                sqlx::query(
                    "UPDATE outbox SET claimed_until = NULL, attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
                )
                .bind(e.to_string())
                .bind(later(backoff(item.attempts + 1)))
                .bind(item.id)
                .execute(self.db.pool())
                .await?;
            }
        }
        Ok(())
    }

    /// Delivers every due item this process can deliver (kinds without a client here are
    /// left for a process that has one).
    pub async fn deliver_due(&self, clients: Deliverers<'_>) -> Result<Round, sqlx::Error> {
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
            let can = match item.kind.as_str() {
                "pagerduty-note" => clients.justify.pagerduty.is_some(),
                "jira-comment" => clients.justify.jira.is_some(),
                "slack-announce" => clients.slack.is_some(),
                _ => false,
            };
            if !can || !self.claim(item.id).await? {
                continue;
            }
            let (result, found) = deliver(&item, clients).await;
            match (&result, found) {
                (Ok(()), true) => round.found_posted += 1,
                (Ok(()), false) => round.delivered += 1,
                (Err(e), _) => {
                    round.failed += 1;
                    tracing::warn!(kind = %item.kind, target = %item.target, attempt = item.attempts + 1, error = %e, "write-back failed; will retry");
                }
            }
            self.settle(&item, &result).await?;
        }
        Ok(round)
    }
}

/// Posts one item; after an earlier attempt (which may have worked although it failed), looks
/// for the marker first. Returns whether it was found already posted.
async fn deliver(item: &Item, clients: Deliverers<'_>) -> (Result<(), FetchError>, bool) {
    let retry = item.attempts > 0;
    if let ("slack-announce", Some(slack)) = (item.kind.as_str(), clients.slack) {
        // Announcements are at-least-once: finding an earlier one would need the channel's
        // history (another scope) for a message whose repetition harms nobody.
        let posted = slack.post(&item.target, &item.body).await;
        return (
            posted.map_err(|e| match e {
                crate::chat::web::PostError::RateLimited { .. } => FetchError::RateLimited,
                other => FetchError::Network(other.to_string()),
            }),
            false,
        );
    }
    match (
        item.kind.as_str(),
        &clients.justify.pagerduty,
        &clients.justify.jira,
    ) {
        ("pagerduty-note", Some(pd), _) => {
            if retry && let Some(found) = posted_before(pd.notes(&item.target).await, item) {
                return found;
            }
            (pd.add_note(&item.target, &item.body).await, false)
        }
        ("jira-comment", _, Some(jira)) => {
            if retry && let Some(found) = posted_before(jira.comments(&item.target).await, item) {
                return found;
            }
            (jira.add_comment(&item.target, &item.body).await, false)
        }
        _ => (Err(FetchError::Status(0)), false),
    }
}

/// After an earlier attempt: `Some` when the answer is known without posting (already
/// posted, or the lookup failed), `None` when the item must be posted.
fn posted_before(
    texts: Result<Vec<String>, FetchError>,
    item: &Item,
) -> Option<(Result<(), FetchError>, bool)> {
    match texts {
        Ok(texts) if texts.iter().any(|t| t.contains(&item.marker)) => Some((Ok(()), true)),
        Ok(_) => None,
        Err(e) => Some((Err(e), false)),
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
