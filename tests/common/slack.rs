//! Playing Slack in tests: slash-command forms as Slack sends them, signed v0 with the app's
//! signing secret, and what a stand-in for Slack received.

use std::time::{Duration, Instant};

/// A slash command's form body, with every field Slack sends.
pub fn command_form(
    text: &str,
    trigger: &str,
    team: &str,
    user: &str,
    response_url: &str,
) -> String {
    serde_urlencoded::to_string([
        ("token", "deprecated-verification-token"),
        ("team_id", team),
        ("team_domain", "acme"),
        ("channel_id", "C01INCIDENT"),
        ("channel_name", "incidents"),
        ("user_id", user),
        ("user_name", "dev"),
        ("command", "/pitcrew"),
        ("text", text),
        ("api_app_id", "A0PITCREW"),
        ("response_url", response_url),
        ("trigger_id", trigger),
    ])
    .expect("form")
}

/// POSTs a form to `/slack/commands` with the given timestamp and signature (none: unsigned):
/// status, body and how long the acknowledgement took.
pub async fn post_command(
    base: &str,
    body: &str,
    ts: i64,
    signature: Option<String>,
) -> (u16, String, Duration) {
    let mut request = crate::common::http()
        .post(format!("{base}/slack/commands"))
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .body(body.to_string());
    if let Some(sig) = signature {
        request = request.header("x-slack-signature", sig);
    }
    let started = Instant::now();
    let response = request.send().await.expect("post a slash command");
    let status = response.status().as_u16();
    (
        status,
        response.text().await.unwrap_or_default(),
        started.elapsed(),
    )
}

/// POSTs a form to `/slack/commands` through `http`, signed now with `secret`: the status.
pub async fn send_signed(http: &reqwest::Client, base: &str, secret: &str, body: &str) -> u16 {
    let ts = chrono::Utc::now().timestamp();
    http.post(format!("{base}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            pitcrew::chat::verify::sign(secret, ts, body),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("pitcrew answers")
        .status()
        .as_u16()
}

/// POSTs a form to `/slack/commands` signed now with `secret`, as Slack does.
pub async fn signed_command(base: &str, secret: &str, body: &str) -> (u16, String, Duration) {
    let ts = chrono::Utc::now().timestamp();
    post_command(
        base,
        body,
        ts,
        Some(pitcrew::chat::verify::sign(secret, ts, body)),
    )
    .await
}

/// The bodies a wiremock stand-in received at paths starting with `prefix`.
pub async fn received(server: &wiremock::MockServer, prefix: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

/// Waits (up to `within`) until a stand-in received `n` requests at paths starting with
/// `prefix`, and returns their bodies.
pub async fn wait_for_received(
    server: &wiremock::MockServer,
    prefix: &str,
    n: usize,
    within: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let got = received(server, prefix).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} requests at {prefix} within {within:?}: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks a button of pitcrew's message as `user` (a signed `block_actions` interaction);
/// returns the HTTP status of the acknowledgement.
pub async fn click(
    base: &str,
    secret: &str,
    team: &str,
    user: &str,
    action: &str,
    value: &str,
    hook: &str,
) -> u16 {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": team},
        "team": {"id": team, "domain": "acme"},
        "api_app_id": "A0PITCREW",
        "trigger_id": format!("trig-{user}-{action}-{}", chrono::Utc::now().timestamp_micros()),
        "response_url": hook,
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C01INCIDENT"},
        "actions": [{"type": "button", "action_id": action, "block_id": "b", "value": value,
                     "action_ts": "1700000001.000100", "text": {"type": "plain_text", "text": "x"}}]
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let ts = chrono::Utc::now().timestamp();
    crate::common::http()
        .post(format!("{base}/slack/interactions"))
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            pitcrew::chat::verify::sign(secret, ts, &body),
        )
        .body(body)
        .send()
        .await
        .expect("click")
        .status()
        .as_u16()
}

/// The value of the button `action` in a reply (its JSON body), if it has one.
pub fn button(reply: &str, action: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(reply).ok()?;
    v["blocks"].as_array()?.iter().find_map(|b| {
        b["elements"].as_array()?.iter().find_map(|e| {
            (e["action_id"] == action).then(|| e["value"].as_str().unwrap_or_default().to_string())
        })
    })
}
