//! Anchoring the chain head with a real RFC 3161 timestamp authority (`openssl ts`, run by
//! the test with its own root), on both back-ends: tokens are stored only when they check
//! out, `audit verify` reports the last anchored event, a chain rewritten below an anchor and
//! re-hashed end to end — which the chain alone cannot tell — is caught and named, tokens from
//! another TSA or over another hash are refused, and a TSA that is away delays anchoring
//! (counted, retried, anchored at shutdown) without holding up the trail.

use std::time::Duration;

use pitcrew::audit::anchors::AnchorError;
use pitcrew::audit::timestamp::TokenError;
use pitcrew::audit::{AuditStore, Record};
use pitcrew::db::Backend;

use super::{disable_triggers, event, raw, store};
use crate::common::databases::TestDb;
use crate::common::tsa::{Mode, TestTsa};

/// A replica whose `[audit.timestamp]` points at `url` with `root` as the TSA's root.
fn replica(
    t: &TestDb,
    url: &str,
    root: &std::path::Path,
) -> (
    tempfile::TempDir,
    std::sync::Arc<pitcrew::workflow::Context>,
) {
    let (dir, path) = crate::common::app::TestConfig::new("")
        .offline()
        .environment("prod", "shop")
        .set("audit.timestamp", "url", url)
        .set("audit.timestamp", "ca_file", root.display().to_string())
        .set("audit.timestamp", "every", "1m")
        .write();
    let ctx = crate::common::app::replica_on(&path, t.db());
    (dir, ctx)
}

/// `pitcrew audit verify` on this database, checking the anchors against `root`.
/// What `--database-url` takes for this database.
fn database_url(t: &TestDb) -> String {
    match t.url() {
        Some(url) => url,
        None => format!(
            "sqlite:{}",
            t.db().sqlite_path().expect("an SQLite file").display()
        ),
    }
}

fn verify_cli(t: &TestDb, root: &std::path::Path) -> (i32, String) {
    audit_cli(t, root, &["verify"])
}

/// `pitcrew audit ARGS` on this database, with the TSA's root.
fn audit_cli(t: &TestDb, root: &std::path::Path, args: &[&str]) -> (i32, String) {
    let url = database_url(t);
    let root = root.display().to_string();
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend(["--database-url", &url, "--tsa-ca", &root]);
    crate::common::cli::run(&[], &all)
}

/// `pitcrew audit anchor` with the replica's configuration (written in `dir`) on this database.
fn anchor_cli(t: &TestDb, dir: &tempfile::TempDir) -> (i32, String) {
    let url = database_url(t);
    let config = dir.path().join("pitcrew.toml");
    crate::common::cli::pitcrew(&config, &[], &["audit", "anchor", "--database-url", &url])
}

async fn append(s: &AuditStore, from: usize, n: usize) {
    for i in from..from + n {
        s.append(event(i, "requested")).await.expect("append");
    }
}

