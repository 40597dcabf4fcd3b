//! Socket Mode against a local stand-in that speaks Slack's protocol: `apps.connections.open`
//! (checked to carry the app-level token) returns a `ws://` URL; the stand-in's WebSocket
//! server says `hello`, sends envelopes (`slash_commands`, `interactive`, `events_api`) and
//! reads pitcrew's acknowledgements; `disconnect` envelopes and dropped connections make
//! pitcrew open a new connection.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::app::{TEAM, TestConfig};
use crate::common::cluster::TestCluster;
use crate::common::serve::Serve;

const APP_TOKEN: &str = "xapp-1-A0PITCREW-socket-mode-test";

type Socket = WebSocketStream<TcpStream>;

/// Slack's WebSocket side: every connection pitcrew opens is handed to the test.
struct SocketStandIn {
    url: String,
    connections: mpsc::UnboundedReceiver<Socket>,
}

impl SocketStandIn {
    async fn start() -> SocketStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "ws://{}/link/?ticket=socket-test&app_id=A0PITCREW",
            listener.local_addr().expect("addr")
        );
        let (tx, connections) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    let _ = tx.send(ws);
                }
            }
        });
        SocketStandIn { url, connections }
    }

    /// The next connection pitcrew opens, greeted with `hello` as Slack does.
    async fn next(&mut self) -> Socket {
        let mut ws = tokio::time::timeout(Duration::from_secs(30), self.connections.recv())
            .await
            .expect("pitcrew opened no Socket Mode connection within 30 s")
            .expect("stand-in stopped");
        let hello = json!({
            "type": "hello", "num_connections": 1,
            "debug_info": {"host": "applink-test", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0PITCREW"}
        });
        ws.send(Message::Text(hello.to_string().into()))
            .await
            .expect("hello");
        ws
    }
}

/// Sends an envelope and returns pitcrew's acknowledgement and how long it took.
async fn envelope(ws: &mut Socket, body: Value) -> (Value, Duration) {
    let started = Instant::now();
    ws.send(Message::Text(body.to_string().into()))
        .await
        .expect("send envelope");
    (ack(ws).await, started.elapsed())
}

async fn ack(ws: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no acknowledgement within 5 s")
            .expect("connection closed")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("ack is JSON");
        }
    }
}

/// No acknowledgement arrives within `wait` (pings are not acknowledgements).
async fn no_ack(ws: &mut Socket, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return true,
            Ok(Some(Ok(Message::Text(t)))) => panic!("unexpected frame {t}"),
            Ok(Some(Ok(_))) => {}
            Ok(_) => return true,
        }
    }
}

fn command(envelope_id: &str, trigger: &str, team: &str, text: &str, hook: &str) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "deprecated", "team_id": team, "team_domain": "acme",
            "channel_id": "C01INCIDENT", "channel_name": "incidents",
            "user_id": "U01DEV", "user_name": "dev", "command": "/pitcrew", "text": text,
            "api_app_id": "A0PITCREW", "is_enterprise_install": "false",
            "response_url": hook, "trigger_id": trigger
        }
    })
}

