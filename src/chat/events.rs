//! `POST /slack/events`: the Events API. `url_verification` is answered with its challenge;
//! an `app_mention` (`@pitcrew status checkout -e prod`) runs like a slash command, replying
//! in the message's thread. Retries (`X-Slack-Retry-Num`) carry the same `event_id` and are
//! acknowledged without running again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use slack_morphism::prelude::{SlackEventCallbackBody, SlackPushEvent, SlackPushEventCallback};

use super::commands::{Ack, SlackApp, answer, refused, run_for_chat};
use crate::names::{SlackChannelId, SlackUserId};
use crate::workflow::Request;
pub use pitcrew_slack_wire::payloads::decode_event;

pub async fn events(State(app): State<Arc<SlackApp>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = std::time::Instant::now();
    answer(
        &app,
        "events",
        received,
        verified_event(&app, &headers, &body).await,
    )
}

async fn verified_event(app: &Arc<SlackApp>, headers: &HeaderMap, body: &[u8]) -> (Ack, bool) {
    let text = match super::commands::verified_text(app, headers, body) {
        Ok(t) => t,
        Err(ack) => return (ack, false),
    };
    let push = match decode_event(text) {
        Ok(p) => p,
        Err(refusal) => return (refused(refusal), false),
    };
    match push {
        SlackPushEvent::UrlVerification(v) => (Ack::Text(v.challenge), false),
        SlackPushEvent::AppRateLimited(_) => {
            tracing::warn!("Slack reports pitcrew's app is rate-limited for events");
            (Ack::Empty, false)
        }
        SlackPushEvent::EventCallback(c) => {
            let retry = headers
                .get("x-slack-retry-num")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            accept_callback(app, c, retry.as_deref()).await
        }
    }
}

/// An event from a verified source (a signed HTTP request or the Socket Mode connection):
/// team allow-list, de-duplication by `event_id`, then mentions run in the background.
pub async fn accept_callback(
    app: &Arc<SlackApp>,
    callback: SlackPushEventCallback,
    retry: Option<&str>,
) -> (Ack, bool) {
    if let Err(r) = super::commands::team_allowed(app, &callback.team_id.0) {
        return (refused(r), false);
    }
    if let Err(r) = pitcrew_slack_wire::payloads::request_id("event_id", &callback.event_id.0) {
        return (refused(r), false);
    }
    let SlackEventCallbackBody::AppMention(mention) = callback.event else {
        return (Ack::Empty, false);
    };
    match app
        .dedup
        .first_time(&format!("event:{}", callback.event_id.0))
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(event = %callback.event_id.0, retry = retry.unwrap_or("none"), "duplicate event ignored");
            return (Ack::Empty, true);
        }
        // Slack retries an event it could not deliver: the database may be back by then.
        Err(e) => {
            tracing::error!(error = %e, "cannot record the event id");
            return (Ack::RetryLater, false);
        }
    }
    let (Ok(actor), Some(slack)) = (SlackUserId::parse(&mention.user.0), app.bot.web.clone())
    else {
        tracing::warn!("an app_mention cannot be answered (no SLACK_BOT_TOKEN, or an odd user id)");
        return (Ack::Empty, false);
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
    let app = app.clone();
    let parsed = crate::command::parse(&command);
    let team = callback.team_id.0.clone();
    app.ctx.clone().spawn_work(async move {
        // Parsed here, once; a typo is answered in the thread.
        let text = match parsed {
            Ok(parsed) => {
                let request = Request {
                    channel: SlackChannelId::parse(&channel).ok(),
                    team: Some(team),
                    ..Request::new(actor, parsed)
                };
                run_for_chat(&app, &request, &command).await.0
            }
            Err(e) => format!(
                "`{}`\n{}",
                super::commands::escape(&command),
                super::commands::escape(&crate::workflow::render::outcome_line(
                    &crate::workflow::Outcome::BadInput {
                        message: e.to_string()
                    }
                ))
            ),
        };
        if let Err(e) = slack.post_in_thread(&channel, Some(&thread), &text).await {
            tracing::warn!(error = %e, "cannot reply to a mention");
        }
    });
    (Ack::Empty, false)
}
