//! `pitcrew exec` end to end against the real cluster: what a user sees, and the documented
//! exit codes (0 done, 1 action failed, 2 bad input, 3 refused by policy).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, TestNamespace, revision_of, wait_for_deployment};
use crate::common::fixtures::Workload;

/// A config with `staging` (unprotected, the test namespace) and `prod` (protected).
pub struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

fn setup(cluster: &TestCluster, staging: &TestNamespace, timeout: &str) -> Setup {
    setup_with(
        cluster,
        &[
            ("staging", &staging.name, false),
            ("prod", &staging.name, true),
        ],
        timeout,
    )
}

/// The tester may do anything in staging and read prod; a stranger may only read staging.
const TEST_POLICY: &str = "\
p, role:tester, staging, *, *, *, *, *, allow
p, role:tester, dev, *, *, *, *, *, allow
p, role:tester, prod, *, *, *, status, *, allow
p, role:tester, prod, *, *, *, history, *, allow
p, U01STRANGER, staging, *, *, *, status, *, allow
g, U01TESTER1, role:tester
";

/// A config whose environments are `(name, namespace, protected)` on the test cluster.
pub fn setup_with(cluster: &TestCluster, envs: &[(&str, &str, bool)], timeout: &str) -> Setup {
    let mut app = TestConfig::new(TEST_POLICY)
        .set("rollout", "timeout", timeout)
        .set("jira", "base_url", "https://jira.invalid")
        .set("jira", "allowed_projects", ["CHG"])
        .set("jira", "approved_statuses", ["Approved"]);
    // Each environment on a cluster entry of its own (all reaching the test API server), so
    // that every command also exercises talking to several clusters at once.
    for (name, ns, protected) in envs {
        let cluster_name = format!("c-{name}");
        app = app
            .set(
                &format!("clusters.{cluster_name}"),
                "kubeconfig",
                &cluster.kubeconfig,
            )
            .environment_on(name, &cluster_name, ns)
            .set(&format!("environments.{name}"), "protected", *protected);
    }
    let (dir, config) = app.write();
    Setup { _dir: dir, config }
}

pub fn exec(setup: &Setup, text: &str) -> (i32, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("JIRA_EMAIL", "robot-secret@example.com")
        .env("JIRA_API_TOKEN", "ATATT-secret-jira-token")
        .env("SLACK_BOT_TOKEN", "xoxb-secret-bot-token")
        .env("SLACK_SIGNING_SECRET", "secret-signing-value")
        .args([
            "exec",
            "--config",
            setup.config.to_str().expect("utf-8"),
            "--as",
            "U01TESTER1",
            "--",
            text,
        ])
        .output()
        .expect("run pitcrew exec");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A namespace with a rolled-out Deployment `checkout` (two replicas) and a config whose
/// `staging` is that namespace.
async fn ready_checkout(
    cluster: &TestCluster,
    prefix: &str,
) -> (TestNamespace, Api<Deployment>, Setup) {
    let ns = cluster.namespace(prefix).await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &Workload::new("checkout").deployment(),
    )
    .await
    .expect("create");
    wait_for_deployment(
        &cluster.client,
        &ns.name,
        "checkout",
        Duration::from_secs(60),
    )
    .await;
    let setup = setup(cluster, &ns, "60s");
    (ns, api, setup)
}

