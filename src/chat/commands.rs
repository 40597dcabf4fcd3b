//! `POST /slack/commands`: slash commands. Verified (size, signature, timestamp, team),
//! de-duplicated by `trigger_id`, acknowledged at once (Slack gives up after 3 seconds) with
//! what pitcrew understood or why it cannot, then run through the workflow in the background;
//! the outcome goes to the command's `response_url`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use slack_morphism::prelude::{SlackCommandEvent, SlackSigningSecret};

use super::dedup::Dedup;
use super::verify::{self, Refusal};
use crate::names::{SlackChannelId, SlackUserId};
use crate::workflow::{self, Context, Event, Outcome, Request, render};
pub use pitcrew_slack_wire::payloads::decode_command;

/// What the Slack handlers share, over HTTP and Socket Mode alike.
pub struct SlackApp {
    pub ctx: Arc<Context>,
    /// The bot's Web API client (live messages, mention replies) and Slack's health.
    pub bot: Arc<super::SlackBot>,
    /// Verifies HTTP requests; Socket Mode has none (its connection is the app's own).
    pub secret: Option<SlackSigningSecret>,
    pub dedup: Dedup,
    pub http: reqwest::Client,
}

/// What a request from Slack is answered with at once, whatever carried it (an HTTP response,
/// or a Socket Mode envelope acknowledgement); the work itself continues in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// Received; nothing to show (Slack shows nothing either).
    Empty,
    /// A message only the requester sees (a usage error, "working on it").
    Ephemeral(String),
    /// A plain-text answer (the Events API's `url_verification` challenge).
    Text(String),
    /// Refused before any work: forged, stale, oversized, another team, malformed.
    Refused(Refusal),
    /// Not recorded, so not run: the database is unavailable. Events are answered 503 so that
    /// Slack retries; commands tell the user, since Slack does not retry them.
    Unavailable(&'static str),
    /// Not recorded, so not run; Slack should deliver it again (HTTP 503; no Socket Mode ack).
    RetryLater,
}

impl Ack {
    /// The outcome label counted in `pitcrew_slack_requests_total`.
    pub fn label(&self, duplicate: bool) -> &'static str {
        match self {
            Ack::Refused(r) => r.label(),
            Ack::Unavailable(_) | Ack::RetryLater => "unavailable",
            _ if duplicate => "duplicate",
            _ => "accepted",
        }
    }

    /// The answer as an HTTP response.
    pub fn into_http(self) -> Response {
        match self {
            Ack::Empty => StatusCode::OK.into_response(),
            Ack::Ephemeral(text) => ephemeral(&text),
            Ack::Text(text) => text.into_response(),
            Ack::Refused(r) => {
                let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
                (status, format!("{r}\n")).into_response()
            }
            Ack::Unavailable(text) => ephemeral(text),
            Ack::RetryLater => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

/// The configured allow-list's answer for a request's (or click's) workspace.
pub(crate) fn team_allowed(app: &SlackApp, team: &str) -> Result<(), Refusal> {
    let slack = &app.ctx.config.slack;
    verify::team_allowed(&slack.allowed_teams, slack.any_team, team)
}

/// Logs a refusal: what claimed to come from Slack and why it was turned away.
pub(crate) fn refused(r: Refusal) -> Ack {
    tracing::warn!(refusal = r.label(), reason = %r, "refused a request claiming to come from Slack");
    Ack::Refused(r)
}

/// Counts and times an answer, then returns it as HTTP.
pub(crate) fn answer(
    app: &SlackApp,
    endpoint: &'static str,
    received: std::time::Instant,
    (ack, duplicate): (Ack, bool),
) -> Response {
    app.ctx
        .metrics
        .slack_request(endpoint, ack.label(duplicate), received.elapsed());
    ack.into_http()
}

/// Slack's mrkdwn: `&`, `<` and `>` are the only characters to escape; escaped, nothing a
/// user typed can become a mention (`<!channel>`), a link or a user reference.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn ephemeral(text: &str) -> Response {
    axum::Json(json!({"response_type": "ephemeral", "text": text})).into_response()
}

pub async fn commands(
    State(app): State<Arc<SlackApp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    answer(
        &app,
        "commands",
        received,
        verified_command(&app, &headers, &body).await,
    )
}

/// The HTTP part every endpoint shares: size and signature over the raw body (no secret
/// configured means nothing verifies), giving the body as text or the refusal.
pub(crate) fn verified_text<'b>(
    app: &SlackApp,
    headers: &HeaderMap,
    body: &'b [u8],
) -> Result<&'b str, Ack> {
    let Some(secret) = &app.secret else {
        return Err(refused(Refusal::BadSignature));
    };
    verify::signed_body(secret, headers, body, app.ctx.config.server.max_body_bytes)
        .map_err(refused)
}

