//! Reading the trail: filtered queries, one event, and what reconciliation looks for.

use super::*;

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
    /// Only the events of commands this Slack user approved (an `approval` event of theirs).
    pub approver: Option<String>,
    /// Only events with an id up to this one.
    pub through_id: Option<i64>,
    /// Only events after this id (a SIEM shipper's cursor).
    pub after_id: Option<i64>,
    pub limit: Option<i64>,
}

/// Who asked for a command (the actor of its `requested` event) and who approved it (the
/// actors of its `approval` events, in order): what a reviewer reads beside each event.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Parties {
    pub requester: Option<String>,
    pub approvers: Vec<String>,
}

impl AuditStore {
    /// The [`Parties`] of the commands `records` belong to, by correlation id.
    pub async fn parties(
        &self,
        records: &[Record],
    ) -> Result<std::collections::HashMap<String, Parties>> {
        let mut correlations: Vec<&str> = records.iter().map(|r| r.correlation.as_str()).collect();
        correlations.sort_unstable();
        correlations.dedup();
        let mut parties = std::collections::HashMap::<String, Parties>::new();
        // Bound the placeholders per statement (PostgreSQL and SQLite both allow far more).
        for chunk in correlations.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT correlation, phase, actor_id FROM audit_events \
                 WHERE phase IN ('requested', 'approval') AND correlation IN ({}) ORDER BY id",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in chunk {
                query = query.bind(*c);
            }
            let rows = query
                .fetch_all(self.db.pool())
                .await
                .map_err(|e| self.db.error(e))?;
            for row in rows {
                let get = |c: &str| row.try_get::<String, _>(c).map_err(|e| self.db.error(e));
                let (correlation, phase, actor) =
                    (get("correlation")?, get("phase")?, get("actor_id")?);
                let p = parties.entry(correlation).or_default();
                if phase == "requested" {
                    p.requester.get_or_insert(actor);
                } else if !p.approvers.contains(&actor) {
                    p.approvers.push(actor);
                }
            }
        }
        Ok(parties)
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

    /// The newest event's id (0 for an empty trail).
    pub async fn last_id(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_events")
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        Ok(id.unwrap_or(0))
    }

    /// Events matching `filter`, oldest first.
    pub async fn query(&self, filter: &Filter) -> Result<Vec<Record>> {
        let mut clauses = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut add = |clause: &str, value: &Option<String>| {
            if let Some(v) = value {
                values.push(v.clone());
                // `?` in the clause is where its value's placeholder goes.
                clauses.push(clause.replace('?', &format!("${}", values.len())));
            }
        };
        add("at >= ?", &filter.since);
        add("at < ?", &filter.until);
        add("actor_id = ?", &filter.actor);
        add("env = ?", &filter.env);
        add("cluster = ?", &filter.cluster);
        add("namespace = ?", &filter.namespace);
        add("kind = ?", &filter.kind);
        add("name = ?", &filter.name);
        add("action = ?", &filter.action);
        add("phase = ?", &filter.phase);
        add("reason = ?", &filter.reason);
        add("correlation = ?", &filter.correlation);
        add(
            "correlation IN (SELECT correlation FROM audit_events WHERE phase = 'approval' AND actor_id = ?)",
            &filter.approver,
        );
        if let Some(id) = filter.through_id {
            // An integer, formatted: nothing a user typed.
            clauses.push(format!("id <= {id}"));
        }
        if let Some(id) = filter.after_id {
            clauses.push(format!("id > {id}"));
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