#[tokio::test]
async fn exec_restarts_follows_and_reports_with_exit_codes() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("exec").await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &Workload::new("checkout").replicas(3).deployment(),
    )
    .await
    .expect("create");
    wait_for_deployment(
        &cluster.client,
        &ns.name,
        "checkout",
        Duration::from_secs(60),
    )
    .await;
    let setup = setup(&cluster, &ns, "60s");

    let (code, out) = exec(&setup, "/pitcrew restart checkout —env staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("» restart deployment/checkout -e staging\n"),
        "{out}"
    );
    assert!(out.contains("→ restarted deployment/checkout in "), "{out}");
    assert!(out.contains("revision 1 → 2"), "{out}");
    assert!(
        out.contains("… Waiting for deployment \"checkout\" rollout to finish"),
        "progress is shown:\n{out}"
    );
    assert!(
        out.contains("deployment \"checkout\" successfully rolled out ("),
        "{out}"
    );
    let d = api.get("checkout").await.expect("get");
    assert_eq!(revision_of(&d), 2, "the restart really happened");

    let (code, out) = exec(&setup, "status checkout -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("replicas: 3 desired, 3 updated, 3 ready, 3 available"),
        "{out}"
    );
    assert!(out.contains("revision: 2"), "{out}");
    assert!(out.contains("conditions: Available=True (MinimumReplicasAvailable), Progressing=True (NewReplicaSetAvailable)"), "{out}");

    let (code, out) = exec(&setup, "history checkout -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 revisions"), "{out}");

    let (code, out) = exec(&setup, "rollback checkout -e staging --dry-run");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("would roll back deployment/checkout to revision 1"),
        "{out}"
    );
    assert!(out.contains("nothing was changed"), "{out}");
    // Back to the revision already running: kubectl's "skipped rollback", exit 0, nothing done.
    let (code, out) = exec(&setup, "rollback checkout -e staging --to-revision 2");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "skipped rollback (current template already matches revision 2); nothing was changed"
        ),
        "{out}"
    );
    assert_eq!(
        revision_of(&api.get("checkout").await.expect("get")),
        2,
        "a dry run and a skipped rollback change nothing"
    );
    let (code, out) = exec(&setup, "can-i restart checkout -e staging");
    assert_eq!(
        (code, out.matches("allowed by").count()),
        (0, 1),
        "said once: {out}"
    );

    // Refusals, each with its exit code and nothing changed.
    let (code, out) = exec(&setup, "restart checkout -e prod --reason CHG-1");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("✗ you may not restart deployment/checkout in prod: no rule grants `restart` on deployment/checkout in prod"),
        "{out}"
    );
    let (code, out) = exec(&setup, "restart chekout -e staging");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("did you mean `checkout`?"), "{out}");
    let (code, out) = exec(&setup, "restart checkout --namspace x");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("did you mean `--namespace`?"), "{out}");
    let (code, out) = exec(&setup, "restart checkout");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("say which environment with -e: prod, staging"),
        "{out}"
    );
    assert_eq!(
        revision_of(&api.get("checkout").await.expect("get")),
        2,
        "refusals change nothing"
    );
}

#[tokio::test]
async fn a_rollout_that_never_becomes_ready_is_reported_as_failed_with_the_reason() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("stuck").await;
    // The 2-second progress deadline passes while the new pods stay Pending.
    crate::common::cluster::stuck_deployment(&cluster, &ns, "stuck", Some(2)).await;
    let setup = setup(&cluster, &ns, "60s");

    let (code, out) = exec(&setup, "restart stuck -e staging");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("but the rollout failed: deployment \"stuck\" exceeded its progress deadline"),
        "{out}"
    );
    assert!(
        out.contains("roll back with `rollback deployment/stuck -e staging --to-revision 2`"),
        "{out}"
    );
    // kubectl agrees.
    let kubectl = Command::new(&cluster.kubectl)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .args([
            "-n",
            &ns.name,
            "rollout",
            "status",
            "deployment/stuck",
            "--timeout=5s",
        ])
        .output()
        .expect("kubectl");
    assert!(!kubectl.status.success());
    assert!(String::from_utf8_lossy(&kubectl.stderr).contains("exceeded its progress deadline"));
}

#[tokio::test]
async fn a_rollout_that_outlasts_the_timeout_is_reported_as_such() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("slow").await;
    crate::common::cluster::stuck_deployment(&cluster, &ns, "slow", None).await;
    let setup = setup(&cluster, &ns, "3s");
    let started = std::time::Instant::now();
    let (code, out) = exec(&setup, "restart slow -e staging");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("but the rollout did not finish within 3 s"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout is honoured"
    );
}

#[tokio::test]
async fn following_a_rollout_stops_when_cancelled_and_reports_the_last_state() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("cancel").await;
    crate::common::cluster::stuck_deployment(&cluster, &ns, "stuck", None).await;
    let started = std::time::Instant::now();
    let mut seen = 0;
    let followed = pitcrew::cluster::follow(
        &cluster.client,
        &ns.name,
        pitcrew::command::Kind::Deployment,
        "stuck",
        Duration::from_secs(120),
        tokio::time::sleep(Duration::from_millis(1500)),
        |_| seen += 1,
    )
    .await
    .expect("follow");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancel is honoured at once"
    );
    match followed {
        pitcrew::cluster::Followed::Cancelled { state: Some(state) } => {
            assert!(!state.done);
            assert!(
                state.message.contains("Waiting for deployment \"stuck\""),
                "{state:?}"
            );
        }
        other => panic!("expected a cancelled follow with its last state, got {other:?}"),
    }
    assert!(seen >= 1, "progress was reported before the cancel");
}

