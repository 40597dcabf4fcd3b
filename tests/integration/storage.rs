//! The database layer on both back-ends, against real servers: migrations apply (once),
//! and data makes a round trip through the same queries on SQLite and PostgreSQL.

use crate::common::databases::TestDb;

#[tokio::test]
async fn migrations_apply_once_and_data_round_trips_on_every_backend() {
    for t in TestDb::all().await {
        let db = t.db();
        let label = t.label();
        assert_eq!(
            db.applied_migrations().await.expect("count"),
            0,
            "{label}: new database"
        );
        let applied = db.migrate().await.expect("migrate");
        assert!(
            applied >= 1,
            "{label}: migrations applied on a new database"
        );
        assert_eq!(
            db.migrate().await.expect("migrate again"),
            0,
            "{label}: second run applies nothing"
        );

        let created_by: String =
            sqlx::query_scalar("SELECT value FROM pitcrew_meta WHERE key = $1")
                .bind("created_by")
                .fetch_one(db.pool())
                .await
                .expect("created_by");
        assert!(created_by.starts_with("pitcrew "), "{label}: {created_by}");

        // Text with quotes, newlines and non-ASCII survives as it was written.
        let tricky = "it's \"prod\"\n— ünïcödé ✓";
        sqlx::query("INSERT INTO pitcrew_meta (key, value) VALUES ($1, $2)")
            .bind("round-trip")
            .bind(tricky)
            .execute(db.pool())
            .await
            .expect("insert");
        let back: String = sqlx::query_scalar("SELECT value FROM pitcrew_meta WHERE key = $1")
            .bind("round-trip")
            .fetch_one(db.pool())
            .await
            .expect("select");
        assert_eq!(back, tricky, "{label}");

        // The primary key holds on both.
        let dup = sqlx::query("INSERT INTO pitcrew_meta (key, value) VALUES ($1, $2)")
            .bind("round-trip")
            .bind("again")
            .execute(db.pool())
            .await;
        assert!(dup.is_err(), "{label}: duplicate key refused");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_full_sync() {
    let t = TestDb::sqlite().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(t.db().pool())
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(t.db().pool())
        .await
        .expect("synchronous");
    assert_eq!(sync, 2, "synchronous = FULL");
    t.cleanup().await;
}

/// Request de-duplication and approvals are shared state between replicas: on both back-ends,
/// a request id is new exactly once, and an approval is used exactly once even when two
/// callers race for it.
#[tokio::test]
async fn dedup_and_approvals_hold_on_every_backend() {
    use pitcrew::chat::dedup::Dedup;
    use pitcrew::workflow::approvals::{Approvals, params_hash};
    for t in TestDb::all().await {
        let label = t.label();
        t.db().migrate().await.expect("migrate");
        let dedup = Dedup::new(t.db().clone());
        let firsts =
            futures::future::join_all((0..8).map(|_| dedup.first_time("trigger:1.2.3"))).await;
        let new = firsts.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(
            new, 1,
            "{label}: one of eight concurrent arrivals is new: {firsts:?}"
        );
        assert_eq!(
            dedup.first_time("trigger:1.2.4").await.ok(),
            Some(true),
            "{label}"
        );

        let store = Approvals::new(t.db().clone());
        let hash = params_hash(&["restart deployment/checkout -e prod", "U01A"]);
        let id = store
            .open(
                "U01A",
                Some("C01"),
                "restart checkout -e prod",
                "prod",
                &hash,
                1,
                std::time::Duration::from_secs(60),
                "0198a7c4-0000-7000-8000-000000000001",
                Some("T0PITCREW"),
                Some(&pitcrew::outbox::MessageRef {
                    channel: "C01".into(),
                    ts: "1733400000.000100".into(),
                }),
            )
            .await
            .expect("open");
        let a = store.get(&id).await.expect("get").expect("exists");
        assert_eq!(
            (a.correlation.as_deref(), a.team.as_deref()),
            (
                Some("0198a7c4-0000-7000-8000-000000000001"),
                Some("T0PITCREW")
            ),
            "the waiting command's correlation id and workspace are stored with it"
        );
        assert_eq!(
            a.message
                .as_ref()
                .map(|m| (m.channel.as_str(), m.ts.as_str())),
            Some(("C01", "1733400000.000100")),
            "{label}: the message showing it, to say there when it expires"
        );
        assert_eq!(
            (a.state.as_str(), a.needed, a.params_hash.as_str()),
            ("pending", 1, hash.as_str()),
            "{label}"
        );
        let a = store
            .add_approver(&a, "U02B")
            .await
            .expect("approve")
            .expect("recorded");
        assert_eq!(a.approvers, vec!["U02B".to_string()], "{label}");
        let closes = futures::future::join_all((0..6).map(|_| store.close(&id, "used"))).await;
        let won = closes.iter().filter(|r| matches!(r, Ok(true))).count();
        assert_eq!(won, 1, "{label}: single-use under concurrency: {closes:?}");
        assert_eq!(
            store.get(&id).await.expect("get").map(|a| a.state),
            Some("used".into()),
            "{label}"
        );
        t.cleanup().await;
    }
}

/// Workload locks across replicas on both back-ends: one holder at a time even when many
/// try at once from two replicas; released for the next action; a crashed replica's lock is
/// taken over once its lease has run out, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_locks_hold_across_replicas_and_free_themselves_after_a_crash() {
    use pitcrew::workflow::locks::{LockError, Locks};
    for t in TestDb::all().await {
        let label = t.label();
        t.db().migrate().await.expect("migrate");
        let a = Locks::new(Some(t.db().clone()));
        let b = Locks::new(Some(t.another_replica().await));
        let key = "main/shop-prod/deployment/checkout";

        // 20 attempts at once, half on each replica: exactly one wins.
        let attempts: Vec<_> = (0..20)
            .map(|i| {
                let locks = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { locks.lock(key, &format!("c{i}")).await })
            })
            .collect();
        let mut won = Vec::new();
        for attempt in attempts {
            match attempt.await.expect("task") {
                Ok(guard) => won.push(guard),
                Err(LockError::Busy { .. }) => {}
                Err(e) => panic!("{label}: {e}"),
            }
        }
        assert_eq!(won.len(), 1, "{label}: one holder at a time");
        // Another workload is not blocked by it.
        let other = b
            .lock("main/shop-prod/deployment/cart", "c-cart")
            .await
            .expect("another workload");
        drop(other);

        // Released: the other replica gets it (the release runs in the background).
        drop(won);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let guard = loop {
            match b.lock(key, "c-next").await {
                Ok(g) => break g,
                Err(LockError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{label}: not released: {e}"),
            }
        };
        drop(guard);

        // A replica that died holding a lock: its row stays until the lease runs out.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let lease = |secs: i64| {
            (chrono::Utc::now() + chrono::Duration::seconds(secs))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        sqlx::query("DELETE FROM workload_locks")
            .execute(t.db().pool())
            .await
            .expect("clear");
        sqlx::query(
            "INSERT INTO workload_locks (lock_key, holder, token, correlation, acquired_at, expires_at) VALUES ($1, 'dead-host:1:x', 't', 'c-dead', $2, $3)",
        )
        .bind(key)
        .bind(lease(-5))
        .bind(lease(20))
        .execute(t.db().pool())
        .await
        .expect("a live lease of a dead replica");
        match a.lock(key, "c-too-early").await {
            Err(LockError::Busy { by, .. }) => {
                assert!(by.contains("dead-host"), "{label}: {by}")
            }
            other => panic!("{label}: a live lease must block, got {:?}", other.err()),
        }
        sqlx::query("UPDATE workload_locks SET expires_at = $1")
            .bind(lease(-1))
            .execute(t.db().pool())
            .await
            .expect("the lease runs out");
        let taken = a.lock(key, "c-after").await;
        assert!(
            taken.is_ok(),
            "{label}: an expired lease is taken over: {:?}",
            taken.err()
        );
        drop(taken);
        t.cleanup().await;
    }
}

/// Housekeeping on both back-ends: request ids past the signature window (plus margin),
/// delivered outbox items and long-expired approvals are deleted; undelivered items, fresh ids
/// and live approvals stay; a second pass deletes nothing more; the sizes `/metrics` shows
/// count what is left.
#[tokio::test]
async fn housekeeping_prunes_only_what_is_past_keeping() {
    use pitcrew::housekeeping::{self, Pruned};
    let long_ago = "2020-01-01T00:00:00.000Z";
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for t in TestDb::all().await {
        let db = t.db();
        let label = t.label();
        db.migrate().await.expect("migrate");
        for (key, at) in [("trigger:old", long_ago), ("trigger:new", now.as_str())] {
            sqlx::query("INSERT INTO slack_requests (request_key, received_at) VALUES ($1, $2)")
                .bind(key)
                .bind(at)
                .execute(db.pool())
                .await
                .expect("request id");
        }
        for (marker, delivered) in [
            ("old-delivered", Some(long_ago)),
            ("new-delivered", Some(now.as_str())),
            ("old-undelivered", None),
        ] {
            sqlx::query(
                "INSERT INTO outbox (created_at, kind, target, marker, body, next_attempt_at, delivered_at) \
                 VALUES ($1, 'slack-announce', 'C01', $2, 'x', $1, $3)",
            )
            .bind(long_ago)
            .bind(marker)
            .bind(delivered)
            .execute(db.pool())
            .await
            .expect("outbox item");
        }
        for (id, expires) in [("A-old", long_ago), ("A-live", now.as_str())] {
            sqlx::query(
                "INSERT INTO approvals (id, created_at, expires_at, requester, command_text, env, params_hash, needed, state) \
                 VALUES ($1, $2, $2, 'U01', 'restart x', 'prod', 'h', 0, 'pending')",
            )
            .bind(id)
            .bind(expires)
            .execute(db.pool())
            .await
            .expect("approval");
        }

        let pruned = housekeeping::prune(db).await.expect("prune");
        assert_eq!(
            pruned,
            Pruned {
                slack_requests: 1,
                outbox: 1,
                approvals: 1
            },
            "{label}"
        );
        assert_eq!(
            housekeeping::prune(db).await.expect("prune again"),
            Pruned::default(),
            "{label}: nothing more to delete"
        );
        let rows = housekeeping::table_rows(db).await.expect("sizes");
        assert_eq!(
            rows,
            vec![
                ("slack_requests", 1),
                ("outbox", 2),
                ("approvals", 1),
                ("workload_locks", 0)
            ],
            "{label}"
        );
        let left: Vec<String> = sqlx::query_scalar("SELECT marker FROM outbox ORDER BY marker")
            .fetch_all(db.pool())
            .await
            .expect("outbox");
        assert_eq!(left, ["new-delivered", "old-undelivered"], "{label}");
        t.cleanup().await;
    }
}

/// Group commit: concurrent writes share transactions, every caller gets its own result after
/// the commit, and a write that fails inside a batch fails alone (on PostgreSQL a failed
/// statement would otherwise abort the whole transaction and every write in it).
#[tokio::test]
async fn group_commit_gives_each_write_its_own_result_on_every_backend() {
    for t in TestDb::all().await {
        let label = t.label();
        let db = t.db().clone();
        db.migrate().await.expect("migrate");
        let insert = |key: String| {
            let db = db.clone();
            async move {
                db.write(move |conn| {
                    let key = key.clone();
                    Box::pin(async move {
                        let table = if key.starts_with("bad") {
                            "no_such_table"
                        } else {
                            "slack_requests"
                        };
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "INSERT INTO {table} (request_key, received_at) VALUES ($1, 'x')"
                        )))
                        .bind(key)
                        .execute(conn)
                        .await
                        .map(|r| r.rows_affected())
                    })
                })
                .await
            }
        };
        let keys: Vec<String> = (0..64)
            .map(|i| {
                if i % 16 == 5 {
                    format!("bad-{i}")
                } else {
                    format!("group-{i}")
                }
            })
            .collect();
        let results = futures::future::join_all(keys.iter().cloned().map(insert)).await;
        for (key, result) in keys.iter().zip(&results) {
            match (key.starts_with("bad"), result) {
                (false, Ok(1)) => {}
                (true, Err(e)) => assert!(e.to_string().contains("no_such_table"), "{label}: {e}"),
                other => panic!("{label}: {key}: {other:?}"),
            }
        }
        let stored: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM slack_requests WHERE request_key LIKE 'group-%'",
        )
        .fetch_one(db.pool())
        .await
        .expect("count");
        assert_eq!(stored, 60, "{label}: every good write is durable, once");
        t.cleanup().await;
    }
}

