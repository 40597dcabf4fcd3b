//! Requests for a second person's approval, in the database (`approvals` table), so that any
//! replica and a restart honour them. Bound to the exact command (a hash of its parameters),
//! expiring, and used at most once.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::db::Database;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    pub id: String,
    pub expires_at: String,
    pub requester: String,
    pub channel: Option<String>,
    pub command_text: String,
    pub env: String,
    pub params_hash: String,
    pub needed: i64,
    pub approvers: Vec<String>,
    pub state: String,
    /// The audit correlation id of the waiting command (none for rows made before it existed).
    pub correlation: Option<String>,
    /// The Slack workspace the command came from (none from a terminal).
    pub team: Option<String>,
    /// The message that shows the request (none from a terminal, or when none was posted).
    pub message: Option<crate::outbox::MessageRef>,
}

impl Approval {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        DateTime::parse_from_rfc3339(&self.expires_at).map_or(true, |t| t < now)
    }
}

/// The SHA-256 that binds an approval to exactly what was asked.
pub fn params_hash(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Clone)]
pub struct Approvals {
    db: Database,
}

fn text(t: DateTime<Utc>) -> String {
    crate::db::stored_time(t)
}

impl Approvals {
    pub fn new(db: Database) -> Approvals {
        Approvals { db }
    }

    /// Opens a request for approval and returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        &self,
        requester: &str,
        channel: Option<&str>,
        command_text: &str,
        env: &str,
        params_hash: &str,
        needed: i64,
        ttl: std::time::Duration,
        correlation: &str,
        team: Option<&str>,
        message: Option<&crate::outbox::MessageRef>,
    ) -> Result<String, sqlx::Error> {
        let uuid = uuid::Uuid::now_v7().simple().to_string();
        // The random tail of a v7 uuid: short enough to type, unguessable enough.
        let id = format!("A-{}", &uuid[uuid.len() - 10..]);
        let now = Utc::now();
        let expires =
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15));
        self.db
            .execute(
                "INSERT INTO approvals (id, created_at, expires_at, requester, channel, command_text, env, params_hash, needed, approvers, state, correlation, team, message_channel, message_ts) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', 'pending', $10, $11, $12, $13)",
                vec![
                    id.clone().into(),
                    text(now).into(),
                    text(expires).into(),
                    requester.into(),
                    channel.into(),
                    command_text.into(),
                    env.into(),
                    params_hash.into(),
                    needed.into(),
                    correlation.into(),
                    team.into(),
                    message.map(|m| m.channel.as_str()).into(),
                    message.map(|m| m.ts.as_str()).into(),
                ],
            )
            .await?;
        Ok(id)
    }

    /// Requests still pending whose time ran out before `now`.
    pub async fn expired_pending(&self, now: DateTime<Utc>) -> Result<Vec<Approval>, sqlx::Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM approvals WHERE state = 'pending' AND expires_at < $1 ORDER BY id"
        )))
        .bind(text(now))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(approval_from).collect()
    }

    pub async fn get(&self, id: &str) -> Result<Option<Approval>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM approvals WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(approval_from).transpose()
    }

    /// Adds an approver (compare-and-set on the list, so two simultaneous clicks both count
    /// once or are retried, never lost or doubled). Returns the approval as it now stands.
    pub async fn add_approver(
        &self,
        a: &Approval,
        user: &str,
    ) -> Result<Option<Approval>, sqlx::Error> {
        if a.approvers.iter().any(|x| x == user) {
            return Ok(Some(a.clone()));
        }
        let before = a.approvers.join(",");
        let mut after = a.approvers.clone();
        after.push(user.to_string());
        let done = self
            .db
            .execute(
                "UPDATE approvals SET approvers = $1 WHERE id = $2 AND approvers = $3 AND state = 'pending'",
                vec![after.join(",").into(), a.id.clone().into(), before.into()],
            )
            .await?;
        if done == 1 {
            self.get(&a.id).await
        } else {
            Ok(None)
        }
    }

    /// Takes `user`'s approval back (compare-and-set, like `add_approver`): what happens when
    /// the approval could not be recorded in the audit trail.
    pub async fn remove_approver(&self, a: &Approval, user: &str) -> Result<bool, sqlx::Error> {
        let before = a.approvers.join(",");
        let after: Vec<&str> = a
            .approvers
            .iter()
            .map(String::as_str)
            .filter(|x| *x != user)
            .collect();
        let done = self
            .db
            .execute(
                "UPDATE approvals SET approvers = $1 WHERE id = $2 AND approvers = $3 AND state = 'pending'",
                vec![after.join(",").into(), a.id.clone().into(), before.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Moves a pending approval to `state` (`used` or `cancelled`); true for the one caller
    /// that made the move.
    pub async fn close(&self, id: &str, state: &str) -> Result<bool, sqlx::Error> {
        let done = self
            .db
            .execute(
                "UPDATE approvals SET state = $1 WHERE id = $2 AND state = 'pending'",
                vec![state.into(), id.into()],
            )
            .await?;
        Ok(done == 1)
    }
}

/// The columns `approval_from` reads.
const COLUMNS: &str = "id, expires_at, requester, channel, command_text, env, params_hash, needed, approvers, state, correlation, team, message_channel, message_ts";

fn approval_from(r: &sqlx::any::AnyRow) -> Result<Approval, sqlx::Error> {
    let approvers: String = r.try_get("approvers")?;
    Ok(Approval {
        id: r.try_get("id")?,
        expires_at: r.try_get("expires_at")?,
        requester: r.try_get("requester")?,
        channel: r.try_get("channel")?,
        command_text: r.try_get("command_text")?,
        env: r.try_get("env")?,
        params_hash: r.try_get("params_hash")?,
        needed: r.try_get("needed")?,
        approvers: approvers
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        state: r.try_get("state")?,
        correlation: r.try_get("correlation")?,
        team: r.try_get("team")?,
        message: match (
            r.try_get::<Option<String>, _>("message_channel")?,
            r.try_get::<Option<String>, _>("message_ts")?,
        ) {
            (Some(channel), Some(ts)) => Some(crate::outbox::MessageRef { channel, ts }),
            _ => None,
        },
    })
}