/// The HTTP part: the signature over the raw body, then the form.
async fn verified_command(app: &Arc<SlackApp>, headers: &HeaderMap, body: &[u8]) -> (Ack, bool) {
    let text = match verified_text(app, headers, body) {
        Ok(t) => t,
        Err(ack) => return (ack, false),
    };
    match decode_command(text) {
        Ok((event, name)) => accept_command(app, event, name).await,
        Err(refusal) => (refused(refusal), false),
    }
}

/// A slash command from a verified source (a signed HTTP request, or the app's own Socket
/// Mode connection): team allow-list, de-duplication by `trigger_id`, parse, then the work
/// in the background. Returns the acknowledgement and whether it was a duplicate.
pub async fn accept_command(
    app: &Arc<SlackApp>,
    event: SlackCommandEvent,
    actor_name: Option<String>,
) -> (Ack, bool) {
    if let Err(r) = team_allowed(app, &event.team_id.0) {
        return (refused(r), false);
    }
    let trigger = match pitcrew_slack_wire::payloads::request_id("trigger_id", &event.trigger_id.0)
    {
        Ok(id) => id,
        Err(r) => return (refused(r), false),
    };
    match app.dedup.first_time(&format!("trigger:{trigger}")).await {
        Ok(true) => {}
        // Seen before: acknowledged again, never run again.
        Ok(false) => {
            tracing::info!(trigger = %event.trigger_id.0, "duplicate slash command ignored");
            return (Ack::Empty, true);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record the request id");
            return (
                Ack::Unavailable(
                    "pitcrew cannot reach its database right now, so nothing was done; try again in a minute",
                ),
                false,
            );
        }
    }
    let typed = event.text.clone().unwrap_or_default();
    // Parsed here, once: a typo is answered in the acknowledgement itself, and the workflow
    // gets the typed command.
    let command = match crate::command::parse(&typed) {
        Ok(c) => c,
        Err(e) => return (Ack::Ephemeral(escape(&e.to_string())), false),
    };
    let (canonical, changes) = (command.to_string(), command.changes_workloads());
    let Ok(actor) = SlackUserId::parse(&event.user_id.0) else {
        return (
            Ack::Ephemeral(
                "pitcrew cannot tell who you are (unexpected user id); nothing was done".into(),
            ),
            false,
        );
    };
    let Some(reply_to) = reply_url(app, event.response_url.0.as_ref()) else {
        return (
            refused(Refusal::Malformed("response_url is not Slack's".into())),
            false,
        );
    };
    let request = Request {
        actor,
        channel: SlackChannelId::parse(&event.channel_id.0).ok(),
        command,
        // Confirmation comes from the Confirm button (a stored request), never from the text.
        confirmed: false,
        approval: None,
        actor_name,
        team: Some(event.team_id.0.clone()),
        message: None,
    };
    if changes && app.bot.web.is_some() && request.channel.is_some() {
        app.ctx
            .spawn_work(run_live(app.clone(), request, typed, reply_to));
    } else {
        app.ctx
            .spawn_work(run_and_reply(app.clone(), request, typed, reply_to));
    }
    (
        Ack::Ephemeral(format!("» `{}` — working on it", escape(&canonical))),
        false,
    )
}

/// Where a reply may go (see `payloads::reply_target`): Slack's hooks, by whole origin, or the
/// configured Web API base URL's origin when that is not Slack's own (a local stand-in).
pub(crate) fn reply_url(app: &SlackApp, url: &str) -> Option<reqwest::Url> {
    let api = &app.ctx.config.slack.api_base_url;
    let stand_in = (api.host_str() != Some("slack.com")).then_some(api);
    pitcrew_slack_wire::payloads::reply_target(url, stand_in)
}

/// Runs a command and answers at its `response_url` (`typed`: what the person typed, echoed).
async fn run_and_reply(
    app: Arc<SlackApp>,
    request: Request,
    typed: String,
    reply_to: reqwest::Url,
) {
    let (text, visible, buttons) = run_for_chat(&app, &request, &typed).await;
    let mut body = json!({"response_type": visible, "text": text});
    if let Some(buttons) = buttons {
        body["blocks"] = blocks(&text, buttons);
    }
    match app.http.post(reply_to).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "Slack refused the reply to a command"),
        Err(e) => tracing::warn!(error = %e, "cannot send the reply to a command"),
    }
}

