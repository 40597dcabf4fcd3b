//! Faults, each ending with nothing lost and nothing run twice: SIGTERM with a rollout in
//! flight (drained within the grace, or recorded as `interrupted` past it), a replica killed
//! with `kill -9` mid-rollout (the other replica closes its command as `interrupted` with the
//! state it finds), PostgreSQL stopped and restarted under a running replica, a Kubernetes API
//! that refuses or never answers, and Slack's Web API answering 5xx and 429 while a change's
//! live message is updated. (Slow and failing PagerDuty/Jira: `justify.rs`.)

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common::app::{TEAM, TestConfig};
use crate::common::cluster::{
    TestCluster, TestNamespace, revision_of, stuck_deployment, wait_for_deployment,
    wait_for_revision_after,
};
use crate::common::databases::{OwnPostgres, TestDb};
use crate::common::fixtures::Workload;
use crate::common::serve::Serve;
use crate::common::slack::{command_form, received, signed_command, wait_for_received};

const SECRET: &str = "faults-signing-secret";
const POLICY: &str = "p, U01DEV, staging, *, *, *, *, *, allow\n";

/// A stand-in for Slack's `response_url` hooks (and nothing else): answers every POST 200.
async fn hooks() -> MockServer {
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sink)
        .await;
    sink
}

/// The configuration of these tests: `[server]` lines, Slack at `slack`, one staging
/// environment on the test cluster in `ns`.
/// Staging on the test cluster, Slack at `slack`, rollouts followed for two minutes.
fn staging(cluster: &TestCluster, ns: &TestNamespace, slack: &str) -> TestConfig {
    TestConfig::new(POLICY)
        .slack(slack)
        .set("rollout", "timeout", "120s")
        .set("rollout", "update_interval", "300ms")
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
}

/// Sends `text` as U01DEV's slash command and checks it was taken ("working on it").
async fn send(base: &str, text: &str, trigger: &str, hook: &str) -> String {
    let (status, ack, _) = signed_command(
        base,
        SECRET,
        &command_form(text, trigger, TEAM, "U01DEV", hook),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    ack
}

/// The trail's (command, phase) pairs in order, and whether its chain verifies.
async fn trail(db: pitcrew::db::Database) -> (Vec<(String, String, String)>, bool) {
    let store = pitcrew::audit::AuditStore::new(db);
    let all = store
        .query(&pitcrew::audit::Filter::default())
        .await
        .expect("query the trail");
    let intact = store
        .verify()
        .await
        .expect("verify the trail")
        .first_problem
        .is_none();
    let rows = all
        .into_iter()
        .map(|r| (r.command_text, r.phase, r.detail))
        .collect();
    (rows, intact)
}

/// The phases of `command` (as typed; the trail holds its canonical text).
fn phases_of<'a>(rows: &'a [(String, String, String)], command: &str) -> Vec<&'a str> {
    let canonical = pitcrew::command::parse(command)
        .expect("a valid command")
        .to_string();
    rows.iter()
        .filter(|(c, _, _)| *c == canonical)
        .map(|(_, p, _)| p.as_str())
        .collect()
}

async fn sqlite_beside(config: &Path) -> pitcrew::db::Database {
    pitcrew::db::Database::open_sqlite(&config.with_file_name("pitcrew.db"))
        .await
        .expect("open the SQLite trail")
}

