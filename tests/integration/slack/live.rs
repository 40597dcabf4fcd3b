//! The live channel message of a change, and the Roll back button of a failed one.

use super::*;

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
