//! The `audit_anchors` table: timestamp tokens over the chain head (see `audit::anchors`).

use super::*;
use crate::db::Value;

const ANCHOR: &str = "id, event_id, head_hash, gen_time, tsa, token";

/// One stored anchor: event `event_id`, whose hash was `head_hash`, stamped at `gen_time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Anchor {
    pub id: i64,
    pub event_id: i64,
    pub head_hash: String,
    /// RFC 3339, as the token says (what `audit verify` reports; the token is what counts).
    pub gen_time: String,
    /// The TSA's certificate subject.
    pub tsa: String,
    /// The DER-encoded TimeStampToken, hex.
    pub token: String,
}

impl AuditStore {
    /// The last event's id and hash, if any.
    pub async fn head(&self) -> Result<Option<(i64, String)>> {
        let row = sqlx::query("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(|e| self.db.error(e))
    }

    /// The hash event `id` has now, if it is still in the database.
    pub async fn hash_of(&self, id: i64) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT hash FROM audit_events WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))
    }

    /// The hash each anchored event has now, by event id (events no longer in the database are
    /// missing).
    pub async fn anchored_hashes(&self) -> Result<std::collections::HashMap<i64, String>> {
        let rows = sqlx::query(
            "SELECT e.id, e.hash FROM audit_events e \
             WHERE e.id IN (SELECT event_id FROM audit_anchors)",
        )
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| self.db.error(e))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| self.db.error(e))
    }

    /// Every anchor, oldest first.
    pub async fn anchors(&self) -> Result<Vec<Anchor>> {
        self.anchors_by(
            &format!("SELECT {ANCHOR} FROM audit_anchors ORDER BY id"),
            None,
        )
        .await
    }

    /// The newest anchor.
    pub async fn last_anchor(&self) -> Result<Option<Anchor>> {
        let sql = format!("SELECT {ANCHOR} FROM audit_anchors ORDER BY id DESC LIMIT 1");
        Ok(self.anchors_by(&sql, None).await?.pop())
    }

    /// The anchors of events up to `last` (what an archive of those events carries).
    pub async fn anchors_through(&self, last: i64) -> Result<Vec<Anchor>> {
        let sql = format!("SELECT {ANCHOR} FROM audit_anchors WHERE event_id <= $1 ORDER BY id");
        self.anchors_by(&sql, Some(last)).await
    }

    async fn anchors_by(&self, sql: &str, bound: Option<i64>) -> Result<Vec<Anchor>> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        if let Some(b) = bound {
            query = query.bind(b);
        }
        let rows = query
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        rows.iter()
            .map(|r| {
                Ok(Anchor {
                    id: r.try_get(0)?,
                    event_id: r.try_get(1)?,
                    head_hash: r.try_get(2)?,
                    gen_time: r.try_get(3)?,
                    tsa: r.try_get(4)?,
                    token: r.try_get(5)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| self.db.error(e))
    }

    /// Stores a token that was checked against the configured root.
    pub async fn add_anchor(
        &self,
        event_id: i64,
        head_hash: &str,
        gen_time: &str,
        tsa: &str,
        token: &[u8],
    ) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO audit_anchors (event_id, head_hash, gen_time, tsa, token) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    Value::Int(event_id),
                    Value::Text(head_hash.to_string()),
                    Value::Text(gen_time.to_string()),
                    Value::Text(tsa.to_string()),
                    Value::Text(hex::encode(token)),
                ],
            )
            .await
            .map(|_| ())
            .map_err(|e| Error::AuditWrite(self.db.error(e).to_string()))
    }
}
