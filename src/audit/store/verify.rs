//! Verifying the chain: every hash recomputed, in parallel ranges stitched together, from
//! event 1 or from the boundary an archive left.

use super::*;

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    /// The hash of the last event: the chain head to keep outside the database.
    pub head: String,
    /// Events up to this id were archived (removed behind a boundary event).
    pub archived_through: Option<i64>,
    pub first_problem: Option<Problem>,
}

/// One id range's result in [`AuditStore::verify`].
struct RangeCheck {
    /// The first event's id and prev_hash, for stitching to the range before.
    first: Option<(i64, String)>,
    last_id: i64,
    last_hash: String,
    events: u64,
    problem: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub id: i64,
    pub what: String,
}

impl AuditStore {
    /// Where verification starts: event 1 with the genesis hash, or, after archives, the
    /// first remaining event, vouched for by a boundary event that recorded its predecessor.
    pub(super) async fn chain_start(&self) -> Result<(i64, String, Option<i64>)> {
        let err = |e| self.db.error(e);
        let first = sqlx::query("SELECT id, prev_hash FROM audit_events ORDER BY id LIMIT 1")
            .fetch_optional(self.db.pool())
            .await
            .map_err(err)?;
        let Some(first) = first else {
            return Ok((1, GENESIS.to_string(), None));
        };
        let id: i64 = first.try_get(0).map_err(err)?;
        let prev: String = first.try_get(1).map_err(err)?;
        if id == 1 {
            return Ok((1, GENESIS.to_string(), None));
        }
        let boundaries: Vec<String> =
            sqlx::query_scalar("SELECT detail FROM audit_events WHERE phase = 'archived'")
                .fetch_all(self.db.pool())
                .await
                .map_err(err)?;
        let vouched = boundaries
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .any(|d| {
                d["removed_through"].as_i64() == Some(id - 1)
                    && d["removed_head_hash"].as_str() == Some(prev.as_str())
            });
        if vouched {
            Ok((id, prev, Some(id - 1)))
        } else {
            // Nothing vouches for the missing start: verify will report the first event.
            Ok((1, GENESIS.to_string(), None))
        }
    }

