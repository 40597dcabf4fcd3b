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

mod trail;