/// Rewrites event `id` and re-hashes every event from it to the head, as an insider with
/// write access to the database could: afterwards the chain verifies on its own.
async fn rewrite_and_rehash(t: &TestDb, id: i64) {
    disable_triggers(t).await;
    raw(
        t,
        &format!("UPDATE audit_events SET actor_id = 'U0MALLORY' WHERE id = {id}"),
    )
    .await
    .expect("tamper");
    let rows: Vec<Record> = sqlx::query_as(
        "SELECT id, at, correlation, phase, actor_id, actor_name, team, channel, command_text, action, \
         env, cluster, namespace, kind, name, reason, detail, prev_hash, hash FROM audit_events ORDER BY id",
    )
    .fetch_all(t.db().pool())
    .await
    .expect("read the trail");
    let mut prev = None::<String>;
    for mut r in rows {
        if let Some(p) = prev.take() {
            r.prev_hash = p;
        }
        if r.id >= id {
            let new = pitcrew::audit::hash(&r);
            sqlx::query("UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE id = $3")
                .bind(&r.prev_hash)
                .bind(&new)
                .bind(r.id)
                .execute(t.db().pool())
                .await
                .expect("re-hash");
            r.hash = new;
        }
        prev = Some(r.hash);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_vouch_for_the_trail_and_catch_a_rewrite_below_them() {
    let tsa = TestTsa::start("a", &["rsa:2048"]).await;
    for t in TestDb::all().await {
        let label = t.label();
        let s = store(&t).await;
        let (_dir, ctx) = replica(&t, &tsa.url, &tsa.root);
        // Three anchors, after events 10, 20 and 30; none when the head did not move.
        let mut heads = Vec::new();
        for round in 0..3 {
            append(&s, round * 10, 10).await;
            let a = pitcrew::workflow::anchor_now(&ctx)
                .await
                .unwrap_or_else(|e| panic!("{label}: anchoring: {e}"))
                .expect("an anchor");
            assert_eq!(a.event_id, (round as i64 + 1) * 10, "{label}");
            heads.push(a);
        }
        let again = pitcrew::workflow::anchor_now(&ctx)
            .await
            .expect("anchoring");
        assert!(again.is_none(), "{label}: the head did not move: {again:?}");
        assert_eq!(ctx.metrics.anchored_event.get(), 30, "{label}");

        // openssl itself accepts what pitcrew stored: a token over the head hash, by this TSA.
        let token = hex::decode(&heads[2].token).expect("hex");
        assert!(
            tsa.openssl_verifies(&token, &heads[2].head_hash, &tsa.root),
            "{label}: openssl ts -verify refuses the stored token"
        );
        let (code, out) = verify_cli(&t, &tsa.root);
        assert_eq!(code, 0, "{label}: {out}");
        assert!(
            out.contains("audit trail intact: 30 events"),
            "{label}: {out}"
        );
        assert!(
            out.contains("anchored: event 30 stamped at")
                && out.contains("pitcrew test TSA a")
                && out.contains("(3 anchors, 0 not holding); 0 events since"),
            "{label}: {out}"
        );

        // The change report says so in its footer.
        let report = [
            "report",
            "--from",
            "1d",
            "--to",
            "2099-01-01",
            "--format",
            "json",
        ];
        let (code, out) = audit_cli(&t, &tsa.root, &report);
        assert_eq!(code, 0, "{label}: {out}");
        assert!(
            out.contains("\"last_anchored\"") && out.contains("\"event_id\": 30"),
            "{label}: {out}"
        );

        // An insider rewrites event 15 and re-hashes everything after it: the chain alone
        // verifies, the anchors after it do not, and the rewrite is placed after event 10.
        rewrite_and_rehash(&t, 15).await;
        let alone = s.verify().await.expect("verify");
        assert_eq!(
            alone.first_problem, None,
            "{label}: the chain alone cannot tell"
        );
        let (code, out) = verify_cli(&t, &tsa.root);
        assert_eq!(code, 1, "{label}: {out}");
        assert!(
            out.contains("anchor 2 (event 20) DOES NOT HOLD")
                && out.contains("rewritten between event 11 and event 20")
                && out.contains("anchor 3 (event 30) DOES NOT HOLD")
                && !out.contains("anchor 1 (event 10) DOES NOT HOLD")
                && out.contains("anchored: event 10 stamped at"),
            "{label}: {out}"
        );
        // The report's footer says the anchors do not hold, and it exits 1.
        let html = ["report", "--from", "1d", "--to", "2099-01-01"];
        let (code, out) = audit_cli(&t, &tsa.root, &html);
        assert_eq!(code, 1, "{label}: {out}");
        assert!(
            out.contains("Timestamp anchors</span>: 2 of 3 DO NOT HOLD, first: event 20"),
            "{label}: {out}"
        );
        // And the rewritten chain is never stamped.
        s.append(event(99, "requested")).await.expect("append");
        let refused = pitcrew::workflow::anchor_now(&ctx).await;
        assert!(
            matches!(&refused, Err(AnchorError::Broken(p)) if p.id == 30),
            "{label}: {refused:?}"
        );
        assert_eq!(s.anchors().await.expect("anchors").len(), 3, "{label}");
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_another_tsa_or_over_another_hash_are_refused() {
    let (ours, theirs) = tokio::join!(
        TestTsa::start("ours", &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        TestTsa::start("theirs", &["rsa:2048"])
    );
    for t in TestDb::all().await {
        let label = t.label();
        let s = store(&t).await;
        append(&s, 0, 5).await;

        // Another TSA's token (its root is not ours): refused, nothing stored.
        let (_d1, to_theirs) = replica(&t, &theirs.url, &ours.root);
        let r = pitcrew::workflow::anchor_now(&to_theirs).await;
        assert!(
            matches!(&r, Err(AnchorError::Token(TokenError::Untrusted(_)))),
            "{label}: {r:?}"
        );
        // A token over another hash from our own TSA: refused, nothing stored.
        let (_d2, to_ours) = replica(&t, &ours.url, &ours.root);
        ours.set_mode(Mode::OtherHash);
        let r = pitcrew::workflow::anchor_now(&to_ours).await;
        assert!(
            matches!(&r, Err(AnchorError::Token(TokenError::OtherHash { .. }))),
            "{label}: {r:?}"
        );
        assert!(s.anchors().await.expect("anchors").is_empty(), "{label}");

        // Our TSA, an EC key this time: stored, and verifies.
        ours.set_mode(Mode::Stamp);
        let a = pitcrew::workflow::anchor_now(&to_ours)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"))
            .expect("an anchor");
        assert_eq!(a.event_id, 5, "{label}");

        // A token from their TSA over our head, slipped into the table: verify names it.
        let (_, head) = s.head().await.expect("head").expect("a head");
        let digest: [u8; 32] = hex::decode(&head)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let tsa =
            pitcrew::audit::anchors::Tsa::new(theirs.url.parse().expect("url")).expect("client");
        let foreign = tsa.stamp(&digest, 7).await.expect("their token");
        s.add_anchor(5, &head, "2026-01-01T00:00:00.000Z", "forged", &foreign)
            .await
            .expect("insert");
        let (code, out) = verify_cli(&t, &ours.root);
        assert_eq!(code, 1, "{label}: {out}");
        assert!(
            out.contains("anchor 2 (event 5) DOES NOT HOLD")
                && out.contains(
                    "not signed by a timestamp authority that chains to the configured root"
                ),
            "{label}: {out}"
        );
        // Checked against their root instead, ours is the one that does not hold.
        let (_, out) = verify_cli(&t, &theirs.root);
        assert!(
            out.contains("anchor 1 (event 5) DOES NOT HOLD"),
            "{label}: {out}"
        );
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_tsa_delays_anchoring_and_the_head_is_anchored_at_shutdown() {
    let tsa = TestTsa::start("slow", &["rsa:2048"]).await;
    for t in TestDb::all().await {
        let label = t.label();
        let s = store(&t).await;
        append(&s, 0, 3).await;
        let (dir, ctx) = replica(&t, &tsa.url, &tsa.root);
        tsa.set_mode(Mode::Down);
        // By hand, too: refused with the reason.
        let (code, out) = anchor_cli(&t, &dir);
        assert_eq!(code, 1, "{label}: {out}");
        assert!(
            out.contains("not anchored: the timestamp authority at") && out.contains("503"),
            "{label}: {out}"
        );
        let before = tsa.requests();
        let task = tokio::spawn(pitcrew::workflow::keep_anchoring(ctx.clone()));
        // The first try fails at once; the trail goes on being written meanwhile.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ctx.metrics.anchor_failures.get() == 0 {
            assert!(std::time::Instant::now() < deadline, "{label}: no try");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let failure = ctx
            .metrics
            .anchoring
            .failure()
            .expect("a failure for /readyz");
        assert!(
            failure.error.contains("did not answer") && failure.error.contains("503"),
            "{label}: {failure:?}"
        );
        let started = std::time::Instant::now();
        append(&s, 3, 3).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{label}: appends wait for nobody"
        );
        let text = ctx.metrics.render();
        assert!(
            text.contains("pitcrew_audit_anchor_failures_total 1"),
            "{label}: {text}"
        );

        // Back: the retry 5 s later anchors the head (event 6).
        tsa.set_mode(Mode::Stamp);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while ctx.metrics.anchored_event.get() != 6 {
            assert!(std::time::Instant::now() < deadline, "{label}: not retried");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            ctx.metrics.anchoring.failure().is_none(),
            "{label}: healthy again"
        );
        assert!(tsa.requests() - before >= 2, "{label}");

        // A last event, then shutdown: anchored on the way out (every = 1m never came).
        append(&s, 6, 1).await;
        ctx.cancel.send_replace(true);
        tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("stops")
            .expect("task");
        let last = s.last_anchor().await.expect("anchors").expect("an anchor");
        assert_eq!(last.event_id, 7, "{label}");
        // `pitcrew audit anchor`: nothing new, then a new head stamped.
        let (code, out) = anchor_cli(&t, &dir);
        assert_eq!(code, 0, "{label}: {out}");
        assert!(
            out.contains("nothing new to anchor: the head, event 7"),
            "{label}: {out}"
        );
        append(&s, 7, 1).await;
        let (code, out) = anchor_cli(&t, &dir);
        assert_eq!(code, 0, "{label}: {out}");
        assert!(out.contains("anchored: event 8 (hash "), "{label}: {out}");
        if t.db().backend() == Backend::Postgres {
            // Anchors are append-only at the database, like the trail.
            let e = raw(&t, "DELETE FROM audit_anchors").await;
            assert!(e.is_err(), "{label}");
        }
        t.cleanup().await;
    }
}

/// `pitcrew serve` itself: a TSA that fails shows in `/readyz` as degraded (the replica stays
/// as ready as its other parts make it) and in `/metrics`; once it answers, the head is
/// anchored and `/readyz` says which event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shows_a_failing_timestamp_authority_in_readyz_and_metrics() {
    let tsa = TestTsa::start("served", &["rsa:2048"]).await;
    tsa.set_mode(Mode::Down);
    let slack = wiremock::MockServer::start().await;
    let app = crate::common::app::TestConfig::new("")
        .offline()
        .environment("prod", "shop")
        .slack(&slack.uri())
        .any_team()
        .set("audit.timestamp", "url", tsa.url.as_str())
        .set("audit.timestamp", "ca_file", tsa.root.display().to_string())
        .set("audit.timestamp", "every", "1m");
    let (dir, config) = app.write();
    // One event in the trail before the replica starts, so there is a head to anchor.
    let db = pitcrew::db::Database::open_sqlite(&dir.path().join("pitcrew.db"))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    AuditStore::new(db.clone())
        .append(event(0, "requested"))
        .await
        .expect("append");
    let mut server = crate::common::serve::Serve::start(
        &config,
        &[
            ("SLACK_BOT_TOKEN", "xoxb-test-bot-token"),
            ("SLACK_SIGNING_SECRET", "test-signing-secret"),
        ],
    );
    let readyz = |base: String| async move {
        crate::common::get(format!("{base}/readyz"))
            .await
            .expect("readyz")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let ready = readyz(server.base.clone()).await;
        if ready["anchoring"]["ok"] == false {
            break ready;
        }
        assert!(std::time::Instant::now() < deadline, "{ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        ready["degraded"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "anchoring")),
        "{ready}"
    );
    assert!(
        ready["anchoring"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{ready}"
    );
    let failures = server.metric("pitcrew_audit_anchor_failures_total").await;
    assert!(failures.is_some_and(|f| f >= 1.0), "{failures:?}");
    // A command meanwhile is answered and audited as ever (this one is refused by the empty
    // policy, which is recorded too).
    let body = crate::common::slack::command_form(
        "restart deploy/web -e prod --reason INC-1",
        "trigger-1",
        crate::common::app::TEAM,
        "U01DEV",
        &format!("{}/response", slack.uri()),
    );
    let (status, _, took) =
        crate::common::slack::signed_command(&server.base, "test-signing-secret", &body).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3), "{took:?}");
    let store = AuditStore::new(db.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.head().await.expect("head").map_or(0, |(id, _)| id) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the command was not audited"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    tsa.set_mode(Mode::Stamp);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let ready = readyz(server.base.clone()).await;
        if ready["anchoring"]["ok"] == true {
            break ready;
        }
        assert!(std::time::Instant::now() < deadline, "not retried: {ready}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let head = store.head().await.expect("head").map_or(0, |(id, _)| id);
    assert!(
        ready["anchoring"]["anchored_event"]
            .as_i64()
            .is_some_and(|a| a >= 2 && a <= head),
        "the head after the command: {ready}"
    );
    assert!(
        !ready["degraded"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "anchoring")),
        "{ready}"
    );
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(20)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    db.close().await;
}

/// Archived events take their anchors with them: the archive checks offline against the TSA's
/// root, and an archive whose events were rewritten and re-hashed no longer matches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_carry_their_anchors() {
    let tsa = TestTsa::start("archive", &["rsa:2048"]).await;
    for t in TestDb::all().await {
        let label = t.label();
        let s = store(&t).await;
        let (_dir, ctx) = replica(&t, &tsa.url, &tsa.root);
        append(&s, 0, 10).await;
        pitcrew::workflow::anchor_now(&ctx)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"))
            .expect("an anchor");
        append(&s, 10, 5).await;
        let dir = tempfile::tempdir().expect("archive dir");
        let now = chrono::Utc::now();
        let archived = pitcrew::audit::retention::archive_before(
            &s,
            now + chrono::Duration::days(1),
            dir.path(),
            "pitcrew",
            now,
        )
        .await
        .expect("archive")
        .expect("archived");
        assert_eq!(archived.through_id, 15, "{label}");
        let check = pitcrew::audit::retention::verify_archive(
            &archived.file,
            Some(&pitcrew::audit::timestamp::Roots::from_pem_file(&tsa.root).expect("root")),
        )
        .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!((check.anchors, check.anchors_checked), (1, true), "{label}");
        let (code, out) = verify_cli(&t, &tsa.root);
        assert_eq!(code, 0, "{label}: {out}");
        assert!(
            out.contains("anchors: 1 cover archived events")
                && out.contains("anchored: no event since the archive boundary yet"),
            "{label}: {out}"
        );

        // The archive rewritten at event 3 and re-hashed from there: its own chain holds, the
        // anchor of event 10 does not.
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&archived.file).expect("read"))
                .expect("json");
        let mut events: Vec<Record> =
            serde_json::from_value(doc["events"].clone()).expect("events");
        events[2].actor_id = "U0MALLORY".into();
        for i in 2..events.len() {
            if i > 2 {
                events[i].prev_hash = events[i - 1].hash.clone();
            }
            events[i].hash = pitcrew::audit::hash(&events[i]);
        }
        doc["archive"]["removed_head_hash"] = events[events.len() - 1].hash.clone().into();
        doc["events"] = serde_json::to_value(&events).expect("events");
        let forged = dir.path().join("forged.json");
        std::fs::write(&forged, doc.to_string()).expect("write");
        let e = pitcrew::audit::retention::verify_archive(&forged, None)
            .expect_err("the anchor catches it");
        assert!(
            e.to_string()
                .contains("event 10 does not have the hash the timestamp authority stamped"),
            "{label}: {e}"
        );
        t.cleanup().await;
    }
}