/// SIGTERM while a rollout is followed: the replica stops taking requests at once, lets the
/// rollout finish (it is within `shutdown_grace`), reports the outcome, records `succeeded`,
/// and only then exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_rollout_in_flight_finish_before_exiting() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    // Each new pod counts as available 3 s after it is ready: the restart takes ~6 s or more.
    let (ns, api) = cluster
        .with_workload("drain", "checkout", Workload::new("checkout").min_ready(3))
        .await;
    let sink = hooks().await;
    let (_dir, config) = staging(&cluster, &ns, &sink.uri())
        .set("server", "shutdown_grace", "60s")
        .write();
    let mut server = Serve::start(&config, &[("SLACK_SIGNING_SECRET", SECRET)]);
    let hook = format!("{}/commands/drain", sink.uri());
    let ack = send(
        &server.base,
        "restart checkout -e staging",
        "1.drain",
        &hook,
    )
    .await;
    assert!(ack.contains("working on it"), "{ack}");
    wait_for_revision_after(&api, "checkout", 1).await;

    server.terminate();
    let terminated = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        matches!(server.child.try_wait(), Ok(None)),
        "pitcrew exited while its rollout was still being followed"
    );
    // No new requests once draining: the listener is closed.
    let late = crate::common::http()
        .get(format!("{}/healthz", server.base))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        late.is_err(),
        "a draining replica took a new request: {late:?}"
    );

    let status = server
        .wait_exit(Duration::from_secs(60))
        .await
        .expect("exits once the rollout finished");
    assert!(status.success(), "exit status {status:?}");
    let replies = received(&sink, "/commands/drain").await;
    assert_eq!(replies.len(), 1, "one reply: {replies:?}");
    assert!(
        replies[0].contains("successfully rolled out"),
        "the outcome reached Slack before exit: {replies:?}"
    );
    let d: Deployment = api.get("checkout").await.expect("get");
    assert!(
        crate::common::cluster::RolloutStatus::rollout_complete(&d),
        "the rollout finished before pitcrew exited ({:?} after SIGTERM)",
        terminated.elapsed()
    );
    let (rows, intact) = trail(sqlite_beside(&config).await).await;
    let phases = phases_of(&rows, "restart checkout -e staging");
    assert!(
        phases.ends_with(&["started", "succeeded"]),
        "recorded as finished, not interrupted: {phases:?}"
    );
    assert!(intact, "the chain verifies");
    assert!(
        server.log().contains("the work in flight finished"),
        "the drain is logged"
    );
}

/// SIGTERM with a rollout that outlasts `shutdown_grace`: after the grace pitcrew stops
/// following it (the rollout goes on in the cluster), records `interrupted`, says so in Slack,
/// and exits 0 — it never waits for ever, and never leaves the command at `started`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_past_the_grace_records_the_rollout_as_interrupted() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("grace").await;
    stuck_deployment(&cluster, &ns, "stuck", None).await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    let sink = hooks().await;
    let (_dir, config) = staging(&cluster, &ns, &sink.uri())
        .set("server", "shutdown_grace", "2s")
        .write();
    let mut server = Serve::start(&config, &[("SLACK_SIGNING_SECRET", SECRET)]);
    let hook = format!("{}/commands/grace", sink.uri());
    send(&server.base, "restart stuck -e staging", "1.grace", &hook).await;
    wait_for_revision_after(&api, "stuck", 2).await;

    server.terminate();
    let terminated = Instant::now();
    let status = server
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("exits within the grace plus the final wait");
    let took = terminated.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took >= Duration::from_secs(2),
        "waited out the grace: {took:?}"
    );
    let replies = wait_for_received(&sink, "/commands/grace", 1, Duration::from_secs(5)).await;
    assert!(
        replies[0].contains("stopped following the rollout, which goes on in the cluster"),
        "{replies:?}"
    );
    let (rows, intact) = trail(sqlite_beside(&config).await).await;
    assert!(
        phases_of(&rows, "restart stuck -e staging").ends_with(&["started", "interrupted"]),
        "{rows:?}"
    );
    assert!(intact);
}

