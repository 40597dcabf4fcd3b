//! Slack slash commands against `pitcrew serve`, as Slack sends them (form-encoded, signed
//! v0): refused without work when unsigned, stale, oversized or from another team; acknowledged
//! at once even when PagerDuty is slow; run in the background with the outcome posted to the
//! `response_url`; never run twice for the same `trigger_id`, also across a restart.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pitcrew::chat::verify::sign;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::app::{TEAM, TestConfig};
use crate::common::cluster::{TestCluster, revision_of, wait_for_deployment};
use crate::common::fakes;
use crate::common::fixtures::Workload;
use crate::common::slack::post_command as post;

const SECRET: &str = "slack-signing-secret-for-tests";

type Server = crate::common::serve::Serve;

fn start(config: &Path) -> Server {
    start_with(config, &[])
}

/// `pitcrew serve` with the signing secret, a PagerDuty token and `env` (e.g. a bot token).
fn start_with(config: &Path, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("SLACK_SIGNING_SECRET", SECRET),
        ("PAGERDUTY_TOKEN", fakes::PD_TOKEN),
    ];
    all.extend_from_slice(env);
    Server::start(config, &all)
}

fn form(text: &str, trigger: &str, team: &str, response_url: &str) -> String {
    crate::common::slack::command_form(text, trigger, team, "U01DEV", response_url)
}

async fn signed(base: &str, body: &str) -> (u16, String, Duration) {
    crate::common::slack::signed_command(base, SECRET, body).await
}

/// The texts posted to the response_url so far.
async fn replies(slack: &MockServer) -> Vec<String> {
    crate::common::slack::received(slack, "/commands/").await
}

