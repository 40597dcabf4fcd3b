//! Socket Mode: instead of HTTP requests to a public address, Slack delivers commands, clicks
//! and events over WebSockets that pitcrew opens itself (`apps.connections.open` with the
//! app-level token `SLACK_APP_TOKEN`, then the `wss://` URL it returns). Useful when pitcrew
//! runs where Slack cannot reach it.
//!
//! slack-morphism keeps the connections (two, so that one can be replaced while the other
//! works), answers Slack's `hello` and `disconnect` envelopes, pings, and reconnects after a
//! drop. Each envelope is acknowledged with `{"envelope_id"}` (plus, for a slash command, the
//! same reply the HTTP endpoint gives), after the same checks: team allow-list and
//! de-duplication by the payload's own ids. Envelopes carry no signature: the connection is
//! the app's own, opened with its token over TLS. An envelope pitcrew could not record (the
//! database is down) is not acknowledged, so that Slack delivers it again.

use std::sync::Arc;
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::{SlackClientError, SlackClientSocketModeProtocolError};
use slack_morphism::listener::SlackClientEventsListenerEnvironment;
use slack_morphism::prelude::*;
use slack_morphism::socket_mode::SlackSocketModeListenerCallbacks;

use super::commands::{Ack, SlackApp, accept_command};
use super::events::accept_callback;
use super::interactions::{accept_click, payload_from_json};

/// How long to wait before trying again after a connection attempt failed (Slack
/// unreachable, `apps.connections.open` refused). slack-morphism's default is 30 s, long in
/// the middle of an incident.
const RECONNECT_AFTER_SECS: u64 = 5;

/// The callback's way of telling slack-morphism "do not acknowledge; let Slack redeliver".
#[derive(Debug, thiserror::Error)]
#[error("not recorded (the database is unavailable); Slack will deliver the envelope again")]
struct RetryLater;

/// Decides whether a failed envelope is acknowledged: only [`RetryLater`] is not.
fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    if error.downcast_ref::<RetryLater>().is_some() {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        tracing::warn!(error = %error, "a Socket Mode envelope could not be handled");
        axum::http::StatusCode::OK
    }
}

/// Connects and serves until `stop` resolves. Fails only when the listener cannot be set up
/// at all; an unreachable Slack is retried (and shows in `/readyz`).
pub async fn serve(
    app: Arc<SlackApp>,
    app_token: &SecretString,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), SlackClientError> {
    let client = Arc::new(SlackClient::new(
        super::web::connector(&app.ctx.config.slack.api_base_url).map_err(|e| {
            SlackClientError::SocketModeProtocolError(SlackClientSocketModeProtocolError::new(
                format!("cannot set up HTTPS: {e}"),
            ))
        })?,
    ));
    // The builder methods take plain `fn`s; the fields take any closure, which lets each
    // callback hold the shared app instead of going through slack-morphism's typemap state.
    let callbacks: SlackSocketModeListenerCallbacks<SlackClientHyperHttpsConnector> =
        SlackSocketModeListenerCallbacks {
            hello_callback: Box::new({
                let app = app.clone();
                // The hello event's type is not exported by slack-morphism; its content is not needed.
                move |_hello, _, _| {
                    let app = app.clone();
                    async move {
                        tracing::info!("Socket Mode connection open (hello)");
                        app.bot.health.socket_hello();
                    }
                }
            }),
            command_callback: Box::new({
                let app = app.clone();
                move |event: SlackCommandEvent, _, _| {
                    let app = app.clone();
                    async move {
                        let received = Instant::now();
                        let (ack, duplicate) = accept_command(&app, event, None).await;
                        count(&app, &ack, duplicate, received);
                        let text = match ack {
                            Ack::Ephemeral(t) => t,
                            Ack::Unavailable(t) => t.to_string(),
                            Ack::Refused(r) => format!("pitcrew refused this request: {r}"),
                            Ack::Empty | Ack::Text(_) | Ack::RetryLater => String::new(),
                        };
                        let mut reply = SlackCommandEventResponse::new(
                            SlackMessageContent::new().with_text(text),
                        );
                        reply.response_type = Some(SlackMessageResponseType::Ephemeral);
                        Ok(reply)
                    }
                }
            }),
            interaction_callback: Box::new({
                let app = app.clone();
                move |event: SlackInteractionEvent, _, _| {
                    let app = app.clone();
                    async move {
                        let received = Instant::now();
                        let ack = match serde_json::to_value(&event)
                            .map_err(|e| super::verify::Refusal::Malformed(e.to_string()))
                            .and_then(payload_from_json)
                        {
                            Ok(payload) => accept_click(&app, payload),
                            Err(r) => super::commands::refused(r),
                        };
                        count(&app, &ack, false, received);
                        Ok(SlackInteractionResponse::Empty)
                    }
                }
            }),
            push_events_callback: Box::new({
                let app = app.clone();
                move |event: SlackPushEventCallback, _, _| {
                    let app = app.clone();
                    async move {
                        let received = Instant::now();
                        let (ack, duplicate) = accept_callback(&app, event, None).await;
                        count(&app, &ack, duplicate, received);
                        match ack {
                            Ack::RetryLater => {
                                Err(Box::new(RetryLater)
                                    as Box<dyn std::error::Error + Send + Sync>)
                            }
                            _ => Ok(()),
                        }
                    }
                }
            }),
        };
    let environment =
        Arc::new(SlackClientEventsListenerEnvironment::new(client).with_error_handler(on_error));
    let config = SlackClientSocketModeConfig::new()
        .with_reconnect_timeout_in_seconds(RECONNECT_AFTER_SECS)
        .with_initial_backoff_in_seconds(1);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue::new(
        app_token.expose_secret().to_string(),
    ));
    listener.listen_for(&token).await?;
    listener.start().await;
    tracing::info!("Socket Mode: connecting to Slack");
    stop.await;
    listener.shutdown().await;
    Ok(())
}

fn count(app: &SlackApp, ack: &Ack, duplicate: bool, received: Instant) {
    app.ctx
        .metrics
        .slack_request("socket", ack.label(duplicate), received.elapsed());
}
