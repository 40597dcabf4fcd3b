//! GitOps reconciliation that pitcrew suspended (`gitops suspend APP --for 2h`), kept in the
//! `gitops_suspensions` table so the deadline outlives any one replica: `serve` resumes each
//! one when its time is up (claiming it first, so exactly one replica does), and the
//! workflow lets workloads its object manages be changed meanwhile.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::command::Kind;
use crate::db::{Database, stored_time};
use crate::names::EnvName;

/// One suspension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suspension {
    pub id: String,
    pub env: String,
    pub cluster: String,
    pub namespace: String,
    pub kind: Kind,
    pub name: String,
    pub suspended_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub suspended_by: String,
    pub correlation: String,
    pub channel: Option<String>,
    /// What resuming puts back (Argo CD's automated sync policy; `null` for Flux).
    pub restore: serde_json::Value,
}

/// What a new suspension records.
pub struct NewSuspension<'a> {
    pub env: &'a EnvName,
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub kind: Kind,
    pub name: &'a str,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub suspended_by: &'a str,
    pub correlation: &'a str,
    pub channel: Option<&'a str>,
    pub restore: &'a serde_json::Value,
}

#[derive(Clone)]
pub struct Suspensions {
    db: Database,
}

/// The columns a [`Suspension`] is read from (a macro, so queries stay `&'static str`).
macro_rules! columns {
    () => {
        "SELECT id, env, cluster, namespace, kind, name, suspended_at, until, suspended_by, \
         correlation, channel, restore FROM gitops_suspensions"
    };
}

impl Suspensions {
    pub fn new(db: Database) -> Suspensions {
        Suspensions { db }
    }

    /// Records a suspension (before the object is patched); returns it.
    pub async fn record(&self, s: &NewSuspension<'_>) -> Result<Suspension, sqlx::Error> {
        let uuid = uuid::Uuid::now_v7().simple().to_string();
        let id = format!("S-{}", &uuid[uuid.len() - 10..]);
        self.db
            .execute(
                "INSERT INTO gitops_suspensions (id, env, cluster, namespace, kind, name, \
                 suspended_at, until, suspended_by, correlation, channel, restore) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                vec![
                    id.clone().into(),
                    s.env.as_str().into(),
                    s.cluster.into(),
                    s.namespace.into(),
                    s.kind.as_str().into(),
                    s.name.into(),
                    stored_time(s.now).into(),
                    stored_time(s.until).into(),
                    s.suspended_by.into(),
                    s.correlation.into(),
                    s.channel.into(),
                    s.restore.to_string().into(),
                ],
            )
            .await?;
        Ok(Suspension {
            id,
            env: s.env.to_string(),
            cluster: s.cluster.to_string(),
            namespace: s.namespace.to_string(),
            kind: s.kind,
            name: s.name.to_string(),
            suspended_at: s.now,
            until: s.until,
            suspended_by: s.suspended_by.to_string(),
            correlation: s.correlation.to_string(),
            channel: s.channel.map(str::to_string),
            restore: s.restore.clone(),
        })
    }

    /// Removes a suspension whose patch failed (nothing was suspended; the trail says so).
    pub async fn forget(&self, id: &str) -> Result<(), sqlx::Error> {
        self.db
            .execute(
                "DELETE FROM gitops_suspensions WHERE id = $1 AND resumed_at IS NULL",
                vec![id.into()],
            )
            .await
            .map(drop)
    }

    /// The suspension not yet resumed of one object in `env`, if any.
    pub async fn open_for(
        &self,
        env: &EnvName,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Suspension>, sqlx::Error> {
        let rows = sqlx::query(concat!(
            columns!(),
            " WHERE env = $1 AND kind = $2 AND namespace = $3 AND name = $4 \
             AND resumed_at IS NULL ORDER BY until DESC"
        ))
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(namespace)
        .bind(name)
        .fetch_all(self.db.pool())
        .await?;
        rows.first().map(from_row).transpose()
    }

    /// Every suspension of `env` not yet resumed (the promote gate, `status -e`).
    pub async fn open_in(&self, env: &EnvName) -> Result<Vec<Suspension>, sqlx::Error> {
        let rows = sqlx::query(concat!(
            columns!(),
            " WHERE env = $1 AND resumed_at IS NULL ORDER BY until, id"
        ))
        .bind(env.as_str())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Suspensions whose deadline passed at `now`, not resumed, and not claimed by a replica
    /// resuming them (or whose claim ran out: that replica died).
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Suspension>, sqlx::Error> {
        let now = stored_time(now);
        let rows = sqlx::query(concat!(
            columns!(),
            " WHERE resumed_at IS NULL AND until <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY until, id"
        ))
        .bind(&now)
        .bind(&now)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Claims a due suspension for resuming until `until`; true for the one replica whose
    /// conditional UPDATE took it.
    pub async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = self
            .db
            .execute(
                "UPDATE gitops_suspensions SET claimed_until = $1 WHERE id = $2 \
                 AND resumed_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)",
                vec![
                    stored_time(until).into(),
                    id.into(),
                    stored_time(now).into(),
                ],
            )
            .await?;
        Ok(done == 1)
    }

    /// Marks a suspension resumed, once; false when it already was.
    pub async fn resumed(
        &self,
        id: &str,
        by: &str,
        correlation: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = self
            .db
            .execute(
                "UPDATE gitops_suspensions SET resumed_at = $1, resumed_by = $2, \
                 resume_correlation = $3 WHERE id = $4 AND resumed_at IS NULL",
                vec![
                    stored_time(at).into(),
                    by.into(),
                    correlation.into(),
                    id.into(),
                ],
            )
            .await?;
        Ok(done == 1)
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Suspension, sqlx::Error> {
    let decode =
        |column: &str, e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::ColumnDecode {
            index: column.to_string(),
            source: e,
        };
    let time = |column: &str| -> Result<DateTime<Utc>, sqlx::Error> {
        let text: String = r.try_get(column)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| decode(column, Box::new(e)))
    };
    let kind: String = r.try_get("kind")?;
    let kind = Kind::parse(&kind).map_err(|e| decode("kind", Box::new(e)))?;
    let restore: String = r.try_get("restore")?;
    Ok(Suspension {
        id: r.try_get("id")?,
        env: r.try_get("env")?,
        cluster: r.try_get("cluster")?,
        namespace: r.try_get("namespace")?,
        kind,
        name: r.try_get("name")?,
        suspended_at: time("suspended_at")?,
        until: time("until")?,
        suspended_by: r.try_get("suspended_by")?,
        correlation: r.try_get("correlation")?,
        channel: r.try_get("channel")?,
        restore: serde_json::from_str(&restore).map_err(|e| decode("restore", Box::new(e)))?,
    })
}