async fn posts_to(slack: &MockServer, prefix: &str) -> Vec<Value> {
    slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

async fn wait_for_posts(slack: &MockServer, prefix: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = posts_to(slack, prefix).await;
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_acknowledges_envelopes_runs_each_once_and_reconnects() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, _api) = cluster.with_deployment("socket", "checkout").await;
    let mut standin = SocketStandIn::start().await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/apps.connections.open"))
        .and(header("authorization", format!("Bearer {APP_TOKEN}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "url": standin.url})),
        )
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": "C01INCIDENT", "ts": "1700000001.000200",
            "message": {"type": "message", "text": "ok", "ts": "1700000001.000200", "user": "U0BOT"}
        })))
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/auth.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "pitcrew",
            "team_id": TEAM, "user_id": "U0BOT", "bot_id": "B0BOT"
        })))
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&slack)
        .await;
    let hook = format!("{}/commands/T0PITCREW/1/socket", slack.uri());
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, status, *, allow\n")
        .set("server", "mode", "socket")
        .slack(&slack.uri())
        .cluster(&cluster.kubeconfig)
        .environment("staging", &ns.name)
        .write();
    // No signing secret: Socket Mode needs none.
    let server = Serve::start(
        &config,
        &[
            ("SLACK_APP_TOKEN", APP_TOKEN),
            ("SLACK_BOT_TOKEN", "xoxb-socket-test"),
        ],
    );
    // slack-morphism keeps two connections; both greet.
    let mut first = standin.next().await;
    let mut second = standin.next().await;

    // A slash command: acknowledged with the same "working on it" the HTTP endpoint gives,
    // well within Slack's 3 seconds; the outcome goes to the response_url.
    let (answer, took) = envelope(
        &mut first,
        command(
            "env-1",
            "trig.socket.1",
            TEAM,
            "status checkout -e staging",
            &hook,
        ),
    )
    .await;
    assert!(took < Duration::from_secs(3), "ack took {took:?}");
    assert_eq!(answer["envelope_id"], "env-1", "{answer}");
    assert!(
        answer["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("status deployment/checkout -e staging")),
        "{answer}"
    );
    let replies = wait_for_posts(&slack, "/commands/", 1).await;
    assert!(
        replies
            .first()
            .and_then(|r| r["text"].as_str())
            .is_some_and(|t| t.contains("replicas: 2 desired")),
        "{replies:?}"
    );

    // Slack redelivering the same command (same trigger_id, new envelope): acknowledged, not run.
    let (again, _) = envelope(
        &mut second,
        command(
            "env-2",
            "trig.socket.1",
            TEAM,
            "status checkout -e staging",
            &hook,
        ),
    )
    .await;
    assert_eq!(again["envelope_id"], "env-2");
    // Another workspace: acknowledged (so Slack stops) with the refusal, nothing run.
    let (other, _) = envelope(
        &mut first,
        command(
            "env-3",
            "trig.socket.3",
            "T0OTHER",
            "status checkout -e staging",
            &hook,
        ),
    )
    .await;
    assert_eq!(other["envelope_id"], "env-3");
    assert!(
        other["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("team T0OTHER is not allowed")),
        "{other}"
    );

    // A button click (`interactive`): acknowledged at once, answered at its response_url.
    let click = json!({
        "envelope_id": "env-4", "type": "interactive", "accepts_response_payload": false,
        "payload": {
            "type": "block_actions", "api_app_id": "A0PITCREW", "token": "deprecated",
            "trigger_id": "trig.socket.click",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": "U01DEV", "username": "dev", "team_id": TEAM},
            "channel": {"id": "C01INCIDENT", "name": "incidents"},
            "container": {"type": "message", "message_ts": "1700000001.000200", "channel_id": "C01INCIDENT", "is_ephemeral": false},
            "response_url": hook,
            "actions": [{"type": "button", "action_id": "pitcrew_cancel", "block_id": "pending-A-0",
                         "value": "A-0000000000", "action_ts": "1700000002.000300",
                         "text": {"type": "plain_text", "text": "Cancel"}}]
        }
    });
    let (clicked, took) = envelope(&mut first, click).await;
    assert_eq!(clicked, json!({"envelope_id": "env-4"}));
    assert!(took < Duration::from_secs(3), "ack took {took:?}");
    let replies = wait_for_posts(&slack, "/commands/", 2).await;
    assert!(
        replies
            .get(1)
            .and_then(|r| r["text"].as_str())
            .is_some_and(|t| t.contains("pressed cancel")),
        "{replies:?}"
    );

    // An @pitcrew mention (`events_api`): acknowledged, answered in its thread, once even
    // when redelivered.
    let mention = |envelope_id: &str| {
        json!({
            "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
            "retry_attempt": 0, "retry_reason": "",
            "payload": {
                "token": "deprecated", "team_id": TEAM, "api_app_id": "A0PITCREW",
                "type": "event_callback", "event_id": "Ev0SOCKET1", "event_time": 1_700_000_000,
                "event": {"type": "app_mention", "user": "U01DEV",
                          "text": "<@U0BOT> status checkout -e staging",
                          "ts": "1700000000.000100", "channel": "C01INCIDENT",
                          "event_ts": "1700000000.000100"}
            }
        })
    };
    assert_eq!(
        envelope(&mut first, mention("env-5")).await.0,
        json!({"envelope_id": "env-5"})
    );
    assert_eq!(
        envelope(&mut second, mention("env-6")).await.0,
        json!({"envelope_id": "env-6"})
    );
    let threads = wait_for_posts(&slack, "/api/chat.postMessage", 1).await;
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0]["thread_ts"], "1700000000.000100");

    // Slack asks pitcrew to reconnect: it opens a new connection (apps.connections.open
    // again) and works on it.
    first
        .send(Message::Text(
            json!({"type": "disconnect", "reason": "refresh_requested",
                   "debug_info": {"host": "applink-test"}})
            .to_string()
            .into(),
        ))
        .await
        .expect("disconnect");
    let mut third = standin.next().await;
    let (answer, _) = envelope(
        &mut third,
        command(
            "env-7",
            "trig.socket.7",
            TEAM,
            "status checkout -e staging",
            &hook,
        ),
    )
    .await;
    assert_eq!(answer["envelope_id"], "env-7");
    // A connection that just drops (no disconnect envelope) is replaced too.
    drop(second);
    let mut fourth = standin.next().await;
    let (answer, _) = envelope(
        &mut fourth,
        command("env-8", "trig.socket.8", TEAM, "help", &hook),
    )
    .await;
    assert_eq!(answer["envelope_id"], "env-8");
    let opens = slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/apps.connections.open")
        .count();
    assert!(opens >= 4, "apps.connections.open called {opens} times");

    // Each command ran once: env-1, env-7 and env-8 replied; env-2 and env-3 did not.
    let replies = wait_for_posts(&slack, "/commands/", 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(posts_to(&slack, "/commands/").await.len(), 4, "{replies:?}");
    assert!(no_ack(&mut third, Duration::from_millis(200)).await);

    // /readyz shows the connections and a reachable Web API; /metrics counts the envelopes.
    let ready: Value = crate::common::get(format!("{}/readyz", server.base))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert!(
        ready["slack"]["socket"]["connections_opened"]
            .as_u64()
            .is_some_and(|n| n >= 4),
        "{ready}"
    );
    assert_eq!(ready["slack"]["web_api"]["ok"], true, "{ready}");
    let metrics = crate::common::get(format!("{}/metrics", server.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .contains("pitcrew_slack_requests_total{endpoint=\"socket\",outcome=\"duplicate\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "pitcrew_slack_requests_total{endpoint=\"socket\",outcome=\"team_not_allowed\"} 1"
        ),
        "{metrics}"
    );
    for line in [
        "pitcrew_policy_decisions_total{action=\"status\",decision=\"allowed\"} ",
        "pitcrew_policy_rules 1",
        "pitcrew_policy_reload_ok 1",
        "pitcrew_outbox_depth 0",
    ] {
        assert!(metrics.contains(line), "{line:?} missing in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_without_an_app_token_refuses_to_start_and_says_what_to_set() {
    // Never contacted: serve refuses before connecting anything.
    let (_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, status, *, allow\n")
        .set("server", "mode", "socket")
        .offline()
        .environment("staging", "shop")
        .write();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SLACK_APP_TOKEN"), "{stderr}");
    assert!(stderr.contains("connections:write"), "{stderr}");
}
