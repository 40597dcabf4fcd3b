//! The audit trail on both back-ends against real servers: append-only at the database, a
//! hash chain that concurrent writers never fork, and `verify` naming the first event that
//! was altered, removed or inserted behind the store's back.

use pitcrew::audit::{AuditStore, Filter, NewEvent};
use pitcrew::db::Backend;
use sqlx::AssertSqlSafe;

use crate::common::databases::TestDb;

fn event(i: usize, phase: &str) -> NewEvent {
    NewEvent {
        correlation: format!("corr-{}", i / 3),
        phase: phase.into(),
        actor_id: if i.is_multiple_of(2) {
            "U0ALICE01".into()
        } else {
            "U0BOB0001".into()
        },
        channel: Some("C0INCIDENT".into()),
        command_text: format!("restart checkout -e prod --reason CHG-{i}"),
        action: Some("restart".into()),
        env: Some(
            if i.is_multiple_of(4) {
                "staging"
            } else {
                "prod"
            }
            .into(),
        ),
        cluster: Some("main".into()),
        namespace: Some("shop".into()),
        kind: Some("deployment".into()),
        name: Some("checkout".into()),
        reason: Some(format!("CHG-{i}")),
        detail: serde_json::json!({"i": i}),
        ..NewEvent::default()
    }
}

async fn store(t: &TestDb) -> AuditStore {
    t.db().migrate().await.expect("migrate");
    AuditStore::new(t.db().clone())
}

/// Runs SQL that bypasses the store (tests only).
async fn raw(t: &TestDb, sql: &str) -> Result<u64, sqlx::Error> {
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(t.db().pool())
        .await
        .map(|r| r.rows_affected())
}