    /// Walks the whole chain in order, recomputing every hash. Stops at the first problem.
    /// Reads in pages of ids (fetching a page at once is several times faster than streaming
    /// row by row through SQLite's driver thread).
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.verify_in(None).await
    }

    /// [`verify`](Self::verify) reading the trail in `parts` parallel ranges (by default one
    /// per core, 2 to 4, for 200,000 events or more; tests force several on small trails).
    pub async fn verify_in(&self, parts: Option<i64>) -> Result<VerifyReport> {
        let (first_id, genesis, archived_through) = self.chain_start().await?;
        let max_id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_events")
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| self.db.error(e))?;
        let max_id = max_id.unwrap_or(0);
        // Large trails are read as consecutive id ranges on parallel connections (each
        // connection has its own driver thread), then stitched: range k+1 must start at the
        // id after range k's last and point at its hash.
        let events = (max_id - first_id + 1).max(0);
        let parts = match parts {
            Some(n) => n.max(1),
            None if events >= 200_000 => {
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4)) as i64
            }
            None => 1,
        };
        let step = events / parts + 1;
        let mut tasks = Vec::new();
        for k in 0..parts {
            // Range k covers ids in (lo, hi]; the last one is open-ended (appends go on).
            let lo = if k == 0 {
                i64::MIN
            } else {
                first_id - 1 + k * step
            };
            let hi = if k == parts - 1 {
                i64::MAX
            } else {
                first_id - 1 + (k + 1) * step
            };
            let store = self.clone();
            tasks.push(tokio::spawn(
                async move { store.verify_range(lo, hi).await },
            ));
        }
        let mut report = VerifyReport {
            events: 0,
            head: genesis,
            archived_through,
            first_problem: None,
        };
        let mut expected_id = first_id;
        for task in tasks {
            let range = task
                .await
                .map_err(|e| crate::Error::AuditWrite(format!("verify task failed: {e}")))??;
            let Some((id, prev)) = &range.first else {
                continue;
            };
            let stitch = if *id != expected_id {
                Some(format!(
                    "expected event {expected_id} next but found {id}: events were removed or inserted"
                ))
            } else if *prev != report.head {
                Some("its prev_hash does not match the previous event's hash: an event before it was changed, removed or inserted".to_string())
            } else {
                None
            };
            if let Some(what) = stitch {
                report.first_problem = Some(Problem { id: *id, what });
                return Ok(report);
            }
            report.events += range.events;
            if range.events > 0 {
                report.head = range.last_hash;
                expected_id = range.last_id + 1;
            }
            if let Some(problem) = range.problem {
                report.first_problem = Some(problem);
                return Ok(report);
            }
        }
        Ok(report)
    }

    /// Checks the events with ids in (lo, hi] among themselves: consecutive ids, each
    /// pointing at the previous one's hash, each matching its own hash.
    async fn verify_range(&self, lo: i64, hi: i64) -> Result<RangeCheck> {
        const PAGE: i64 = 10_000;
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT {PAGE}"
        );
        let mut check = RangeCheck {
            first: None,
            last_id: lo,
            last_hash: String::new(),
            events: 0,
            problem: None,
        };
        let mut buf = Vec::with_capacity(1024);
        // On SQLite, read through the native driver: sqlx's `Any` layer costs several times
        // the hashing itself per row (BENCHMARKS.md).
        let mut native = match self.db.sqlite_path() {
            Some(path) => {
                use sqlx::ConnectOptions;
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true);
                Some(options.connect().await.map_err(|e| self.db.error(e))?)
            }
            None => None,
        };
        let mut after = lo;
        loop {
            let page = match native.as_mut() {
                Some(conn) => sqlx::query_as::<_, Record>(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(after)
                    .bind(hi)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| self.db.error(e))?,
                None => {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(after)
                        .bind(hi)
                        .fetch_all(self.db.pool())
                        .await
                        .map_err(|e| self.db.error(e))?;
                    rows.iter()
                        .map(record_from)
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| self.db.error(e))?
                }
            };
            let Some(last) = page.last() else { break };
            after = last.id;
            for record in page {
                let problem = if check.first.is_none() {
                    None
                } else if record.id != check.last_id + 1 {
                    Some(format!(
                        "expected event {} next but found {}: events were removed or inserted",
                        check.last_id + 1,
                        record.id
                    ))
                } else if record.prev_hash != check.last_hash {
                    Some("its prev_hash does not match the previous event's hash: an event before it was changed, removed or inserted".into())
                } else {
                    None
                };
                let problem = problem.or_else(|| {
                    (hash_with(&mut buf, &record) != record.hash).then(|| {
                        "its content does not match its hash: it was changed after it was written"
                            .to_string()
                    })
                });
                if check.first.is_none() {
                    check.first = Some((record.id, record.prev_hash.clone()));
                }
                if let Some(what) = problem {
                    check.problem = Some(Problem {
                        id: record.id,
                        what,
                    });
                    return Ok(check);
                }
                check.events += 1;
                check.last_id = record.id;
                check.last_hash = record.hash;
            }
        }
        Ok(check)
    }
}

impl AuditStore {
    /// Checks that the events after `after_id` hash correctly and chain onto `after_hash` (the
    /// hash event `after_id` had when it was last checked): what anchoring runs before stamping
    /// a new head, so a token only ever vouches for a chain that extends the one stamped before.
    /// `None` when they do; the first problem otherwise.
    pub async fn check_after(&self, after_id: i64, after_hash: &str) -> Result<Option<Problem>> {
        let range = self.verify_range(after_id, i64::MAX).await?;
        if let Some((first, prev)) = &range.first {
            if *first != after_id + 1 {
                return Ok(Some(Problem {
                    id: *first,
                    what: format!(
                        "expected event {} next but found {first}: events were removed or inserted",
                        after_id + 1
                    ),
                }));
            }
            if prev != after_hash {
                return Ok(Some(Problem {
                    id: *first,
                    what: format!(
                        "its prev_hash is not the hash event {after_id} had when it was stamped: the trail before it was rewritten"
                    ),
                }));
            }
        }
        Ok(range.problem)
    }
}