async fn wait_for_reply(slack: &MockServer, n: usize) -> Vec<String> {
    crate::common::slack::wait_for_received(slack, "/commands/", n, Duration::from_secs(90)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_are_verified_acknowledged_at_once_and_never_run_twice() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("slack", "checkout").await;

    // Slack (Web API and response_url hooks, one stand-in) and a PagerDuty that never answers
    // in time.
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let pagerduty = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1SLOW"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(10))
                .set_body_json(fakes::incident("Q1SLOW", "triggered", "P1", None)),
        )
        .mount(&pagerduty)
        .await;

    let (_dir, config) = TestConfig::new("p, U01DEV, *, *, *, *, *, *, allow\n")
        .slack(&slack.uri())
        .pagerduty(&pagerduty.uri())
        .set("pagerduty", "timeout", "2s")
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .protected("prod", &ns.name, 0)
        .write();
    let server = start(&config);
    let hook = format!("{}/commands/T0PITCREW/1/abc", slack.uri());
    let restart = form("restart checkout -e staging", "111.222.aaa", TEAM, &hook);

    // Refused before any work: unsigned, wrong signature, stale, oversized, other team.
    let now = chrono::Utc::now().timestamp();
    assert_eq!(post(&server.base, &restart, now, None).await.0, 401);
    assert_eq!(
        post(
            &server.base,
            &restart,
            now,
            Some(sign("wrong", now, &restart))
        )
        .await
        .0,
        401
    );
    let stale = now - 600;
    assert_eq!(
        post(
            &server.base,
            &restart,
            stale,
            Some(sign(SECRET, stale, &restart))
        )
        .await
        .0,
        401
    );
    let huge = form(&"x".repeat(70 * 1024), "111.222.big", TEAM, &hook);
    assert_eq!(signed(&server.base, &huge).await.0, 413);
    let other_team = form(
        "restart checkout -e staging",
        "111.222.bbb",
        "T0OTHER",
        &hook,
    );
    assert_eq!(signed(&server.base, &other_team).await.0, 401);
    let forged_hook = form(
        "restart checkout -e staging",
        "111.222.ccc",
        TEAM,
        "https://evil.example/x",
    );
    assert_eq!(signed(&server.base, &forged_hook).await.0, 400);
    // Replies go only to the stand-in's exact origin (or Slack's): not another port of its
    // host, not Slack's host as userinfo in front of it, not another spelling of 127.0.0.1.
    let stand_in = slack.address();
    for (i, other) in [
        "http://127.0.0.1:22/x".to_string(),
        "http://127.1:22/x".into(),
        "http://2130706433:22/x".into(),
        format!("https://hooks.slack.com@127.0.0.1:{}/x", stand_in.port()),
        format!("https://127.0.0.1:{}/x", stand_in.port()),
    ]
    .iter()
    .enumerate()
    {
        let body = form("help", &format!("111.222.o{i}"), TEAM, other);
        assert_eq!(signed(&server.base, &body).await.0, 400, "{other}");
    }
    // An empty or odd trigger_id is refused every time (it once made every later empty id a
    // silent duplicate).
    for trigger in ["", "", "a b"] {
        let body = form("help", trigger, TEAM, &hook);
        assert_eq!(signed(&server.base, &body).await.0, 400, "{trigger:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        revision_of(&api.get("checkout").await.expect("get")),
        1,
        "nothing ran"
    );
    assert!(replies(&slack).await.is_empty());

    // A typo is answered in the acknowledgement, escaped.
    let (status, ack, _) = signed(
        &server.base,
        &form(
            "restart checkout -e staging --namspace x",
            "111.222.ddd",
            TEAM,
            &hook,
        ),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack.contains("did you mean `--namespace`?"), "{ack}");
    let (status, ack, _) = signed(
        &server.base,
        &form("restart <x> -e staging", "111.222.ddf", TEAM, &hook),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert!(
        ack.contains("&lt;x&gt;") && !ack.contains("<x>"),
        "user text is escaped: {ack}"
    );

    // The real thing: acknowledged at once, then done, with the outcome at the response_url.
    let (status, ack, took) = signed(&server.base, &restart).await;
    assert_eq!(status, 200, "{ack}");
    assert!(
        ack.contains("restart deployment/checkout -e staging` — working on it"),
        "{ack}"
    );
    assert!(took < Duration::from_secs(3), "acknowledged in {took:?}");
    let got = wait_for_reply(&slack, 1).await;
    assert!(got[0].contains("successfully rolled out"), "{got:?}");
    assert!(
        got[0].contains("\"response_type\":\"in_channel\""),
        "{got:?}"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);

    // The trail names the actor as Slack showed them, and the workspace.
    let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PAGERDUTY_TOKEN", fakes::PD_TOKEN)
        .args([
            "audit",
            "query",
            "--outcome",
            "succeeded",
            "--format",
            "jsonl",
            "--config",
        ])
        .arg(&config)
        .output()
        .expect("audit query");
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        !line.is_empty(),
        "stdout {:?} stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    assert_eq!(
        (
            event["actor_id"].as_str(),
            event["actor_name"].as_str(),
            event["team"].as_str()
        ),
        (Some("U01DEV"), Some("dev"), Some(TEAM)),
        "{line}"
    );

    // The same request again (a retry, a replay within 5 minutes): acknowledged, not run.
    let (status, ack, _) = signed(&server.base, &restart).await;
    assert_eq!((status, ack.as_str()), (200, ""));

    // A slow PagerDuty does not delay the acknowledgement; the refusal follows.
    let prod = form(
        "restart checkout -e prod --reason Q1SLOW",
        "111.222.eee",
        TEAM,
        &hook,
    );
    let (status, _, took) = signed(&server.base, &prod).await;
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(3),
        "acknowledged in {took:?} although PagerDuty is slow"
    );
    let got = wait_for_reply(&slack, 2).await;
    assert!(got[1].contains("PagerDuty did not answer in 2s"), "{got:?}");
    assert!(
        got[1].contains("\"response_type\":\"ephemeral\""),
        "{got:?}"
    );

    // After a restart of pitcrew, the old request is still recognised.
    drop(server);
    let server = start(&config);
    let (status, ack, _) = signed(&server.base, &restart).await;
    assert_eq!((status, ack.as_str()), (200, ""));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        revision_of(&api.get("checkout").await.expect("get")),
        2,
        "never run twice"
    );
    assert_eq!(replies(&slack).await.len(), 2);
}

fn event_body(team: &str, event_id: &str, text: &str) -> String {
    serde_json::json!({
        "token": "deprecated",
        "team_id": team,
        "api_app_id": "A0PITCREW",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "event": {
            "type": "app_mention",
            "user": "U01DEV",
            "text": text,
            "ts": "1700000000.000100",
            "channel": "C01INCIDENT",
            "event_ts": "1700000000.000100"
        }
    })
    .to_string()
}

