//! Freezes set from chat, in the `freezes` table (written through the database's group
//! commit; any replica sees them at once).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Origin, Window};
use crate::db::{Database, stored_time};
use crate::names::EnvName;

#[derive(Clone)]
pub struct Freezes {
    db: Database,
}

impl Freezes {
    pub fn new(db: Database) -> Freezes {
        Freezes { db }
    }

    /// Records a freeze of `env` from `from` to `until`; returns it.
    pub async fn set(
        &self,
        env: &EnvName,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        set_by: &str,
        reason: &str,
        correlation: &str,
    ) -> Result<Window, sqlx::Error> {
        let uuid = uuid::Uuid::now_v7().simple().to_string();
        let id = format!("F-{}", &uuid[uuid.len() - 10..]);
        self.db
            .execute(
                "INSERT INTO freezes (id, env, starts_at, ends_at, set_by, reason, correlation) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    id.clone().into(),
                    env.as_str().into(),
                    stored_time(from).into(),
                    stored_time(until).into(),
                    set_by.into(),
                    reason.into(),
                    correlation.into(),
                ],
            )
            .await?;
        Ok(Window {
            from,
            until,
            origin: Origin::Chat {
                id,
                set_by: set_by.into(),
                reason: reason.into(),
                correlation: correlation.into(),
            },
        })
    }

    /// Freezes of `env` not lifted and not over at `now` (holding, or starting later).
    pub async fn current(
        &self,
        env: &EnvName,
        now: DateTime<Utc>,
    ) -> Result<Vec<Window>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, starts_at, ends_at, set_by, reason, correlation FROM freezes \
             WHERE env = $1 AND lifted_at IS NULL AND ends_at > $2 ORDER BY starts_at, id",
        )
        .bind(env.as_str())
        .bind(stored_time(now))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(window_from).collect()
    }

    /// Lifts every freeze of `env` that holds or is to come at `now`; returns those it lifted
    /// (a conditional UPDATE per freeze, so two replicas lifting at once each report only
    /// their own).
    pub async fn lift(
        &self,
        env: &EnvName,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Window>, sqlx::Error> {
        let mut lifted = Vec::new();
        for w in self.current(env, now).await? {
            let Origin::Chat { id, .. } = &w.origin else {
                continue;
            };
            let done = self
                .db
                .execute(
                    "UPDATE freezes SET lifted_at = $1, lifted_by = $2 WHERE id = $3 AND lifted_at IS NULL",
                    vec![stored_time(now).into(), by.into(), id.clone().into()],
                )
                .await?;
            if done == 1 {
                lifted.push(w);
            }
        }
        Ok(lifted)
    }
}

fn window_from(r: &sqlx::any::AnyRow) -> Result<Window, sqlx::Error> {
    let time = |column: &str| -> Result<DateTime<Utc>, sqlx::Error> {
        let text: String = r.try_get(column)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| sqlx::Error::ColumnDecode {
                index: column.to_string(),
                source: Box::new(e),
            })
    };
    Ok(Window {
        from: time("starts_at")?,
        until: time("ends_at")?,
        origin: Origin::Chat {
            id: r.try_get("id")?,
            set_by: r.try_get("set_by")?,
            reason: r.try_get("reason")?,
            correlation: r.try_get("correlation")?,
        },
    })
}