/// A change gets one channel message, updated in place as it goes (checks, the change, rollout
/// progress, the outcome), at most once per `[rollout].update_interval`, waiting out 429s. If
/// the bot cannot post in the channel, the `response_url` is the fallback.
async fn run_live(app: Arc<SlackApp>, mut request: Request, typed: String, reply_to: reqwest::Url) {
    let (Some(slack), Some(channel)) = (app.bot.web.clone(), request.channel.clone()) else {
        return run_and_reply(app, request, typed, reply_to).await;
    };
    let channel = channel.to_string();
    let header = format!("`{}` by <@{}>", escape(&typed), request.actor);
    let ts = match slack
        .post_message(&channel, &format!("{header}\n… checking"), None)
        .await
    {
        Ok(ts) => ts,
        Err(e) => {
            tracing::warn!(error = %e, "cannot post in the channel (is the bot in it?); answering through the response_url");
            return run_and_reply(app, request, typed, reply_to).await;
        }
    };
    // A request for confirmation or approval remembers this message, so that its expiry is
    // said here, in place of its buttons.
    request.message = Some(crate::outbox::MessageRef {
        channel: channel.clone(),
        ts: ts.clone(),
    });
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let progress = Arc::new(Mutex::new(String::new()));
    let report = {
        let (lines, progress) = (lines.clone(), progress.clone());
        move |event: Event| match event {
            // Shown in place: the latest state replaces the one before.
            Event::Progress { .. } => {
                *progress.lock().unwrap_or_else(|p| p.into_inner()) = render::event_line(&event);
            }
            other => {
                if let Some(line) = listed(&other) {
                    lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            }
        }
    };
    let snapshot = {
        let (lines, progress, header) = (lines.clone(), progress.clone(), header.clone());
        move || {
            let mut text = lines.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
            let p = progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if !p.is_empty() {
                text.push('\n');
                text.push_str(&p);
            }
            format!("{header}\n{}", escape(text.trim()))
        }
    };
    // The updater: the latest state, never more than once per interval.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let updater = {
        let (slack, channel, ts, snapshot) =
            (slack.clone(), channel.clone(), ts.clone(), snapshot.clone());
        let every = app
            .ctx
            .config
            .rollout
            .update_interval
            .max(std::time::Duration::from_millis(200));
        tokio::spawn(async move {
            let mut sent = String::new();
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let now = snapshot();
                if now == sent {
                    continue;
                }
                match slack.update(&channel, &ts, &now, None).await {
                    Ok(()) => sent = now,
                    Err(super::web::PostError::RateLimited { retry_after }) => {
                        tokio::time::sleep(retry_after.unwrap_or(every)).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot update the live message"),
                }
            }
        })
    };
    let outcome = workflow::run(&app.ctx, &request, &report).await;
    let _ = stop_tx.send(true);
    let _ = updater.await;
    let lines_now = Mutex::new(lines.lock().unwrap_or_else(|p| p.into_inner()).clone());
    let (text, _, buttons) = render(&app, &lines_now, &outcome, &typed, true).await;
    let final_text = format!(
        "{header}\n{}",
        text.split_once('\n').map_or("", |(_, rest)| rest)
    );
    let blocks = buttons.map(|b| blocks(&final_text, b));
    if final_update(&slack, &channel, &ts, &final_text, blocks.as_ref()).await {
        return;
    }
    let mut body = json!({"response_type": "in_channel", "text": final_text});
    if let Some(b) = blocks {
        body["blocks"] = b;
    }
    let _ = app.http.post(reply_to).json(&body).send().await;
}

