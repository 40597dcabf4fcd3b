//! `pitcrew chat`: a terminal client that plays Slack against a running `pitcrew serve`.
//!
//! It is both sides of Slack: it signs and sends slash commands and button clicks to pitcrew
//! (as Slack's servers would), and it listens where pitcrew's `[slack].api_base_url` points, to
//! receive the Web API calls (`chat.postMessage`, `chat.update`) and `response_url` posts that
//! pitcrew makes, rendering each message as text with numbered buttons.
//!
//! Lines typed (or read from `--script`): a command (`restart checkout -e prod`, with or
//! without `/pitcrew`), `press N` (button N of the latest message with buttons), `as USER`
//! (act as someone else, e.g. an approver), `in CHANNEL` (type in another channel), `wait`
//! (for the next message), `# comment`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::verify::sign;

pub struct ChatOptions {
    pub user: String,
    pub channel: String,
    pub team: String,
    pub server: String,
    pub listen: SocketAddr,
    pub secret: String,
    pub script: Option<String>,
}

#[derive(Default)]
struct Seen {
    /// Buttons of the latest message that had any: (action_id, value, label).
    buttons: Vec<(String, String, String)>,
    messages: u64,
}

#[derive(Clone)]
struct Slack {
    seen: Arc<Mutex<Seen>>,
    tx: mpsc::UnboundedSender<String>,
}

