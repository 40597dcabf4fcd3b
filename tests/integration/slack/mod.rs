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
use crate::common::slack::button;
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

mod buttons;
mod expiry;
mod live;
mod scale_back;
