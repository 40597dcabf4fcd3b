//! `POST /slack/interactions`: button clicks (`block_actions`). Verified like every request,
//! acknowledged at once, then: Confirm (the requester only), Approve (others holding
//! `approve`), Cancel. Double clicks and retries are harmless: a pending request is used at
//! most once (a conditional UPDATE), so the second click is told it was already used.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::commands::{Ack, SlackApp, answer, blocks, escape, listed, refused, render};
use super::verify::Refusal;
use crate::names::SlackUserId;
use crate::workflow::{self, Event};
pub use pitcrew_slack_wire::payloads::{Payload, decode_click, payload_from_json};

pub async fn interactions(
    State(app): State<Arc<SlackApp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    answer(
        &app,
        "interactions",
        received,
        verified_click(&app, &headers, &body),
    )
}

fn verified_click(app: &Arc<SlackApp>, headers: &HeaderMap, body: &[u8]) -> (Ack, bool) {
    let text = match super::commands::verified_text(app, headers, body) {
        Ok(t) => t,
        Err(ack) => return (ack, false),
    };
    match decode_click(text) {
        Ok(p) => (accept_click(app, p), false),
        Err(refusal) => (refused(refusal), false),
    }
}

/// A click from a verified source: team allow-list, then the button's work in the background.
/// Double clicks need no id table: a pending request is used at most once.
pub fn accept_click(app: &Arc<SlackApp>, payload: Payload) -> Ack {
    let team = payload.team.as_ref().map_or("", |t| t.id.as_str());
    if let Err(r) = super::commands::team_allowed(app, team) {
        return refused(r);
    }
    if payload.kind != "block_actions" {
        return Ack::Empty;
    }
    let (Some(action), Ok(user)) = (
        payload.actions.first(),
        SlackUserId::parse(&payload.user.id),
    ) else {
        return refused(Refusal::Malformed("no action or no user".into()));
    };
    let Some(reply_to) = payload
        .response_url
        .as_deref()
        .and_then(|u| super::commands::reply_url(app, u))
    else {
        return refused(Refusal::Malformed("response_url is not Slack's".into()));
    };
    let id = action.value.clone().unwrap_or_default();
    let channel = payload
        .channel
        .as_ref()
        .and_then(|c| crate::names::SlackChannelId::parse(&c.id).ok());
    let team = team.to_string();
    let which = action.action_id.clone();
    let app = app.clone();
    app.ctx.clone().spawn_work(async move {
        // The same lines a command's reply lists (checks, the change), from the one renderer.
        let lines = Mutex::new(Vec::new());
        let report = |event: Event| {
            if let Some(line) = listed(&event) {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        };
        let outcome = match which.as_str() {
            "pitcrew_confirm" => {
                workflow::confirm(&app.ctx, &id, &user, Some(team.as_str()), &report).await
            }
            "pitcrew_approve" => {
                workflow::approve(&app.ctx, &id, &user, Some(team.as_str()), &report).await
            }
            "pitcrew_cancel" => workflow::cancel(&app.ctx, &id, &user, Some(team.as_str())).await,
            // A new command with every check, as the person who clicked: a rollback (Roll
            // back) or a scale (Scale back), nothing else. The button's value came back from
            // Slack: parsed here, like any typed command.
            "pitcrew_rollback" | "pitcrew_scale" => match crate::command::parse(&id) {
                Ok(
                    command @ (crate::command::Command::Rollback(_)
                    | crate::command::Command::Scale(_)),
                ) if (which == "pitcrew_scale")
                    == matches!(command, crate::command::Command::Scale(_)) =>
                {
                    let request = workflow::Request {
                        channel: channel.clone(),
                        team: Some(team.clone()),
                        ..workflow::Request::new(user.clone(), command)
                    };
                    workflow::run(&app.ctx, &request, &report).await
                }
                _ => workflow::Outcome::BadInput {
                    message: "this button does not hold the command it should; nothing was done"
                        .into(),
                },
            },
            other => workflow::Outcome::BadInput {
                message: format!("unknown button `{other}`"),
            },
        };
        let clicked = format!(
            "<@{}> pressed {}",
            user,
            escape(&which.replace("pitcrew_", ""))
        );
        // Every button is about a change (Cancel included: it may end a waiting one).
        let (text, visible, buttons) = render(&app, &lines, &outcome, &clicked, true).await;
        let mut body = json!({"response_type": visible, "text": text});
        if visible == "ephemeral" {
            // A refusal is for the clicker only; the message with the buttons stays.
            body["replace_original"] = false.into();
        } else {
            body["replace_original"] = true.into();
        }
        if let Some(buttons) = buttons {
            body["blocks"] = blocks(&text, buttons);
        }
        if let Err(e) = app.http.post(reply_to).json(&body).send().await {
            tracing::warn!(error = %e, "cannot answer a button click");
        }
    });
    Ack::Empty
}
