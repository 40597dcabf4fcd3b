//! A request nobody answered in time says so in its own live message: the buttons go, the
//! message says it expired and nothing was done.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_says_so_in_its_own_message_without_its_buttons() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("expiry", "checkout").await;
    let slack = MockServer::start().await;
    const TS: &str = "1700000000.000777";
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": TS,
            "message": {"type": "message", "text": "x", "ts": TS, "user": "U0BOT"}
        })))
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true, "channel": "C01INCIDENT", "ts": TS, "message": {"text": "x"}
        })))
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let pagerduty = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    let (_dir, config) = TestConfig::new("p, U01DEV, prod, *, *, *, restart, *, allow\n")
        .slack(&slack.uri())
        .set("server", "approval_ttl", "1s")
        .set("rollout", "update_interval", "200ms")
        .pagerduty(&pagerduty.uri())
        .cluster(&cluster.kubeconfig)
        .protected("prod", &ns.name, 0)
        .write();
    let server = start_with(&config, &[("SLACK_BOT_TOKEN", "xoxb-expiry-test")]);
    let hook = format!("{}/commands/expiry", slack.uri());
    let cmd = form(
        "restart checkout -e prod --reason Q1OPEN",
        "555.666.aaa",
        TEAM,
        &hook,
    );
    assert_eq!(signed(&server.base, &cmd).await.0, 200);
    let updates = || async {
        slack
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/api/chat.update")
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect::<Vec<String>>()
    };
    // The live message ends waiting for the Confirm button.
    let deadline = Instant::now() + Duration::from_secs(30);
    let confirm = loop {
        if let Some(id) = updates()
            .await
            .iter()
            .find_map(|u| button(u, "pitcrew_confirm"))
        {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "no Confirm button: {:?}",
            updates().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Nobody confirms in time. The click that comes too late is refused, and closes it.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        click(&server.base, "U01DEV", "pitcrew_confirm", &confirm, &hook).await,
        200
    );
    let got = wait_for_reply(&slack, 1).await;
    assert!(got[0].contains("expired"), "{}", got[0]);
    // The message itself now says it expired, and has no buttons left.
    let deadline = Instant::now() + Duration::from_secs(30);
    let expired = loop {
        let found = updates()
            .await
            .into_iter()
            .find(|u| u.contains("expired before it was confirmed or approved"));
        if let Some(u) = found {
            break u;
        }
        assert!(
            Instant::now() < deadline,
            "the message was not changed: {:?}",
            updates().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let body: serde_json::Value = serde_json::from_str(&expired).unwrap_or_default();
    assert_eq!(body["ts"], TS, "the request's own message: {expired}");
    assert_eq!(body["channel"], "C01INCIDENT", "{expired}");
    assert!(!expired.contains("pitcrew_"), "no buttons left: {expired}");
    assert!(expired.contains("nothing was done"), "{expired}");
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 1);
}