/// How long the outcome of a change keeps being sent to its live message through 429s and
/// Slack's own failures (5xx, timeouts) before falling back to the `response_url`.
const FINAL_UPDATE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Puts the outcome into the live message. `chat.update` replaces the message, so sending it
/// again can never show the outcome twice: rate limits are waited out (Slack's `Retry-After`)
/// and 5xx answers and network failures retried with backoff, until the deadline. A refusal
/// (the message or channel is gone, the token was revoked) will not change by retrying.
/// `false` when the outcome could not be put there.
async fn final_update(
    slack: &super::web::SlackWeb,
    channel: &str,
    ts: &str,
    text: &str,
    blocks: Option<&serde_json::Value>,
) -> bool {
    use super::web::PostError;
    use std::time::Duration;
    let deadline = tokio::time::Instant::now() + FINAL_UPDATE_DEADLINE;
    let mut backoff = Duration::from_millis(500);
    loop {
        let wait = match slack.update(channel, ts, text, blocks).await {
            Ok(()) => return true,
            Err(PostError::RateLimited { retry_after }) => retry_after.unwrap_or(backoff),
            Err(PostError::Network(why)) => {
                tracing::warn!(error = %why, "cannot put the outcome into the live message; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(8));
                backoff / 2
            }
            Err(e @ PostError::Refused(_)) => {
                tracing::warn!(error = %e, "Slack refused the outcome's update of the live message");
                return false;
            }
        };
        if tokio::time::Instant::now() + wait > deadline {
            tracing::warn!(
                "Slack did not take the outcome's update of the live message in time; answering through the response_url"
            );
            return false;
        }
        tokio::time::sleep(wait).await;
    }
}

/// Runs a request through the workflow and renders what happened as Slack text (escaped),
/// with whether the channel should see it (`in_channel`) or only the requester (`ephemeral`).
/// `heading` (what was typed) heads the text.
pub async fn run_for_chat(
    app: &SlackApp,
    request: &Request,
    heading: &str,
) -> (String, &'static str, Option<serde_json::Value>) {
    let lines = Mutex::new(Vec::new());
    let report = |event: Event| {
        if let Some(line) = listed(&event) {
            lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    };
    let outcome = workflow::run(&app.ctx, request, &report).await;
    let changes = request.command.changes_workloads();
    render(app, &lines, &outcome, heading, changes).await
}

/// The line a Slack message lists for an event; `None` for the echo of the command (its
/// heading shows it) and rollout progress (a live message shows it in place).
pub(crate) fn listed(event: &Event) -> Option<String> {
    match event {
        Event::Understood { .. } | Event::Progress { .. } => None,
        other => Some(render::event_line(other)),
    }
}

/// An outcome as Slack text, its visibility, and the buttons a pending request (or a failed
/// change's undo) needs. `changed`: the command may have queued write-back or an
/// announcement, delivered now rather than at the next round of the outbox loop.
pub async fn render(
    app: &SlackApp,
    lines: &Mutex<Vec<String>>,
    outcome: &Outcome,
    heading: &str,
    changed: bool,
) -> (String, &'static str, Option<serde_json::Value>) {
    let mut text = lines.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
    text.push('\n');
    text.push_str(&render::outcome_line(outcome));
    let visible = if render::for_the_channel(outcome) {
        "in_channel"
    } else {
        "ephemeral"
    };
    if changed {
        let _ = app.ctx.deliver_outbox().await;
    }
    let buttons = match outcome {
        Outcome::NeedsConfirmation {
            pending: Some(p), ..
        } => Some(actions(p)),
        _ => outcome.undo().map(undo_button),
    };
    (
        format!("`{}`\n{}", escape(heading), escape(text.trim())),
        visible,
        buttons,
    )
}

/// The button that undoes a change: Roll back (a failed rollout), or Scale back to N (a
/// scale). Its value is the command, run as whoever clicks, through every check.
fn undo_button(undo: &crate::command::Command) -> serde_json::Value {
    let (action, block, label) = match undo {
        crate::command::Command::Scale(s) => (
            "pitcrew_scale",
            "scale-back",
            format!("Scale back to {}", s.replicas),
        ),
        _ => ("pitcrew_rollback", "rollback", "Roll back".to_string()),
    };
    json!({
        "type": "actions",
        "block_id": block,
        "elements": [
            {"type": "button", "action_id": action, "style": "danger",
             "value": undo.to_string(), "text": {"type": "plain_text", "text": label}},
        ]
    })
}

/// Confirm/Approve and Cancel buttons for a pending request; the value is its id.
fn actions(p: &workflow::Pending) -> serde_json::Value {
    let (action, label) = match p.kind {
        "confirm" => ("pitcrew_confirm", "Confirm"),
        _ => ("pitcrew_approve", "Approve"),
    };
    json!({
        "type": "actions",
        "block_id": format!("pending-{}", p.id),
        "elements": [
            {"type": "button", "action_id": action, "style": "primary", "value": p.id,
             "text": {"type": "plain_text", "text": label}},
            {"type": "button", "action_id": "pitcrew_cancel", "style": "danger", "value": p.id,
             "text": {"type": "plain_text", "text": "Cancel"}},
        ]
    })
}

/// A message with its text as a section and the buttons under it.
pub fn blocks(text: &str, buttons: serde_json::Value) -> serde_json::Value {
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        buttons,
    ])
}
