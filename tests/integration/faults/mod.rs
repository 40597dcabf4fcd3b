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

mod acks;
mod outside;
