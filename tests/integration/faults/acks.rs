//! An acknowledged slash command is durable: its `trigger_id` was committed before the ack
//! (group commit batches the commits, it does not skip them), so a `kill -9` right after a
//! burst of acks loses none of them, and Slack's redelivery after a restart is refused as a
//! repeat instead of running the command twice.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_command_is_still_known_after_kill_9() {
    let slack = hooks().await;
    let hook = format!("{}/commands/burst", slack.uri());
    let app = TestConfig::new(POLICY)
        .slack(&slack.uri())
        .offline()
        .environment("staging", "shop")
        .start(&[("SLACK_SIGNING_SECRET", SECRET)]);
    let base = app.server.base.clone();
    let form = |i: usize| command_form("help", &format!("burst.{i}"), TEAM, "U01DEV", &hook);
    // A burst of concurrent commands, each with its own trigger_id.
    let sent = futures::future::join_all((0..200).map(|i| {
        let (base, body) = (base.clone(), form(i));
        async move { (i, signed_command(&base, SECRET, &body).await) }
    }))
    .await;
    let acked: Vec<usize> = sent
        .iter()
        .filter(|(_, (status, ack, _))| *status == 200 && ack.contains("working on it"))
        .map(|(i, _)| *i)
        .collect();
    assert!(
        acked.len() >= 150,
        "most of the burst was acknowledged: {}",
        acked.len()
    );
    // kill -9 at once: no shutdown, no flush.
    let mut app = app;
    app.server.child.kill().expect("kill -9");
    let _ = app.server.child.wait();

    let restarted = Serve::start(&app.config, &[("SLACK_SIGNING_SECRET", SECRET)]);
    for i in acked {
        let (status, ack, _) = signed_command(&restarted.base, SECRET, &form(i)).await;
        assert_eq!(status, 200, "burst.{i}: {ack}");
        assert!(
            !ack.contains("working on it"),
            "burst.{i} was acknowledged before the kill, yet ran again after it: {ack}"
        );
    }
}
