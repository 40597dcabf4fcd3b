//! Break-glass commands and their after-the-fact reviews: a break-glass command that ran (it
//! has a `started` event with reason `break-glass`) stays unreviewed until a `reviewed` event
//! joins its story.

use super::*;

/// A break-glass command that ran and has no review yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreviewed {
    pub correlation: String,
    /// Who ran it.
    pub actor_id: String,
    pub command_text: String,
    pub env: Option<String>,
    /// When it started (its `started` event).
    pub started_at: String,
}

impl AuditStore {
    /// Break-glass commands that ran and nobody reviewed, oldest first.
    pub async fn unreviewed_break_glass(&self) -> Result<Vec<Unreviewed>> {
        let rows = sqlx::query(
            "SELECT correlation, actor_id, command_text, env, at FROM audit_events \
             WHERE phase = 'started' AND reason = 'break-glass' AND correlation NOT IN \
             (SELECT correlation FROM audit_events WHERE phase = 'reviewed') ORDER BY id",
        )
        .fetch_all(self.db.pool())
        .await
        .map_err(|e| self.db.error(e))?;
        rows.iter()
            .map(|r| {
                Ok(Unreviewed {
                    correlation: r.try_get("correlation")?,
                    actor_id: r.try_get("actor_id")?,
                    command_text: r.try_get("command_text")?,
                    env: r.try_get("env")?,
                    started_at: r.try_get("at")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(|e| self.db.error(e))
    }
}