/// Renders a message (text and buttons) as lines, remembering its buttons.
fn show(slack: &Slack, who: &str, body: &Value) {
    let mut out = String::new();
    let text = body["text"].as_str().unwrap_or_default();
    out.push_str(&format!("── {who} ──\n{}\n", unescape(text)));
    let mut buttons = Vec::new();
    for block in body["blocks"].as_array().into_iter().flatten() {
        for e in block["elements"].as_array().into_iter().flatten() {
            if e["type"] == "button" {
                buttons.push((
                    e["action_id"].as_str().unwrap_or_default().to_string(),
                    e["value"].as_str().unwrap_or_default().to_string(),
                    e["text"]["text"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    if !buttons.is_empty() {
        let labels: Vec<String> = buttons
            .iter()
            .enumerate()
            .map(|(i, (_, _, l))| format!("[{}] {l}", i + 1))
            .collect();
        out.push_str(&format!("   {}   (type: press N)\n", labels.join("  ")));
    }
    let mut seen = slack.seen.lock().unwrap_or_else(|p| p.into_inner());
    if !buttons.is_empty() {
        seen.buttons = buttons;
    }
    seen.messages += 1;
    let _ = slack.tx.send(out);
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn web_api(
    State(slack): State<Slack>,
    axum::extract::Path(method): axum::extract::Path<String>,
    body: Bytes,
) -> Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let channel = body["channel"].as_str().unwrap_or("?").to_string();
    // chat.update redraws a message posted before: shown again, marked as such.
    let updated = if method == "chat.update" {
        " (updated)"
    } else {
        ""
    };
    show(&slack, &format!("pitcrew in {channel}{updated}"), &body);
    let ts = body["ts"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}.000100", chrono::Utc::now().timestamp()));
    Json(json!({
        "ok": true, "channel": channel, "ts": ts,
        "message": {"type": "message", "text": body["text"], "ts": ts, "user": "U0PITCREW"}
    }))
}

async fn hook(State(slack): State<Slack>, body: Bytes) -> &'static str {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let who = match body["response_type"].as_str() {
        Some("in_channel") => "pitcrew (in channel)",
        _ => "pitcrew (only you see this)",
    };
    show(&slack, who, &body);
    "ok"
}

pub async fn run(o: ChatOptions) -> crate::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let slack = Slack {
        seen: Arc::default(),
        tx,
    };
    let listener = tokio::net::TcpListener::bind(o.listen).await.map_err(|e| {
        crate::Error::Usage(format!(
            "cannot listen on {} for pitcrew's replies: {e}",
            o.listen
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| crate::Error::Usage(e.to_string()))?;
    let app = axum::Router::new()
        .route("/api/{method}", post(web_api))
        .route("/hooks/{id}", post(hook))
        .with_state(slack.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    println!(
        "playing Slack for pitcrew at {} (its [slack].api_base_url must be http://{local}/api/); you are {} in {}",
        o.server, o.user, o.channel
    );
    let lines: Vec<String> = match &o.script {
        Some(text) => text.lines().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let interactive = o.script.is_none();
    let mut user = o.user.clone();
    let mut channel = o.channel.clone();
    let http = crate::http_client_builder().build().unwrap_or_default();
    let mut stdin =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
    let mut scripted = lines.into_iter();
    let mut counter = 0u64;
    loop {
        // Print what arrived meanwhile.
        while let Ok(m) = rx.try_recv() {
            print!("{m}");
        }
        let line = if interactive {
            match stdin.next_line().await {
                Ok(Some(l)) => l,
                _ => break,
            }
        } else {
            match scripted.next() {
                Some(l) => l,
                None => break,
            }
        };
        let line = line.trim().to_string();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !interactive {
            println!("{user} in {channel}> {line}");
        }
        counter += 1;
        let before = slack
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .messages;
        let hook_url = format!("http://{local}/hooks/{counter}");
        let sent = if let Some(who) = line.strip_prefix("as ") {
            user = who.trim().to_string();
            println!("(you are now {user})");
            continue;
        } else if let Some(c) = line.strip_prefix("in ") {
            channel = c.trim().to_string();
            println!("(you are now typing in {channel})");
            continue;
        } else if line == "wait" {
            Ok(())
        } else if let Some(n) = line.strip_prefix("press ") {
            let chosen = n.trim().parse::<usize>().ok().and_then(|i| {
                let seen = slack.seen.lock().unwrap_or_else(|p| p.into_inner());
                seen.buttons.get(i.wrapping_sub(1)).cloned()
            });
            match chosen {
                Some((action, value, _)) => {
                    let payload = json!({
                        "type": "block_actions",
                        "user": {"id": user}, "team": {"id": o.team}, "channel": {"id": channel},
                        "trigger_id": format!("chat.{counter}.{}", chrono::Utc::now().timestamp_micros()),
                        "response_url": hook_url,
                        "actions": [{"type": "button", "action_id": action, "value": value}],
                    });
                    let form = serde_urlencoded::to_string([("payload", payload.to_string())])
                        .unwrap_or_default();
                    send(&http, &o, "interactions", &form).await.map(|_| ())
                }
                None => {
                    println!("(no button {n}; the latest buttons are shown with [N])");
                    continue;
                }
            }
        } else {
            let text = line
                .strip_prefix("/pitcrew")
                .unwrap_or(&line)
                .trim()
                .to_string();
            let form = serde_urlencoded::to_string([
                ("team_id", o.team.as_str()),
                ("channel_id", channel.as_str()),
                ("user_id", user.as_str()),
                ("command", "/pitcrew"),
                ("text", text.as_str()),
                ("response_url", hook_url.as_str()),
                (
                    "trigger_id",
                    &format!("chat.{counter}.{}", chrono::Utc::now().timestamp_micros()),
                ),
            ])
            .unwrap_or_default();
            match send(&http, &o, "commands", &form).await {
                Ok(Some(ack)) => {
                    show(&slack, "pitcrew (only you see this)", &ack);
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = sent {
            println!("(pitcrew did not take it: {e})");
            continue;
        }
        // Wait for what pitcrew sends back (scripts wait; a person sees it when it comes):
        // at least one new message, then until pitcrew has been quiet for a moment (a live
        // message is updated as a rollout goes on).
        if !interactive || line == "wait" {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            let quiet = Duration::from_millis(2500);
            let mut last = (before, tokio::time::Instant::now());
            loop {
                while let Ok(m) = rx.try_recv() {
                    print!("{m}");
                }
                let now = slack
                    .seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .messages;
                if now != last.0 {
                    last = (now, tokio::time::Instant::now());
                }
                let settled = now > before && last.1.elapsed() >= quiet;
                if settled || tokio::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(m) = rx.try_recv() {
        print!("{m}");
    }
    Ok(())
}

/// Signs and posts a form to pitcrew; the acknowledgement's JSON if it has one.
async fn send(
    http: &reqwest::Client,
    o: &ChatOptions,
    endpoint: &str,
    form: &str,
) -> Result<Option<Value>, String> {
    let ts = chrono::Utc::now().timestamp();
    let response = http
        .post(format!(
            "{}/slack/{endpoint}",
            o.server.trim_end_matches('/')
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(&o.secret, ts, form))
        .body(form.to_string())
        .send()
        .await
        .map_err(|e| format!("cannot reach {}: {e}", o.server))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let text = response.text().await.unwrap_or_default();
    Ok(serde_json::from_str(&text).ok())
}
