//! Exactly once with two replicas on one PostgreSQL: N distinct slash commands, each
//! delivered three times (Slack's retries, a replayed request) to randomly chosen replicas at
//! the same moment, make exactly N changes in the cluster (checked on the objects: each
//! Deployment restarted exactly once), N `started` events, and a trail that verifies. And
//! Confirm/Approve buttons pressed twice on both replicas at once run each change once.
//!
//! N is `PITCREW_TEST_REPLICA_COMMANDS`, 100 by default; `scripts/test.sh` runs this test alone
//! with the 500 after the rest of the suite, since 500 restarts at once keep the test
//! cluster's controllers busy for minutes and other tests' rollouts would time out behind them.
//! Past 100 commands the Deployments have 0 replicas, since the test cluster's fake nodes hold
//! 330 pods in all (a restart still makes a new revision, which is what is counted).

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::app::{TEAM, TestConfig};
use crate::common::cluster::{TestCluster, revision_of};
use crate::common::databases::TestDb;
use crate::common::fixtures::Workload;
use crate::common::serve::Serve;

const SECRET: &str = "replicas-signing-secret";

/// A fresh namespace with `n` Deployments `app-0` … of `pods` replicas each, all rolled out
/// (revision 1) before anything restarts them: a restart that lands before the first rollout
/// would be folded into it.
async fn apps(
    cluster: &TestCluster,
    prefix: &str,
    n: usize,
    pods: i32,
) -> (crate::common::cluster::TestNamespace, Api<Deployment>) {
    let ns = cluster.namespace(prefix).await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    for i in 0..n {
        api.create(
            &PostParams::default(),
            &Workload::new(&format!("app-{i}"))
                .replicas(pods)
                .deployment(),
        )
        .await
        .expect("create a deployment");
    }
    for i in 0..n {
        crate::common::cluster::wait_for_deployment(
            &cluster.client,
            &ns.name,
            &format!("app-{i}"),
            Duration::from_secs(120),
        )
        .await;
    }
    (ns, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_each_command_exactly_once_however_often_it_is_delivered() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let url = pg.url().expect("a PostgreSQL URL");
    let n: usize = std::env::var("PITCREW_TEST_REPLICA_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    // kwok's three fake nodes hold 110 pods each: past 100 commands the Deployments run no
    // pods (a restart still makes a new revision, which is what is counted).
    let (ns, api) = apps(&cluster, "replicas", n, if n > 100 { 0 } else { 1 }).await;
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sink)
        .await;
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .slack(&sink.uri())
        .set("rollout", "timeout", "120s")
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .write();
    // Two replicas starting together on one database (both run start-up reconciliation).
    let env = [
        ("SLACK_SIGNING_SECRET", SECRET),
        ("DATABASE_URL", url.as_str()),
    ];
    let replicas = [Serve::start(&config, &env), Serve::start(&config, &env)];
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();

    // Every command three times, to replicas chosen by a seeded shuffle, all in flight at once.
    let mut deliveries: Vec<(usize, usize)> =
        (0..n).flat_map(|i| (0..3).map(move |k| (i, k))).collect();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for i in (1..deliveries.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        deliveries.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let http = pitcrew::http_client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let started = Instant::now();
    let sends: Vec<_> = deliveries
        .into_iter()
        .enumerate()
        .map(|(j, (i, _))| {
            let (http, base) = (http.clone(), bases[(j * 7 + i) % 2].clone());
            let hook = format!("{}/commands/{TEAM}/{i}/x", sink.uri());
            tokio::spawn(async move {
                let body = crate::common::slack::command_form(
                    &format!("restart app-{i} -e staging"),
                    &format!("replicas.{i}"),
                    TEAM,
                    "U01DEV",
                    &hook,
                );
                let status = crate::common::slack::send_signed(&http, &base, SECRET, &body).await;
                assert_eq!(status, 200);
            })
        })
        .collect();
    for s in sends {
        s.await.expect("delivery");
    }
    let acked = started.elapsed();

    // Wait until every command has answered (each exactly once at its response_url).
    let deadline = Instant::now() + Duration::from_secs(300);
    let replies = loop {
        let replies = sink
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().starts_with("/commands/"))
            .count();
        if replies >= n || Instant::now() > deadline {
            break replies;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replies, n, "one answer per command (acks took {acked:?})");

    // On the objects: each Deployment restarted exactly once (revision 1 → 2).
    let mut revisions = std::collections::BTreeMap::new();
    for i in 0..n {
        let d = api.get(&format!("app-{i}")).await.expect("get");
        *revisions.entry(revision_of(&d)).or_insert(0) += 1;
    }
    let sample: Vec<String> = sink
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with("/commands/"))
        .take(3)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        revisions,
        std::collections::BTreeMap::from([(2, n)]),
        "revisions of the {n} deployments (revision → count); some answers: {sample:?}"
    );

    // In the trail: N started events, and the chain verifies.
    let starts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE phase = 'started'")
            .fetch_one(pg.db().pool())
            .await
            .expect("count");
    assert_eq!(starts, n as i64);
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &url)
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .expect("audit verify");
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // /metrics agrees: the two replicas' `started` counters add up to N, and every one
    // succeeded.
    let mut by_phase = std::collections::BTreeMap::new();
    for r in &replicas {
        for phase in ["started", "succeeded"] {
            let series = format!("pitcrew_actions_total{{action=\"restart\",phase=\"{phase}\"}}");
            let count = r.metric(&series).await.unwrap_or(0.0) as u64;
            *by_phase.entry(phase).or_insert(0) += count;
        }
    }
    assert_eq!(
        by_phase,
        std::collections::BTreeMap::from([("started", n as u64), ("succeeded", n as u64)])
    );
    eprintln!("{n} commands × 3 deliveries to 2 replicas: acknowledged in {acked:?}, all done");
    drop(replicas);
    pg.cleanup().await;
}

