//! `POST /slack/events`: the Events API. `url_verification` is answered with its challenge;
//! an `app_mention` (`@pitcrew status checkout -e prod`) runs like a slash command, replying
//! in the message's thread. Retries (`X-Slack-Retry-Num`) carry the same `event_id` and are
//! acknowledged without running again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use slack_morphism::prelude::{SlackEventCallbackBody, SlackPushEvent};

use super::commands::{SlackApp, refuse, run_for_chat};
use super::verify::{self, Refusal};
use crate::names::{SlackChannelId, SlackUserId};
use crate::workflow::Request;

pub async fn events(State(app): State<Arc<SlackApp>>, headers: HeaderMap, body: Bytes) -> Response {
    let limit = app.ctx.config.server.max_body_bytes;
    let text = match verify::signed_body(&app.secret, &headers, &body, limit) {
        Ok(t) => t,
        Err(r) => return refuse(r),
    };
    let push: SlackPushEvent = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => return refuse(Refusal::Malformed(e.to_string())),
    };
    let callback = match push {
        SlackPushEvent::UrlVerification(v) => return v.challenge.into_response(),
        SlackPushEvent::AppRateLimited(_) => {
            tracing::warn!("Slack reports pitcrew's app is rate-limited for events");
            return StatusCode::OK.into_response();
        }
        SlackPushEvent::EventCallback(c) => c,
    };
    if let Err(r) = verify::team_allowed(&app.ctx.config.slack.allowed_teams, &callback.team_id.0) {
        return refuse(r);
    }
    let SlackEventCallbackBody::AppMention(mention) = callback.event else {
        return StatusCode::OK.into_response();
    };
    match app
        .dedup
        .first_time(&format!("event:{}", callback.event_id.0))
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let retry = headers
                .get("x-slack-retry-num")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            tracing::info!(event = %callback.event_id.0, retry, "duplicate event ignored");
            return StatusCode::OK.into_response();
        }
        // Slack retries on a non-2xx answer: the database may be back by then.
        Err(e) => {
            tracing::error!(error = %e, "cannot record the event id");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let (Ok(actor), Some(slack)) = (SlackUserId::parse(&mention.user.0), app.ctx.slack.clone())
    else {
        tracing::warn!("an app_mention cannot be answered (no SLACK_BOT_TOKEN, or an odd user id)");
        return StatusCode::OK.into_response();
    };
    // "<@UBOT> restart checkout": the command is what follows the first mention.
    let typed = mention.content.text.clone().unwrap_or_default();
    let command = match typed.trim_start().strip_prefix("<@") {
        Some(rest) => rest
            .split_once('>')
            .map_or("", |(_, c)| c)
            .trim()
            .to_string(),
        None => typed.trim().to_string(),
    };
    let channel = mention.channel.0.clone();
    let thread = mention.origin.ts.0.clone();
    let request = Request {
        actor,
        channel: SlackChannelId::parse(&channel).ok(),
        text: command,
        confirmed: false,
        approval: None,
        actor_name: None,
        team: Some(callback.team_id.0.clone()),
    };
    tokio::spawn(async move {
        let (text, _, _) = run_for_chat(&app, &request).await;
        if let Err(e) = slack.post_in_thread(&channel, Some(&thread), &text).await {
            tracing::warn!(error = %e, "cannot reply to a mention");
        }
    });
    StatusCode::OK.into_response()
}
