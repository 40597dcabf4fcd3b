//! Buttons: Confirm, Approve, Cancel, and `pitcrew chat` playing Slack through a whole approval.

use super::*;

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