/// Buttons pressed twice, on two replicas at the same moment (a double click, Slack's retry
/// of a slow interaction): for M changes in a protected environment that needs one approval,
/// the requester's Confirm and the approver's Approve each reach both replicas at once; every
/// change runs exactly once (one new revision per Deployment, M `started` events), and the
/// trail verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_and_approvals_clicked_twice_on_two_replicas_run_once() {
    use crate::common::fakes;
    use crate::common::slack::{button, click, command_form, signed_command, wait_for_received};
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let url = pg.url().expect("a PostgreSQL URL");
    let m = 20;
    let (ns, api) = apps(&cluster, "clicks", m, 0).await;
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sink)
        .await;
    let pagerduty = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    let (_dir, config) = TestConfig::new(
        "p, U01DEV, prod, *, *, *, restart, *, allow\np, U02LEAD, prod, *, *, *, approve, *, allow\n",
    )
    .slack(&sink.uri())
    .pagerduty(&pagerduty.uri())
    .set("rollout", "timeout", "120s")
    .cluster(&cluster.kubeconfig)
    .protected("prod", &ns.name, 1)
    .write();
    let env = [
        ("SLACK_SIGNING_SECRET", SECRET),
        ("PAGERDUTY_TOKEN", fakes::PD_TOKEN),
        ("DATABASE_URL", url.as_str()),
    ];
    let replicas = [Serve::start(&config, &env), Serve::start(&config, &env)];
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    // Each change's own response_url; the path ends in `/` so that 1's is no prefix of 10's.
    let hook = |i: usize| format!("{}/hooks/{i}/", sink.uri());
    let hook_path = |i: usize| format!("/hooks/{i}/");

    // Every change asked for on one replica; each waits for its Confirm button.
    for i in 0..m {
        let body = command_form(
            &format!("restart app-{i} -e prod --reason Q1OPEN"),
            &format!("clicks.{i}"),
            TEAM,
            "U01DEV",
            &hook(i),
        );
        let (status, ack, _) = signed_command(&bases[i % 2], SECRET, &body).await;
        assert_eq!(status, 200, "{ack}");
    }
    // Each button pressed on both replicas at once; the next step waits for the reply.
    let press_twice = |who: &'static str, action: &'static str, value: String, i: usize| {
        let (a, b, h) = (bases[0].clone(), bases[1].clone(), hook(i));
        async move {
            let (x, y) = tokio::join!(
                click(&a, SECRET, TEAM, who, action, &value, &h),
                click(&b, SECRET, TEAM, who, action, &value, &h)
            );
            assert_eq!((x, y), (200, 200));
        }
    };
    for i in 0..m {
        let got = wait_for_received(&sink, &hook_path(i), 1, Duration::from_secs(60)).await;
        let confirm = button(&got[0], "pitcrew_confirm")
            .unwrap_or_else(|| panic!("a Confirm button: {}", got[0]));
        press_twice("U01DEV", "pitcrew_confirm", confirm, i).await;
    }
    for i in 0..m {
        // Two presses of Confirm: one reply with the Approve button, one refusal (used).
        let got = wait_for_received(&sink, &hook_path(i), 3, Duration::from_secs(60)).await;
        let approve = got
            .iter()
            .find_map(|r| button(r, "pitcrew_approve"))
            .unwrap_or_else(|| panic!("one Approve button among {got:?}"));
        press_twice("U02LEAD", "pitcrew_approve", approve, i).await;
    }
    for i in 0..m {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let got = crate::common::slack::received(&sink, &hook_path(i)).await;
            if got.iter().any(|r| r.contains("successfully rolled out")) {
                break;
            }
            assert!(Instant::now() < deadline, "app-{i} never finished: {got:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut revisions = std::collections::BTreeMap::new();
    for i in 0..m {
        let d = api.get(&format!("app-{i}")).await.expect("get");
        *revisions.entry(revision_of(&d)).or_insert(0) += 1;
    }
    assert_eq!(
        revisions,
        std::collections::BTreeMap::from([(2, m)]),
        "each change ran once (revision → count)"
    );
    for i in 0..m {
        let got = crate::common::slack::received(&sink, &hook_path(i)).await;
        assert_eq!(
            got.iter()
                .filter(|r| r.contains("successfully rolled out"))
                .count(),
            1,
            "app-{i}: one outcome: {got:?}"
        );
    }
    let starts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE phase = 'started'")
            .fetch_one(pg.db().pool())
            .await
            .expect("count");
    assert_eq!(starts, m as i64);
    // Each reason was checked live against PagerDuty, and /metrics timed those calls.
    let mut pagerduty_ok = 0.0;
    for r in &replicas {
        pagerduty_ok += r
            .metric("pitcrew_outside_request_seconds_count{service=\"pagerduty\",outcome=\"ok\"}")
            .await
            .unwrap_or(0.0);
    }
    assert!(pagerduty_ok >= 1.0, "PagerDuty calls timed: {pagerduty_ok}");
    let verified = pitcrew::audit::AuditStore::new(pg.db().clone())
        .verify()
        .await
        .expect("verify");
    assert_eq!(verified.first_problem, None);
    drop(replicas);
    pg.cleanup().await;
}
