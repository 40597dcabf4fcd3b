//! What pitcrew depends on failing under it: PostgreSQL, the Kubernetes API, Slack.

use super::*;

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