#[tokio::test]
async fn following_survives_watches_that_end_under_it() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("rewatch").await;
    crate::common::cluster::stuck_deployment(&cluster, &ns, "slow", None).await;
    // Unblock the rollout after 4 s; each watch lasts 1 s, so following must re-watch (from
    // the last resource version) several times before it sees the rollout complete.
    let client = cluster.client.clone();
    let namespace = ns.name.clone();
    let unblock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let api: Api<Deployment> = Api::namespaced(client, &namespace);
        let patch =
            serde_json::json!([{"op": "remove", "path": "/spec/template/spec/nodeSelector"}]);
        let patch: json_patch::Patch = serde_json::from_value(patch).expect("json patch");
        api.patch(
            "slow",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::<()>::Json(patch),
        )
        .await
        .expect("unblock");
    });
    let started = std::time::Instant::now();
    let followed = pitcrew::cluster::follow_with_watch_timeout(
        &cluster.client,
        &ns.name,
        pitcrew::command::Kind::Deployment,
        "slow",
        Duration::from_secs(60),
        1,
        std::future::pending::<()>(),
        |_| {},
    )
    .await
    .expect("follow");
    unblock.await.expect("unblocked");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "completion came after the unblock"
    );
    assert!(
        matches!(followed, pitcrew::cluster::Followed::Complete { .. }),
        "the rollout was followed to completion across several watches: {followed:?}"
    );
}

/// An audit sink that records in memory and fails on one phase, to prove the gate.
struct FailingAt(pitcrew::command::Phase, std::sync::Mutex<Vec<String>>);

impl pitcrew::workflow::gates::AuditSink for FailingAt {
    fn record<'a>(
        &'a self,
        e: &'a pitcrew::workflow::gates::AuditEvent,
    ) -> futures::future::BoxFuture<'a, Result<(), pitcrew::audit::Error>> {
        let result = if e.phase == self.0 {
            Err(pitcrew::audit::Error::Unavailable("disk full".to_string()))
        } else {
            self.1.lock().expect("lock").push(e.phase.to_string());
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }

    fn unfinished(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<Vec<pitcrew::audit::Record>, pitcrew::audit::Error>>
    {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn query(
        &self,
        _: pitcrew::audit::Filter,
    ) -> futures::future::BoxFuture<'_, Result<Vec<pitcrew::audit::Record>, pitcrew::audit::Error>>
    {
        Box::pin(std::future::ready(Err(pitcrew::audit::Error::NotQueryable)))
    }

    fn record_raw(
        &self,
        _: pitcrew::audit::NewEvent,
    ) -> futures::future::BoxFuture<'_, Result<(), pitcrew::audit::Error>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

#[tokio::test]
async fn nothing_runs_when_the_started_event_cannot_be_recorded() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (_ns, api, setup) = ready_checkout(&cluster, "nostart").await;
    let env = |k: &str| match k {
        "JIRA_EMAIL" | "JIRA_API_TOKEN" => Some("x".to_string()),
        _ => None,
    };
    let config = pitcrew::config::Config::load(&setup.config, &env).expect("config");
    let clusters = pitcrew::cluster::Clusters::connect(&config, None)
        .await
        .expect("clusters");
    let sink = FailingAt(pitcrew::command::Phase::Started, Default::default());
    let ctx = pitcrew::workflow::Context::with_parts(
        config,
        std::sync::Arc::new(clusters),
        Box::new(sink),
    )
    .expect("context");
    let request = pitcrew::workflow::Request {
        confirmed: true,
        ..pitcrew::workflow::Request::new(
            pitcrew::names::SlackUserId::parse("U01TESTER1").expect("id"),
            pitcrew::command::parse("restart checkout -e staging").expect("command"),
        )
    };
    let outcome = pitcrew::workflow::run(&ctx, &request, &|_| {}).await;
    assert_eq!(outcome.exit_code(), 5, "{outcome:?}");
    assert_eq!(
        outcome.message(),
        "the audit trail cannot be written (disk full); nothing was done"
    );
    assert_eq!(
        revision_of(&api.get("checkout").await.expect("get")),
        1,
        "the restart did not happen"
    );
}

#[tokio::test]
async fn exec_writes_a_verifiable_audit_trail_to_the_embedded_database() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (_ns, _api, setup) = ready_checkout(&cluster, "trail").await;
    assert_eq!(
        exec(&setup, "restart checkout -e staging --reason CHG-42").0,
        0
    );
    assert_eq!(exec(&setup, "restart checkout -e prod").0, 3);

    let db = pitcrew::db::Database::open_sqlite(&setup.config.with_file_name("pitcrew.db"))
        .await
        .expect("db");
    let store = pitcrew::audit::AuditStore::new(db);
    let all = store
        .query(&pitcrew::audit::Filter::default())
        .await
        .expect("query");
    let phases: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r.env.as_deref().unwrap_or(""), r.phase.as_str()))
        .collect();
    assert_eq!(
        phases,
        [
            ("staging", "requested"),
            ("staging", "approved"),
            ("staging", "started"),
            ("staging", "succeeded"),
            ("prod", "requested"),
            ("prod", "denied")
        ]
    );
    assert_eq!(all[0].reason.as_deref(), Some("CHG-42"));
    assert_eq!(all[0].kind.as_deref(), Some("deployment"));
    assert_eq!(all[0].name.as_deref(), Some("checkout"));
    assert_eq!(
        all[0].correlation, all[3].correlation,
        "one command, one correlation id"
    );
    assert_ne!(all[0].correlation, all[4].correlation);
    assert_eq!(store.verify().await.expect("verify").first_problem, None);
    // No secret from the environment reaches the trail (the database file, byte for byte).
    let mut bytes = std::fs::read(setup.config.with_file_name("pitcrew.db")).expect("read db");
    // Recent pages may still be in the write-ahead log.
    bytes.extend(std::fs::read(setup.config.with_file_name("pitcrew.db-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        "ATATT-secret-jira-token",
        "xoxb-secret-bot-token",
        "secret-signing-value",
        "robot-secret@example.com",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the audit database"
        );
    }
    assert!(
        text.contains("restart deployment/checkout -e staging --reason CHG-42"),
        "the check reads the real file"
    );
}