/// `kill -9` of the replica following a rollout: the other replica, once the dead one's
/// workload lease runs out, closes the command as `interrupted` with the state it finds in the
/// cluster — exactly once, without acting on the workload again — and says so in the
/// command's channel, whose live message stopped with the dead replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_rollout_is_closed_as_interrupted_by_the_other() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let url = pg.url().expect("a PostgreSQL URL");
    let ns = cluster.namespace("killed").await;
    stuck_deployment(&cluster, &ns, "stuck", None).await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    // Slack: the Web API (live messages, and the survivor's word in the channel) and the hooks.
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": "1700000000.000900",
            "message": {"type": "message", "text": "x", "ts": "1700000000.000900", "user": "U0BOT"}
        })))
        .mount(&sink)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&sink)
        .await;
    let (_dir, config) = staging(&cluster, &ns, &sink.uri()).write();
    let env = [
        ("SLACK_SIGNING_SECRET", SECRET),
        ("SLACK_BOT_TOKEN", "xoxb-faults"),
        ("DATABASE_URL", url.as_str()),
    ];
    let mut doomed = Serve::start(&config, &env);
    let survivor = Serve::start(&config, &env);
    let hook = format!("{}/commands/killed", sink.uri());
    send(&doomed.base, "restart stuck -e staging", "1.killed", &hook).await;
    let revision = wait_for_revision_after(&api, "stuck", 2).await;

    doomed.child.kill().expect("kill -9");
    let _ = doomed.child.wait();
    let killed = Instant::now();
    let command = "restart stuck -e staging";
    // The lease runs out within 30 s of the last renewal; the survivor looks every 30 s.
    let deadline = killed + Duration::from_secs(100);
    let rows = loop {
        let (rows, _) = trail(pg.db().clone()).await;
        if phases_of(&rows, command).contains(&"interrupted") {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "not closed within 100 s of the kill: {:?}",
            phases_of(&rows, command)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    eprintln!("closed as interrupted {:?} after kill -9", killed.elapsed());
    let phases = phases_of(&rows, command);
    assert_eq!(
        phases.iter().filter(|p| **p == "started").count(),
        1,
        "{phases:?}"
    );
    assert_eq!(
        phases.iter().filter(|p| **p == "interrupted").count(),
        1,
        "closed once: {phases:?}"
    );
    let canonical = pitcrew::command::parse(command)
        .expect("command")
        .to_string();
    let closing = rows
        .iter()
        .find(|(c, p, _)| *c == canonical && p == "interrupted")
        .map(|(_, _, d)| d.clone())
        .unwrap_or_default();
    assert!(
        closing.contains("\"reconciled\":true") && closing.contains("Waiting for deployment"),
        "the real state, as found in the cluster: {closing}"
    );
    assert_eq!(
        revision_of(&api.get("stuck").await.expect("get")),
        revision,
        "nothing acted on the workload again"
    );
    assert!(
        survivor.log().contains("closed an interrupted command"),
        "the surviving replica closed it"
    );
    // ...and said so in the command's channel, once (through the outbox, every 5 s).
    let told = |posts: Vec<String>| -> Vec<String> {
        posts
            .into_iter()
            .filter(|p| p.contains("lost track of"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let posts = loop {
        let posts = told(received(&sink, "/api/chat.postMessage").await);
        if !posts.is_empty() || Instant::now() > deadline {
            break posts;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(posts.len(), 1, "one message in the channel: {posts:?}");
    let post: serde_json::Value = serde_json::from_str(&posts[0]).expect("JSON");
    assert_eq!(post["channel"], "C01INCIDENT");
    let text = post["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("lost track of `restart deployment/stuck -e staging` by <@U01DEV>")
            && text.contains("Waiting for deployment"),
        "{text}"
    );
    // A few seconds more: nothing closes it, or tells the channel, a second time.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        told(received(&sink, "/api/chat.postMessage").await).len(),
        1
    );
    let (rows, intact) = trail(pg.db().clone()).await;
    assert_eq!(phases_of(&rows, command).len(), phases.len(), "{rows:?}");
    assert!(intact, "the chain verifies");
    drop(survivor);
    pg.cleanup().await;
}

/// PostgreSQL stops (as a crash would) while a replica follows a rollout, and comes back: the
/// rollout's outcome is still recorded (its write is retried while the workload lease is
/// surely this replica's), commands sent meanwhile are refused with a clear message and not
/// run, `/readyz` says the database is down, and the replica serves again once PostgreSQL is
/// back — without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_restarted_under_a_running_replica() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let Some(pg) = OwnPostgres::start() else {
        return;
    };
    let ns = cluster.namespace("pgdown").await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &Workload::new("checkout").min_ready(2).deployment(),
    )
    .await
    .expect("create checkout");
    api.create(&PostParams::default(), &Workload::new("cart").deployment())
        .await
        .expect("create cart");
    for name in ["checkout", "cart"] {
        wait_for_deployment(&cluster.client, &ns.name, name, Duration::from_secs(60)).await;
    }
    let sink = hooks().await;
    let (_dir, config) = staging(&cluster, &ns, &sink.uri()).write();
    let url = pg.url();
    let server = Serve::start(
        &config,
        &[
            ("SLACK_SIGNING_SECRET", SECRET),
            ("DATABASE_URL", url.as_str()),
        ],
    );
    let hook = |n: &str| format!("{}/commands/{n}", sink.uri());
    send(
        &server.base,
        "restart checkout -e staging",
        "1.pg",
        &hook("1"),
    )
    .await;
    wait_for_revision_after(&api, "checkout", 1).await;

    // Down mid-rollout.
    pg.stop();
    let (status, ack, _) = signed_command(
        &server.base,
        SECRET,
        &command_form(
            "restart cart -e staging",
            "2.pg",
            TEAM,
            "U01DEV",
            &hook("2"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert!(
        ack.contains("cannot reach its database right now, so nothing was done"),
        "a clear refusal: {ack}"
    );
    let ready = crate::common::get(format!("{}/readyz", server.base))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.expect("readyz JSON");
    assert_eq!(body["database"]["ok"], false, "{body}");
    // The database stays away until the rollout has finished (and pitcrew has tried to record
    // that), well within the lease (30 s): the outcome must be retried, then recorded.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d: Deployment = api.get("checkout").await.expect("get");
        if crate::common::cluster::RolloutStatus::rollout_complete(&d) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollout did not finish within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    pg.start_again();

    // Ready again without a restart.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = crate::common::get(format!("{}/readyz", server.base))
            .await
            .expect("readyz");
        if ready.status().as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready 30 s after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    send(&server.base, "restart cart -e staging", "3.pg", &hook("3")).await;
    let first = wait_for_received(&sink, "/commands/1", 1, Duration::from_secs(60)).await;
    assert!(first[0].contains("successfully rolled out"), "{first:?}");
    let third = wait_for_received(&sink, "/commands/3", 1, Duration::from_secs(60)).await;
    assert!(third[0].contains("successfully rolled out"), "{third:?}");
    assert!(
        received(&sink, "/commands/2").await.is_empty(),
        "the refused command did not run"
    );
    assert_eq!(
        revision_of(&api.get("cart").await.expect("get")),
        2,
        "cart restarted once (by the command sent after the database came back)"
    );

    let db = pitcrew::db::Database::open_postgres(&url)
        .await
        .expect("open the database");
    let (rows, intact) = trail(db).await;
    assert!(
        phases_of(&rows, "restart checkout -e staging").ends_with(&["started", "succeeded"]),
        "the outcome of the rollout that spanned the outage was recorded: {rows:?}"
    );
    assert!(
        server
            .log()
            .contains("cannot record the outcome in the audit trail yet; retrying"),
        "the outcome was written while the database was down, and retried"
    );
    let cart = phases_of(&rows, "restart cart -e staging");
    assert_eq!(
        cart.iter().filter(|p| **p == "started").count(),
        1,
        "{cart:?}"
    );
    assert!(intact, "the chain verifies");
}

/// A Kubernetes API server that refuses connections, and one that accepts them and never
/// answers: each change fails with a message that says what happened and what to check,
/// within bounded time, and is audited as `failed` after `started`. `/readyz` shows the
/// unreachable cluster (the replica reaches none, so it is unready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_kubernetes_api_is_a_clear_audited_failure() {
    // Accepts TCP connections and never says anything (a hung API server or a black hole).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let (dir, config) = TestConfig::new(POLICY)
        .any_team()
        .unreachable_cluster("refusing")
        .unreachable_cluster("silent")
        .environment_on("staging", "refusing", "shop")
        .environment_on("qa", "silent", "shop")
        .write();
    // The silent cluster's API server takes connections and never answers.
    std::fs::write(
        dir.path().join("silent.kubeconfig"),
        std::fs::read_to_string(dir.path().join("refusing.kubeconfig"))
            .expect("read")
            .replace("127.0.0.1:9", &format!("127.0.0.1:{silent_port}")),
    )
    .expect("silent kubeconfig");
    std::fs::write(
        dir.path().join("policy.csv"),
        "p, U01DEV, staging, *, *, *, *, *, allow\np, U01DEV, qa, *, *, *, *, *, allow\n",
    )
    .expect("policy");
    let exec = |text: &str| {
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args(["exec", "--as", "U01DEV", "--config"])
            .arg(&config)
            .args(["--", text])
            .output()
            .expect("run pitcrew exec");
        (out, started.elapsed())
    };
    let (refused, refused_took) = exec("restart checkout -e staging");
    let (hung, hung_took) = exec("restart checkout -e qa");
    for (out, took, bound) in [
        (&refused, refused_took, Duration::from_secs(15)),
        (&hung, hung_took, Duration::from_secs(45)),
    ] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(5), "exit 5, unavailable: {all}");
        assert!(
            all.contains("the Kubernetes API failed while")
                && all.contains("check that the cluster is reachable"),
            "says what happened and what to check: {all}"
        );
        assert!(took < bound, "bounded: {took:?} (at most {bound:?}): {all}");
        assert!(!all.contains("panicked"), "{all}");
    }
    let (rows, intact) = trail(sqlite_beside(&config).await).await;
    for command in ["restart checkout -e staging", "restart checkout -e qa"] {
        let phases = phases_of(&rows, command);
        assert!(
            phases.ends_with(&["started", "failed"]),
            "{command}: {phases:?}"
        );
    }
    assert!(intact);

    let server = Serve::start(&config, &[]);
    let ready = crate::common::get(format!("{}/readyz", server.base))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503, "reaches no cluster: unready");
    let body: serde_json::Value = ready.json().await.expect("JSON");
    assert_eq!(body["database"]["ok"], true, "{body}");
    for name in ["refusing", "silent"] {
        assert_eq!(body["clusters"][name]["ok"], false, "{body}");
        assert!(
            body["clusters"][name]["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    drop(silent);
}

/// Answers `chat.update` calls carrying the outcome 503 twice, then 200; the first progress
/// update 429. Counts what it answered 200 with the outcome.
struct FlakySlack {
    outcome_calls: AtomicUsize,
    progress_calls: AtomicUsize,
    outcome_ok: Arc<AtomicUsize>,
}

impl Respond for FlakySlack {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let ok = ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": "1700000000.000900", "message": {"text": "x"}
        }));
        if body.contains("successfully rolled out") {
            if self.outcome_calls.fetch_add(1, Ordering::SeqCst) < 2 {
                return ResponseTemplate::new(503).set_body_string("upstream connect error");
            }
            self.outcome_ok.fetch_add(1, Ordering::SeqCst);
            return ok;
        }
        if self.progress_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(serde_json::json!({"ok": false, "error": "ratelimited"}));
        }
        ok
    }
}