#[tokio::test]
async fn update_and_delete_are_refused_by_the_database() {
    for t in TestDb::all().await {
        let s = store(&t).await;
        s.append(event(0, "requested")).await.expect("append");
        let label = t.label();
        let e = raw(&t, "UPDATE audit_events SET phase = 'succeeded'")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{label}: {e}");
        let e = raw(&t, "DELETE FROM audit_events").await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{label}: {e}");
        if t.db().backend() == Backend::Postgres {
            let e = raw(&t, "TRUNCATE audit_events").await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{label}: {e}");
        }
        assert_eq!(s.verify().await.expect("verify").events, 1, "{label}");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_writers_never_fork_the_chain() {
    for t in TestDb::all().await {
        let s = store(&t).await;
        let mut tasks = Vec::new();
        for w in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    s.append(event(w * 100 + i, "requested"))
                        .await
                        .expect("append");
                }
            }));
        }
        for task in tasks {
            task.await.expect("writer");
        }
        let report = s.verify().await.expect("verify");
        assert_eq!(report.first_problem, None, "{}", t.label());
        assert_eq!(report.events, 200, "{}", t.label());
        let all = s.query(&Filter::default()).await.expect("query");
        let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            (1..=200).collect::<Vec<_>>(),
            "{}: one chain, no gaps",
            t.label()
        );
        assert_eq!(report.head, all[199].hash);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn two_processes_on_postgresql_never_fork_the_chain() {
    // Two stores with their own pools and their own in-process locks behave like two
    // replicas: only PostgreSQL's advisory lock keeps their appends in one chain.
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    let a = store(&t).await;
    let b = AuditStore::new(t.db().clone());
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b)
        .expect("url with a database");
    let other_pool = pitcrew::db::Database::open_postgres(&format!("{base}/{}", t.name()))
        .await
        .expect("second pool");
    let b2 = AuditStore::new(other_pool);
    let mut tasks = Vec::new();
    for (w, s) in [a.clone(), b, b2].into_iter().enumerate() {
        for k in 0..3 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..20 {
                    s.append(event(w * 1000 + k * 100 + i, "requested"))
                        .await
                        .expect("append");
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let report = a.verify().await.expect("verify");
    assert_eq!(report.first_problem, None);
    assert_eq!(report.events, 180);
    t.cleanup().await;
}

/// Turns the append-only triggers off, as someone with database access could.
async fn disable_triggers(t: &TestDb) {
    match t.db().backend() {
        Backend::Sqlite => {
            raw(t, "DROP TRIGGER audit_events_no_update")
                .await
                .expect("drop");
            raw(t, "DROP TRIGGER audit_events_no_delete")
                .await
                .expect("drop");
        }
        Backend::Postgres => {
            raw(t, "ALTER TABLE audit_events DISABLE TRIGGER USER")
                .await
                .expect("disable");
        }
    }
}

#[tokio::test]
async fn verify_names_the_first_altered_removed_or_inserted_event() {
    for t in TestDb::all().await {
        let label = t.label();
        // Altered.
        let s = store(&t).await;
        for i in 0..10 {
            s.append(event(i, "requested")).await.expect("append");
        }
        assert_eq!(
            s.verify().await.expect("verify").first_problem,
            None,
            "{label}"
        );
        disable_triggers(&t).await;
        raw(
            &t,
            "UPDATE audit_events SET actor_id = 'U0MALLORY' WHERE id = 4",
        )
        .await
        .expect("tamper");
        let p = s
            .verify()
            .await
            .expect("verify")
            .first_problem
            .expect("found");
        assert_eq!(p.id, 4, "{label}: {p:?}");
        assert!(
            p.what.contains("changed after it was written"),
            "{label}: {p:?}"
        );
        t.cleanup().await;
    }
    for t in TestDb::all().await {
        let label = t.label();
        // Removed.
        let s = store(&t).await;
        for i in 0..10 {
            s.append(event(i, "requested")).await.expect("append");
        }
        disable_triggers(&t).await;
        raw(&t, "DELETE FROM audit_events WHERE id = 6")
            .await
            .expect("tamper");
        let p = s
            .verify()
            .await
            .expect("verify")
            .first_problem
            .expect("found");
        assert_eq!(
            p.id, 7,
            "{label}: the event after the gap is the first bad one: {p:?}"
        );
        // Inserted: a forged event with a made-up hash, in the gap.
        let forged = format!(
            "INSERT INTO audit_events (id, at, correlation, phase, actor_id, command_text, detail, prev_hash, hash) \
             SELECT 6, at, correlation, 'succeeded', actor_id, command_text, detail, hash, '{}' FROM audit_events WHERE id = 5",
            "f".repeat(64)
        );
        raw(&t, &forged).await.expect("forge");
        let p = s
            .verify()
            .await
            .expect("verify")
            .first_problem
            .expect("found");
        assert_eq!(p.id, 6, "{label}: the forged event is caught: {p:?}");
        t.cleanup().await;
    }
}

/// Large trails are verified in parallel id ranges that are then stitched together; whatever
/// is tampered with, and wherever (inside a range or at a seam), the parallel verify must
/// report exactly what the one-range verify reports.
#[tokio::test]
async fn parallel_verify_reports_exactly_what_sequential_verify_reports() {
    // With 60 events and 3 parts the ranges are 1–21, 22–42 and 43–60.
    let tamperings: &[(&str, &str)] = &[
        ("intact", ""),
        (
            "last of a range altered",
            "UPDATE audit_events SET actor_id = 'U0MALLORY' WHERE id = 21",
        ),
        (
            "first of a range altered",
            "UPDATE audit_events SET command_text = 'x' WHERE id = 22",
        ),
        (
            "last of a range removed",
            "DELETE FROM audit_events WHERE id = 42",
        ),
        (
            "first of a range removed",
            "DELETE FROM audit_events WHERE id = 43",
        ),
        // Not detectable from inside (that is why exports keep the chain head): the
        // parallel verify must agree that the remaining 59 verify.
        (
            "the newest removed",
            "DELETE FROM audit_events WHERE id = 60",
        ),
        ("the first removed", "DELETE FROM audit_events WHERE id = 1"),
        (
            "a hash replaced at a seam",
            "UPDATE audit_events SET hash = 'ab' WHERE id = 21",
        ),
        ("rewritten with a recomputed hash: 21", ""),
        ("rewritten with a recomputed hash: 30", ""),
    ];
    for (what, sql) in tamperings {
        for t in TestDb::all().await {
            let label = t.label();
            let s = store(&t).await;
            for i in 0..60 {
                s.append(event(i, "requested")).await.expect("append");
            }
            if !sql.is_empty() {
                disable_triggers(&t).await;
                raw(&t, sql).await.expect("tamper");
            }
            if let Some(id) = what.strip_prefix("rewritten with a recomputed hash: ") {
                // A careful forger recomputes the altered event's own hash: only the next
                // event's link shows it (at a seam, only the stitching does).
                let id: i64 = id.parse().expect("id");
                disable_triggers(&t).await;
                let mut r = s.event(id).await.expect("read").expect("event");
                r.actor_id = "U0MALLORY".into();
                let h = pitcrew::audit::hash(&r);
                raw(&t, &format!("UPDATE audit_events SET actor_id = 'U0MALLORY', hash = '{h}' WHERE id = {id}"))
                    .await
                    .expect("forge");
            }
            let one = s.verify_in(Some(1)).await.expect("verify");
            let three = s.verify_in(Some(3)).await.expect("verify");
            assert_eq!(one, three, "{label}: {what}");
            let detectable =
                (!sql.is_empty() || what.starts_with("rewritten")) && !what.contains("newest");
            assert_eq!(
                one.first_problem.is_some(),
                detectable,
                "{label}: {what}: {one:?}"
            );
            t.cleanup().await;
        }
    }
}

#[tokio::test]
async fn queries_filter_by_what_compliance_asks() {
    for t in TestDb::all().await {
        let s = store(&t).await;
        for i in 0..12 {
            let phase = ["requested", "approved", "succeeded"][i % 3];
            s.append(event(i, phase)).await.expect("append");
        }
        let label = t.label();
        let by = |f: Filter| {
            let s = s.clone();
            async move { s.query(&f).await.expect("query") }
        };
        assert_eq!(
            by(Filter {
                actor: Some("U0ALICE01".into()),
                ..Filter::default()
            })
            .await
            .len(),
            6,
            "{label}"
        );
        assert_eq!(
            by(Filter {
                env: Some("staging".into()),
                ..Filter::default()
            })
            .await
            .len(),
            3,
            "{label}"
        );
        assert_eq!(
            by(Filter {
                phase: Some("succeeded".into()),
                ..Filter::default()
            })
            .await
            .len(),
            4,
            "{label}"
        );
        let one = by(Filter {
            reason: Some("CHG-7".into()),
            ..Filter::default()
        })
        .await;
        assert_eq!(one.len(), 1, "{label}");
        let story = by(Filter {
            correlation: Some(one[0].correlation.clone()),
            ..Filter::default()
        })
        .await;
        let phases: Vec<&str> = story.iter().map(|r| r.phase.as_str()).collect();
        assert_eq!(
            phases,
            ["requested", "approved", "succeeded"],
            "{label}: one command's whole story"
        );
        let future = by(Filter {
            since: Some("2999-01-01T00:00:00.000Z".into()),
            ..Filter::default()
        })
        .await;
        assert!(future.is_empty(), "{label}");
        assert_eq!(
            by(Filter {
                limit: Some(5),
                ..Filter::default()
            })
            .await
            .len(),
            5,
            "{label}"
        );
        t.cleanup().await;
    }
}

mod anchors;
mod approvers;
mod report;
mod retention;
mod review;
mod reviewer;
mod tools;
