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
    /// Only events with an id up to this one.
    pub through_id: Option<i64>,
    pub limit: Option<i64>,
}

impl AuditStore {
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

    /// Events matching `filter`, oldest first.
    pub async fn query(&self, filter: &Filter) -> Result<Vec<Record>> {
        let mut clauses = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut add = |clause: &str, value: &Option<String>| {
            if let Some(v) = value {
                values.push(v.clone());
                clauses.push(format!("{clause} ${}", values.len()));
            }
        };
        add("at >=", &filter.since);
        add("at <", &filter.until);
        add("actor_id =", &filter.actor);
        add("env =", &filter.env);
        add("cluster =", &filter.cluster);
        add("namespace =", &filter.namespace);
        add("kind =", &filter.kind);
        add("name =", &filter.name);
        add("action =", &filter.action);
        add("phase =", &filter.phase);
        add("reason =", &filter.reason);
        add("correlation =", &filter.correlation);
        if let Some(id) = filter.through_id {
            // An integer, formatted: nothing a user typed.
            clauses.push(format!("id <= {id}"));
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
