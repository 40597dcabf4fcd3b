//! `pitcrew serve` as a replica runs it: health and readiness (with the policy's reload status),
//! the policy reloaded while it runs (a broken file refused and shown, the old policy kept),
//! queued announcements delivered to Slack's Web API, and a clean exit on SIGTERM.

use std::process::Command;
use std::time::{Duration, Instant};

use pitcrew::outbox::{Kind, Notice, Outbox};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::cluster::TestCluster;

async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let r = crate::common::get(url).await.expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reports_readiness_reloads_the_policy_and_delivers_announcements() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", "Bearer xoxb-test-bot-token"))
        .and(body_string_contains("BREAK-GLASS by"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01ONCALL", "ts": "1503435956.000247",
            "message": {"type": "message", "text": "ok", "ts": "1503435956.000247", "user": "U0BOT"}
        })))
        .expect(1)
        .mount(&slack)
        .await;

    let (dir, config) = crate::common::app::TestConfig::new(
        "p, role:dev, staging, *, *, *, *, *, allow\ng, U01DEV, role:dev\n",
    )
    .set("server", "shutdown_grace", "5s")
    .slack(&slack.uri())
    .any_team()
    .cluster(&cluster.kubeconfig)
    .environment("staging", "shop")
    .write();
    let policy = dir.path().join("policy.csv");
    // With no workspace allowed, serve refuses to start, and says how to allow them.
    let text = std::fs::read_to_string(&config).expect("config");
    let closed = dir.path().join("no-teams.toml");
    std::fs::write(&closed, text.replace("allowed_teams = [\"*\"]\n", "")).expect("config");
    let refused = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_BOT_TOKEN", "xoxb-test-bot-token")
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&closed)
        .output()
        .expect("run serve");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("[slack].allowed_teams is empty") && said.contains("allowed_teams = [\"*\"]"),
        "{said}"
    );
    let mut server =
        crate::common::serve::Serve::start(&config, &[("SLACK_BOT_TOKEN", "xoxb-test-bot-token")]);
    let base = server.base.clone();

    let health = crate::common::get(format!("{base}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let (status, ready) = get_json(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["clusters"]["main"]["ok"], true, "{ready}");
    assert!(
        ready["clusters"]["main"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.")),
        "the API server's version: {ready}"
    );
    assert_eq!(ready["policy"]["rules"], 1);
    assert_eq!(ready["policy"]["last_error"], serde_json::Value::Null);

    // A broken edit: refused, shown in readiness with its line, the old policy kept.
    std::fs::write(&policy, "p, role:dev, staging, *, *, *, reboot, *, allow\n").expect("write");
    let deadline = Instant::now() + Duration::from_secs(15);
    let ready = loop {
        let (_, ready) = get_json(&format!("{base}/readyz")).await;
        if ready["policy"]["failures"] == 1 || Instant::now() > deadline {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        ready["ready"], true,
        "the previous policy still decides: {ready}"
    );
    assert_eq!(ready["policy"]["rules"], 1, "{ready}");
    assert!(
        ready["policy"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("policy.csv:1: error: unknown action `reboot`"),
        "{ready}"
    );
    // Fixed: reloaded.
    std::fs::write(&policy, "p, role:dev, staging, *, *, *, *, *, allow\np, role:dev, staging, *, *, *, status, *, allow\n").expect("write");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, ready) = get_json(&format!("{base}/readyz")).await;
        if ready["policy"]["rules"] == 2 && ready["policy"]["last_error"].is_null() {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // An announcement queued (as a break-glass command does) is delivered to Slack.
    let db = pitcrew::db::Database::open_sqlite(&dir.path().join("pitcrew.db"))
        .await
        .expect("db");
    Outbox::new(db.clone())
        .enqueue(
            Kind::SlackAnnounce,
            "C01ONCALL",
            "corr-9",
            &Notice::BreakGlass {
                actor: "U02CAROL".into(),
                env: "prod".into(),
                command: "restart deploy/checkout -e prod --break-glass \"db down\"".into(),
                text: "db down".into(),
                correlation: "corr-9".into(),
            },
        )
        .await
        .expect("enqueue");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Outbox::new(db.clone()).depth().await.expect("depth") > 0 {
        assert!(
            Instant::now() < deadline,
            "the announcement was not delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    slack.verify().await;

    // SIGTERM: a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SQLite serves one replica: a second `pitcrew serve` on the same file refuses to start and
/// says what to do, while the first keeps serving; one-shot commands still work beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_sqlite_file_is_refused_with_what_to_do() {
    // Never contacted: nothing here needs the cluster.
    let first = crate::common::app::TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .any_team()
        .offline()
        .environment("staging", "shop")
        .start(&[]);
    let config = first.config.clone();
    let second = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .expect("run a second serve");
    assert_eq!(second.status.code(), Some(2), "refused as a usage problem");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!(
            "another pitcrew serve (pid {})",
            first.server.child.id()
        )) && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
    // The first keeps serving (unready only because its cluster is the unreachable stand-in).
    let (_, ready) = get_json(&format!("{}/readyz", first.server.base)).await;
    assert_eq!(ready["database"]["ok"], true, "{ready}");
    assert_eq!(ready["clusters"]["main"]["ok"], false, "{ready}");
    let audit = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .output()
        .expect("audit verify");
    assert!(
        audit.status.success(),
        "one-shot commands are not refused: {}",
        String::from_utf8_lossy(&audit.stderr)
    );
}