/// Slack's Web API answers 429 and 5xx while a change's live message is updated: the updates
/// are delayed, the outcome still lands in the same message (once), no second message is
/// posted and the `response_url` fallback is not needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_5xx_and_429_delay_the_live_message_but_never_lose_or_repeat_it() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster
        .with_workload("flaky", "checkout", Workload::new("checkout").min_ready(1))
        .await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": "1700000000.000900",
            "message": {"type": "message", "text": "x", "ts": "1700000000.000900", "user": "U0BOT"}
        })))
        .expect(1)
        .mount(&slack)
        .await;
    let outcome_ok = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .respond_with(FlakySlack {
            outcome_calls: AtomicUsize::new(0),
            progress_calls: AtomicUsize::new(0),
            outcome_ok: outcome_ok.clone(),
        })
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/commands/flaky"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&slack)
        .await;
    let (_dir, config) = staging(&cluster, &ns, &slack.uri()).write();
    let server = Serve::start(
        &config,
        &[
            ("SLACK_SIGNING_SECRET", SECRET),
            ("SLACK_BOT_TOKEN", "xoxb-flaky-test"),
        ],
    );
    let hook = format!("{}/commands/flaky", slack.uri());
    send(
        &server.base,
        "restart checkout -e staging",
        "1.flaky",
        &hook,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while outcome_ok.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the outcome never reached the live message"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time for any (wrong) extra delivery to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let updates: Vec<serde_json::Value> = slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/chat.update")
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect();
    let with_outcome = updates
        .iter()
        .filter(|u| {
            u["text"]
                .as_str()
                .is_some_and(|t| t.contains("successfully rolled out"))
        })
        .count();
    assert_eq!(
        with_outcome, 3,
        "the outcome sent until Slack took it (503, 503, 200) and not after: {updates:?}"
    );
    assert_eq!(outcome_ok.load(Ordering::SeqCst), 1);
    assert!(
        updates.iter().all(|u| u["ts"] == "1700000000.000900"),
        "always the same message"
    );
    assert!(
        received(&slack, "/commands/flaky").await.is_empty(),
        "no fallback message through the response_url"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);
    // /metrics counts the outside calls by outcome: Slack's two 503s and one 429 among them.
    let count = |service: &str, outcome: &str| {
        format!(
            "pitcrew_outside_request_seconds_count{{service=\"{service}\",outcome=\"{outcome}\"}}"
        )
    };
    assert_eq!(
        server.metric(&count("slack", "server_error")).await,
        Some(2.0)
    );
    assert_eq!(
        server.metric(&count("slack", "rate_limited")).await,
        Some(1.0)
    );
    assert!(server.metric(&count("slack", "ok")).await >= Some(2.0));
    assert!(
        server.metric(&count("kubernetes", "ok")).await >= Some(3.0),
        "the restart's reads, patch and watch were timed"
    );
    slack.verify().await;
}