#[tokio::test]
async fn a_command_cut_off_after_started_is_closed_as_interrupted_with_the_state_found() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, _api, setup) = ready_checkout(&cluster, "crash").await;

    // What a pitcrew killed right after `started` leaves in its database.
    let db = pitcrew::db::Database::open_sqlite(&setup.config.with_file_name("pitcrew.db"))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let store = pitcrew::audit::AuditStore::new(db);
    for phase in ["requested", "approved", "started"] {
        store
            .append(pitcrew::audit::NewEvent {
                correlation: "crashed-1".into(),
                phase: phase.into(),
                actor_id: "U01TESTER1".into(),
                command_text: "restart checkout -e staging".into(),
                action: Some("restart".into()),
                env: Some("staging".into()),
                cluster: Some("c-staging".into()),
                namespace: Some(ns.name.clone()),
                kind: Some("deployment".into()),
                name: Some("checkout".into()),
                detail: serde_json::json!({}),
                ..Default::default()
            })
            .await
            .expect("append");
    }

    // While another replica still holds the workload's lease, the command is running there:
    // reconciliation leaves it alone.
    let key =
        pitcrew::workflow::workload_lock_key("c-staging", Some(&ns.name), "deployment", "checkout");
    let at = |secs: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let lock_db = pitcrew::db::Database::open_sqlite(&setup.config.with_file_name("pitcrew.db"))
        .await
        .expect("db");
    sqlx::query("INSERT INTO workload_locks (lock_key, holder, token, correlation, acquired_at, expires_at) VALUES ($1, 'other-replica:7:x', 't', 'crashed-1', $2, $3)")
        .bind(&key)
        .bind(at(-5))
        .bind(at(60))
        .execute(lock_db.pool())
        .await
        .expect("a live lease");
    let (code, out) = exec(&setup, "status checkout -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("closed an interrupted command"),
        "a command leased by a live replica is not interrupted: {out}"
    );
    // Once the lease has run out (that replica died), it is closed.
    sqlx::query("UPDATE workload_locks SET expires_at = $1")
        .bind(at(-1))
        .execute(lock_db.pool())
        .await
        .expect("the lease runs out");

    let (code, out) = exec(&setup, "status checkout -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("! closed an interrupted command as `interrupted`: restart checkout -e staging — found: deployment \"checkout\" successfully rolled out (revision 1, images app=registry.invalid/checkout:1)"),
        "{out}"
    );
    let story = store
        .query(&pitcrew::audit::Filter {
            correlation: Some("crashed-1".into()),
            ..Default::default()
        })
        .await
        .expect("query");
    let phases: Vec<&str> = story.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(phases, ["requested", "approved", "started", "interrupted"]);
    assert!(
        story[3].detail.contains("successfully rolled out"),
        "{}",
        story[3].detail
    );
    assert_eq!(store.verify().await.expect("verify").first_problem, None);

    let (_, out) = exec(&setup, "status checkout -e staging");
    assert!(
        !out.contains("closed an interrupted command"),
        "closed once only: {out}"
    );
}
