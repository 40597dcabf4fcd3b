//! Audit trail benchmarks: durable hash-chained appends per second (1 and 8 concurrent writers)
//! against a plain one-row-per-transaction INSERT into an unchained copy of the table (the
//! baseline, same run), `verify` over a large trail, and indexed filtered queries on it.
//! SQLite always; PostgreSQL when DATABASE_URL is set (scripts/bench.sh starts one).
//!
//! PITCREW_BENCH_EVENTS (default 1,000,000) sets the size of the trail for verify and queries.

use std::time::{Duration, Instant};

use pitcrew::audit::{AuditStore, Filter, NewEvent};
use pitcrew::db::Database;

fn event(i: u64) -> NewEvent {
    NewEvent {
        correlation: format!("corr-{}", i / 4),
        phase: ["requested", "approved", "started", "succeeded"][(i % 4) as usize].into(),
        actor_id: format!("U0ACTOR{:03}", i % 200),
        channel: Some("C0INCIDENT".into()),
        command_text: format!("restart checkout-{} -e prod --reason CHG-{}", i % 50, i / 4),
        action: Some("restart".into()),
        env: Some(["prod", "staging", "dev"][(i % 3) as usize].into()),
        cluster: Some("main".into()),
        namespace: Some("shop".into()),
        kind: Some("deployment".into()),
        name: Some(format!("checkout-{}", i % 50)),
        reason: Some(format!("CHG-{}", i / 4)),
        detail: serde_json::json!({"before": {"revision": i}, "after": {"revision": i + 1}}),
        ..NewEvent::default()
    }
}

async fn rate(store: &AuditStore, writers: usize, window: Duration) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < window {
                store
                    .append(event(w as u64 * 1_000_000 + n))
                    .await
                    .expect("append");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("writer");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The baseline: one plain INSERT per transaction into a table without chain or triggers.
async fn plain_rate(db: &Database, window: Duration) -> f64 {
    let pool = db.pool();
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_plain (id BIGINT PRIMARY KEY, at TEXT, correlation TEXT, actor_id TEXT, command_text TEXT, detail TEXT)")
        .execute(pool)
        .await
        .expect("create");
    let start = Instant::now();
    let mut n = 0i64;
    while start.elapsed() < window {
        let e = event(n as u64);
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO bench_plain (id, at, correlation, actor_id, command_text, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(n)
            .bind("2026-11-23T00:00:00.000Z")
            .bind(&e.correlation)
            .bind(&e.actor_id)
            .bind(&e.command_text)
            .bind(e.detail.to_string())
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn p(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
}

async fn run(label: &str, db: Database, events: u64) {
    db.migrate().await.expect("migrate");
    let store = AuditStore::new(db.clone());
    let window = Duration::from_secs(3);
    let plain = plain_rate(&db, window).await;
    let one = rate(&store, 1, window).await;
    let eight = rate(&store, 8, window).await;
    println!(
        "{label}: durable appends/s — plain INSERT baseline {plain:.0}, chained 1 writer {one:.0}, chained 8 writers {eight:.0} ({:.1}x the baseline)",
        eight / plain
    );

    let have = store.verify().await.expect("verify").events;
    let fill = Instant::now();
    let mut i = have;
    while i < events {
        let n = (events - i).min(20_000);
        store
            .append_many((i..i + n).map(event).collect())
            .await
            .expect("fill");
        i += n;
    }
    println!(
        "{label}: filled to {events} events in {:.1} s",
        fill.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let report = store.verify().await.expect("verify");
    assert!(report.first_problem.is_none());
    println!(
        "{label}: verify of {} events: {:.2} s",
        report.events,
        t.elapsed().as_secs_f64()
    );

    let mut times = Vec::new();
    for q in 0..200u64 {
        let filter = match q % 3 {
            0 => Filter {
                correlation: Some(format!("corr-{}", (q * 7919) % (events / 4))),
                ..Filter::default()
            },
            1 => Filter {
                reason: Some(format!("CHG-{}", (q * 104_729) % (events / 4))),
                ..Filter::default()
            },
            _ => Filter {
                actor: Some(format!("U0ACTOR{:03}", q % 200)),
                since: Some("2026-01-01T00:00:00.000Z".into()),
                limit: Some(50),
                ..Filter::default()
            },
        };
        let t = Instant::now();
        let rows = store.query(&filter).await.expect("query");
        times.push(t.elapsed());
        assert!(
            !rows.is_empty() || q % 3 != 2,
            "the actor query always finds events"
        );
    }
    times.sort();
    println!(
        "{label}: indexed filtered queries over {events} events: p50 {:.2} ms, p99 {:.2} ms",
        p(&times, 0.5),
        p(&times, 0.99)
    );
}

fn main() {
    let events: u64 = std::env::var("PITCREW_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    pitcrew::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    rt.block_on(async {
        let sqlite = Database::open_sqlite(&dir.path().join("bench.db")).await.expect("sqlite");
        run("sqlite", sqlite, events).await;
        match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => {
                let pg = Database::open_postgres(&url).await.expect("postgres");
                // A fresh trail each run.
                sqlx::query("DROP TABLE IF EXISTS audit_events, bench_plain, _sqlx_migrations, pitcrew_meta CASCADE").execute(pg.pool()).await.expect("reset");
                sqlx::query("DROP FUNCTION IF EXISTS audit_events_append_only() CASCADE").execute(pg.pool()).await.expect("reset");
                run("postgres", pg, events).await;
            }
            _ => println!("postgres: skipped (DATABASE_URL not set; scripts/bench.sh sets it)"),
        }
    });
}
