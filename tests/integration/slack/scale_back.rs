//! A scale offers the scale back: its Slack message carries a "Scale back to N" button whose
//! click runs that scale, as the person who clicks, through every check.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_offers_a_scale_back_button_that_undoes_it() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("scaleback", "checkout").await;
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
    let hook = format!("{}/commands/scale", slack.uri());
    let replicas = || async {
        api.get("checkout")
            .await
            .expect("get")
            .spec
            .and_then(|s| s.replicas)
    };
    let cmd = form(
        "scale checkout -e staging --replicas 3",
        "666.777.aaa",
        TEAM,
        &hook,
    );
    assert_eq!(signed(&server.base, &cmd).await.0, 200);
    let got = wait_for_reply(&slack, 1).await;
    assert!(
        got[0].contains("scaled deployment/checkout from 2 to 3 replicas"),
        "{}",
        got[0]
    );
    assert!(got[0].contains("Scale back to 2"), "{}", got[0]);
    let back = button(&got[0], "pitcrew_scale")
        .unwrap_or_else(|| panic!("a Scale back button: {}", got[0]));
    assert_eq!(back, "scale deployment/checkout -e staging --replicas 2");
    assert_eq!(replicas().await, Some(3));
    // A Scale back button holding anything but a scale is refused.
    assert_eq!(
        click(
            &server.base,
            "U01DEV",
            "pitcrew_scale",
            "restart checkout -e staging",
            &hook
        )
        .await,
        200
    );
    let got = wait_for_reply(&slack, 2).await;
    assert!(
        got[1].contains("does not hold the command it should"),
        "{}",
        got[1]
    );
    assert_eq!(
        click(&server.base, "U01DEV", "pitcrew_scale", &back, &hook).await,
        200
    );
    let got = wait_for_reply(&slack, 3).await;
    assert!(
        got[2].contains("scaled deployment/checkout from 3 to 2 replicas"),
        "{}",
        got[2]
    );
    assert_eq!(replicas().await, Some(2));
}