/// Requests nobody answered in time are closed in the trail: with two replicas sweeping at
/// once, each expired request is recorded `cancelled` (reason `expired`) exactly once, its
/// channel is told once, and requests still in time are left alone.
#[tokio::test]
async fn expired_requests_are_closed_once_across_replicas_on_every_backend() {
    use pitcrew::workflow::approvals::Approvals;
    for t in TestDb::all().await {
        let label = t.label();
        let db = t.db().clone();
        db.migrate().await.expect("migrate");
        let (_dir, path) =
            crate::common::app::TestConfig::new("p, U01A, *, *, *, *, *, *, allow\n")
                .offline()
                .environment("prod", "shop")
                .write();
        let replica = || crate::common::app::replica_on(&path, &db);
        let (one, two) = (replica(), replica());
        let store = Approvals::new(db.clone());
        let open = |ttl: u64, n: usize| {
            let store = store.clone();
            async move {
                store
                    .open(
                        "U01A",
                        Some("C01INCIDENT"),
                        &format!("restart deployment/app-{n} -e prod"),
                        "prod",
                        "hash",
                        1,
                        std::time::Duration::from_secs(ttl),
                        &format!("corr-{n}"),
                        Some("T0PITCREW"),
                        None,
                    )
                    .await
                    .expect("open")
            }
        };
        let expired = [open(0, 1).await, open(0, 2).await];
        let fresh = open(3600, 3).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let (a, b) = tokio::join!(
            pitcrew::workflow::close_expired(&one),
            pitcrew::workflow::close_expired(&two)
        );
        let (a, b) = (a.expect("sweep"), b.expect("sweep"));
        assert_eq!(
            a.len() + b.len(),
            2,
            "{label}: each closed once: {a:?} {b:?}"
        );
        for id in &expired {
            let row = store.get(id).await.expect("get").expect("row");
            assert_eq!(row.state, "expired", "{label}");
        }
        assert_eq!(
            store.get(&fresh).await.expect("get").expect("row").state,
            "pending",
            "{label}"
        );
        let trail = pitcrew::audit::AuditStore::new(db.clone())
            .query(&pitcrew::audit::Filter::default())
            .await
            .expect("trail");
        let cancelled: Vec<_> = trail
            .iter()
            .filter(|r| r.phase == "cancelled" && r.detail.contains("\"expired\""))
            .map(|r| r.correlation.clone())
            .collect();
        assert_eq!(cancelled.len(), 2, "{label}: {cancelled:?}");
        assert!(
            cancelled.contains(&"corr-1".to_string()) && cancelled.contains(&"corr-2".to_string())
        );
        let told = pitcrew::outbox::Outbox::new(db.clone())
            .items()
            .await
            .expect("outbox");
        assert_eq!(
            told.len(),
            2,
            "{label}: the channel is told once per request"
        );
        assert!(
            told.iter()
                .all(|i| i.target == "C01INCIDENT" && i.body.contains("expired"))
        );
        t.cleanup().await;
    }
}