async fn post_event(base: &str, body: &str, retry: Option<&str>) -> (u16, String) {
    let ts = chrono::Utc::now().timestamp();
    let mut request = crate::common::http()
        .post(format!("{base}/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SECRET, ts, body))
        .body(body.to_string());
    if let Some(n) = retry {
        request = request
            .header("x-slack-retry-num", n)
            .header("x-slack-retry-reason", "http_timeout");
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_answer_url_verification_and_run_mentions_once_in_their_thread() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, _api) = cluster.with_deployment("events", "checkout").await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": "1700000001.000200",
            "message": {"type": "message", "text": "ok", "ts": "1700000001.000200", "user": "U0BOT"}
        })))
        .mount(&slack)
        .await;
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, status, *, allow\n")
        .slack(&slack.uri())
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .write();
    let server = start_with(&config, &[("SLACK_BOT_TOKEN", "xoxb-events-test")]);

    let challenge = serde_json::json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let (status, answer) = post_event(&server.base, &challenge, None).await;
    assert_eq!(
        (status, answer.as_str()),
        (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    );

    // An empty event_id is refused, every time, before anything is recorded.
    let blank = event_body(TEAM, "", "<@U0BOT> status checkout -e staging");
    assert_eq!(post_event(&server.base, &blank, None).await.0, 400);
    assert_eq!(post_event(&server.base, &blank, None).await.0, 400);
    let mention = event_body(TEAM, "Ev0MENTION1", "<@U0BOT> status checkout -e staging");
    assert_eq!(post_event(&server.base, &mention, None).await.0, 200);
    // Slack's retries of the same event: acknowledged, not run again.
    assert_eq!(post_event(&server.base, &mention, Some("1")).await.0, 200);
    assert_eq!(post_event(&server.base, &mention, Some("2")).await.0, 200);
    assert_eq!(
        post_event(
            &server.base,
            &event_body(
                "T0OTHER",
                "Ev0OTHER1",
                "<@U0BOT> status checkout -e staging"
            ),
            None
        )
        .await
        .0,
        401
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let posts = loop {
        let posts: Vec<serde_json::Value> = slack
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/api/chat.postMessage")
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect();
        if !posts.is_empty() || Instant::now() > deadline {
            break posts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = slack.received_requests().await.unwrap_or_default();
    assert_eq!(
        all.iter()
            .filter(|r| r.url.path() == "/api/chat.postMessage")
            .count(),
        1,
        "run once"
    );
    let post = &posts[0];
    assert_eq!(post["channel"], "C01INCIDENT");
    assert_eq!(
        post["thread_ts"], "1700000000.000100",
        "answered in the mention's thread"
    );
    assert!(
        post["text"]
            .as_str()
            .unwrap_or_default()
            .contains("replicas: 2 desired"),
        "{post}"
    );
}

async fn click(base: &str, user: &str, action: &str, value: &str, hook: &str) -> u16 {
    crate::common::slack::click(base, SECRET, TEAM, user, action, value, hook).await
}

use crate::common::slack::button;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_confirm_then_approve_once_and_refuse_everyone_else() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("buttons", "checkout").await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let pagerduty = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    let (_dir, config) = TestConfig::new(
        "p, U01DEV, prod, *, *, *, restart, *, allow\np, U02LEAD, prod, *, *, *, approve, *, allow\n",
    )
    .slack(&slack.uri())
    .set("slack", "allowed_teams", [TEAM, "T0OTHER"])
    .pagerduty(&pagerduty.uri())
    .cluster(&cluster.kubeconfig)
    .protected("prod", &ns.name, 1)
    .write();
    let server = start(&config);
    let hook = format!("{}/commands/T0PITCREW/2/xyz", slack.uri());
    let revision = || async { revision_of(&api.get("checkout").await.expect("get")) };

    let cmd = form(
        "restart checkout -e prod --reason Q1OPEN",
        "222.333.aaa",
        TEAM,
        &hook,
    );
    assert_eq!(signed(&server.base, &cmd).await.0, 200);
    let got = wait_for_reply(&slack, 1).await;
    let confirm_id = button(&got[0], "pitcrew_confirm")
        .unwrap_or_else(|| panic!("a Confirm button: {}", got[0]));

    // Only the requester confirms.
    assert_eq!(
        click(
            &server.base,
            "U02LEAD",
            "pitcrew_confirm",
            &confirm_id,
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 2).await;
    assert!(
        got[1].contains("only &lt;@U01DEV&gt;, who asked for it, can confirm this"),
        "{}",
        got[1]
    );
    assert!(got[1].contains("\"replace_original\":false"), "{}", got[1]);
    assert_eq!(
        click(
            &server.base,
            "U01DEV",
            "pitcrew_confirm",
            &confirm_id,
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 3).await;
    let approve_id = button(&got[2], "pitcrew_approve")
        .unwrap_or_else(|| panic!("an Approve button: {}", got[2]));
    assert_eq!(revision().await, 1, "waiting for approval");

    // Not by the requester; then by the lead, once, even when clicked twice.
    assert_eq!(
        click(
            &server.base,
            "U01DEV",
            "pitcrew_approve",
            &approve_id,
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 4).await;
    assert!(
        got[3].contains("you cannot approve your own request"),
        "{}",
        got[3]
    );
    // Another allowed workspace's user with the same id: its click does not act on this
    // workspace's request.
    let other_team = crate::common::slack::click(
        &server.base,
        SECRET,
        "T0OTHER",
        "U02LEAD",
        "pitcrew_approve",
        &approve_id,
        &hook,
    )
    .await;
    assert_eq!(other_team, 200);
    let got = wait_for_reply(&slack, 5).await;
    assert!(
        got[4].contains("was asked for in another Slack workspace"),
        "{}",
        got[4]
    );
    assert_eq!(
        revision().await,
        1,
        "nothing ran on the other workspace's click"
    );
    assert_eq!(
        click(
            &server.base,
            "U02LEAD",
            "pitcrew_approve",
            &approve_id,
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 6).await;
    assert!(got[5].contains("successfully rolled out"), "{}", got[5]);
    assert_eq!(
        click(
            &server.base,
            "U02LEAD",
            "pitcrew_approve",
            &approve_id,
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 7).await;
    assert!(got[6].contains("already used"), "{}", got[6]);
    assert_eq!(revision().await, 2, "exactly one restart");
    // The used confirmation cannot be replayed either.
    assert_eq!(
        click(
            &server.base,
            "U01DEV",
            "pitcrew_confirm",
            &confirm_id,
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 8).await;
    assert!(got[7].contains("already used"), "{}", got[7]);
    assert_eq!(revision().await, 2);
}

/// `pitcrew chat` plays Slack: a scripted conversation confirms and, as another person,
/// approves a protected restart through the real buttons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_client_plays_slack_through_a_whole_approval() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("chat", "checkout").await;
    let pagerduty = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    let chat_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let (dir, config) = TestConfig::new(
        "p, U01DEV, prod, *, *, *, restart, *, allow\np, U02LEAD, prod, *, *, *, approve, *, allow\n",
    )
    .slack(&format!("http://127.0.0.1:{chat_port}"))
    .pagerduty(&pagerduty.uri())
    .cluster(&cluster.kubeconfig)
    .protected("prod", &ns.name, 1)
    .write();
    let server = start(&config);
    let script = dir.path().join("conversation.txt");
    std::fs::write(
        &script,
        "# an on-call restart that needs a second person\nrestart checkout -e prod --reason Q1OPEN\npress 1\nas U02LEAD\npress 1\n",
    )
    .expect("script");
    let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_SIGNING_SECRET", SECRET)
        .args([
            "chat",
            "--as",
            "U01DEV",
            "--channel",
            "C01INCIDENT",
            "--team",
            TEAM,
        ])
        .args([
            "--server",
            &server.base,
            "--slack-listen",
            &format!("127.0.0.1:{chat_port}"),
        ])
        .arg("--script")
        .arg(&script)
        .output()
        .expect("run chat");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "U01DEV in C01INCIDENT> restart checkout -e prod --reason Q1OPEN",
        "working on it",
        "[1] Confirm  [2] Cancel",
        "[1] Approve  [2] Cancel",
        "(you are now U02LEAD)",
        "successfully rolled out",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);

    // The trail tells one story: the command waited twice (confirmation, approval) and then
    // ran, all under one correlation id; nothing in it says "cancelled".
    let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAGERDUTY_TOKEN", fakes::PD_TOKEN)
        .args(["audit", "query", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .expect("audit query");
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit query --format json: {e}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let phases: Vec<&str> = events.iter().filter_map(|e| e["phase"].as_str()).collect();
    let correlations: std::collections::BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["correlation"].as_str())
        .collect();
    assert_eq!(
        correlations.len(),
        1,
        "one command, one correlation: {events:?}"
    );
    assert_eq!(
        phases.iter().filter(|p| **p == "pending").count(),
        2,
        "{phases:?}"
    );
    assert_eq!(phases.last(), Some(&"succeeded"), "{phases:?}");
    assert!(!phases.contains(&"cancelled"), "{phases:?}");
}

/// A change with the bot in the channel: one message, posted once and updated in place until
/// the outcome, through a rate limit; the response_url is not needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_one_channel_message_updated_in_place() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("live", "checkout").await;
    let slack = MockServer::start().await;
    let message = |ts: &str| {
        serde_json::json!({"ok": true, "channel": "C01INCIDENT", "ts": ts,
            "message": {"type": "message", "text": "x", "ts": ts, "user": "U0BOT"}})
    };
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(message("1700000000.000900")))
        .expect(1)
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(serde_json::json!({"ok": false, "error": "ratelimited"})),
        )
        .up_to_n_times(1)
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": "1700000000.000900",
            "message": {"text": "x"}
        })))
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/commands/live"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .slack(&slack.uri())
        .set("rollout", "update_interval", "300ms")
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .write();
    let server = start_with(&config, &[("SLACK_BOT_TOKEN", "xoxb-live-test")]);
    let hook = format!("{}/commands/live", slack.uri());
    let (status, ack, _) = signed(
        &server.base,
        &form("restart checkout -e staging", "333.444.aaa", TEAM, &hook),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    let updates = |reqs: &[wiremock::Request]| -> Vec<serde_json::Value> {
        reqs.iter()
            .filter(|r| r.url.path() == "/api/chat.update")
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let done = loop {
        let reqs = slack.received_requests().await.unwrap_or_default();
        let ups = updates(&reqs);
        // One update (whichever) is answered 429; if it is the final one, it is sent again
        // after Retry-After. Wait for the final text, then for any retry to land.
        if ups.iter().any(|u| {
            u["text"]
                .as_str()
                .unwrap_or_default()
                .contains("successfully rolled out")
        }) {
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            let reqs = slack.received_requests().await.unwrap_or_default();
            break updates(&reqs);
        }
        assert!(Instant::now() < deadline, "no final update: {ups:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let last = done.last().cloned().unwrap_or_default();
    assert_eq!(
        last["ts"], "1700000000.000900",
        "the same message is updated"
    );
    assert!(
        last["text"]
            .as_str()
            .unwrap_or_default()
            .contains("by <@U01DEV>"),
        "{last}"
    );
    assert!(
        done.len() >= 2
            && done
                .last()
                .and_then(|u| u["text"].as_str())
                .is_some_and(|t| t.contains("successfully rolled out")),
        "updated along the way, the outcome last, through a 429: {done:?}"
    );
    let reqs = slack.received_requests().await.unwrap_or_default();
    assert!(
        !reqs.iter().any(|r| r.url.path() == "/commands/live"),
        "no response_url fallback was needed"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);
    slack.verify().await;
}

/// A change whose rollout fails offers a Roll back button; pressing it runs a rollback to the
/// revision before the change, as a new command with every check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_change_offers_a_roll_back_button_that_undoes_it() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster
        .with_workload(
            "undo",
            "checkout",
            Workload::new("checkout").progress_deadline(2),
        )
        .await;
    // Revision 2 can never run (no node matches); revision 3 is the good template again.
    for selector in [
        serde_json::json!({"pitcrew.test/node": "none"}),
        serde_json::Value::Null,
    ] {
        let patch = serde_json::json!({"spec": {"template": {"spec": {"nodeSelector": selector}}}});
        // Read before patching: a quick controller may have made the new revision by the
        // time a read after the patch returns.
        let before = revision_of(&api.get("checkout").await.expect("get"));
        api.patch(
            "checkout",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("patch");
        // Each template must become its own revision: if the second patch landed before the
        // controller saw the first, revision 2 would never exist.
        crate::common::cluster::wait_for_revision_after(&api, "checkout", before).await;
    }
    wait_for_deployment(
        &cluster.client,
        &ns.name,
        "checkout",
        Duration::from_secs(60),
    )
    .await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .slack(&slack.uri())
        .set("rollout", "timeout", "60s")
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .write();
    let server = start(&config);
    let hook = format!("{}/commands/undo", slack.uri());
    // The bad revision comes back with a plain rollback (to the previous revision, 2).
    let bad = form("rollback checkout -e staging", "444.555.aaa", TEAM, &hook);
    assert_eq!(signed(&server.base, &bad).await.0, 200);
    let got = wait_for_reply(&slack, 1).await;
    assert!(got[0].contains("but the rollout failed"), "{}", got[0]);
    let undo = button(&got[0], "pitcrew_rollback")
        .unwrap_or_else(|| panic!("a Roll back button: {}", got[0]));
    assert_eq!(
        undo,
        "rollback deployment/checkout -e staging --to-revision 3"
    );
    assert_eq!(
        click(&server.base, "U01DEV", "pitcrew_rollback", &undo, &hook).await,
        200
    );
    let got = wait_for_reply(&slack, 2).await;
    assert!(got[1].contains("successfully rolled out"), "{}", got[1]);
    let d = api.get("checkout").await.expect("get");
    let selector = d
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.node_selector);
    assert_eq!(selector, None, "the good template runs again");
}
