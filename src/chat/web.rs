//! Slack's Web API through slack-morphism, at a configurable base URL (`[slack].api_base_url`),
//! so that tests and the demo can point it at a local stand-in.

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

/// Posts messages as the bot.
#[derive(Clone)]
pub struct SlackWeb {
    client: std::sync::Arc<SlackHyperClient>,
    token: SlackApiToken,
    health: std::sync::Arc<super::health::SlackHealth>,
    /// Where every call is timed (`/metrics`, service `slack`).
    outside: Option<crate::metrics::Outside>,
}

/// slack-morphism's HTTP connector at `api_base_url` (https, or http for a local stand-in).
pub(crate) fn connector(
    api_base_url: &reqwest::Url,
) -> std::io::Result<SlackClientHyperHttpsConnector> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .build();
    let base = api_base_url.as_str().trim_end_matches('/');
    Ok(SlackClientHyperConnector::with_connector(https).with_slack_api_url(base))
}

/// Why a post failed, for the outbox's retry log (never containing the token).
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("Slack refused: {0}")]
    Refused(String),
    #[error("Slack rate-limited the post")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("cannot reach Slack: {0}")]
    Network(String),
}

impl SlackWeb {
    /// `api_base_url` like `https://slack.com/api/`. Plain `http` is accepted too (a local
    /// stand-in); configuration checks keep production on https.
    /// Every call's result is recorded in `health` (shown in `/readyz`).
    pub fn new(
        api_base_url: &reqwest::Url,
        bot_token: &SecretString,
        health: std::sync::Arc<super::health::SlackHealth>,
    ) -> std::io::Result<SlackWeb> {
        Ok(SlackWeb {
            client: std::sync::Arc::new(SlackClient::new(connector(api_base_url)?)),
            token: SlackApiToken::new(SlackApiTokenValue::new(
                bot_token.expose_secret().to_string(),
            )),
            health,
            outside: None,
        })
    }

    /// Times every call in `/metrics` (service `slack`).
    pub fn observed(mut self, outside: crate::metrics::Outside) -> SlackWeb {
        self.outside = Some(outside);
        self
    }

    /// Records what a call showed of Slack's reachability, and how long it took, and returns
    /// its result.
    fn seen<T>(
        &self,
        started: std::time::Instant,
        result: Result<T, SlackClientError>,
    ) -> Result<T, PostError> {
        if let Some(outside) = &self.outside {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(SlackClientError::RateLimitError(_)) => "rate_limited",
                Err(SlackClientError::ApiError(_)) => "refused",
                Err(SlackClientError::HttpError(e)) if e.status_code.is_server_error() => {
                    "server_error"
                }
                Err(SlackClientError::HttpError(_)) => "unexpected_status",
                Err(_) => "network",
            };
            outside.observe("slack", outcome, started.elapsed());
        }
        match result {
            Ok(v) => {
                self.health.reached();
                Ok(v)
            }
            Err(e) => {
                let e = post_error(e);
                match &e {
                    PostError::Network(why) => self.health.unreachable(why),
                    // Slack answered: it is reachable, whatever it said.
                    PostError::Refused(_) | PostError::RateLimited { .. } => self.health.reached(),
                }
                Err(e)
            }
        }
    }

    /// `auth.test`: is Slack reachable and the bot token good? Recorded like every call.
    pub async fn auth_test(&self) -> Result<(), PostError> {
        let started = std::time::Instant::now();
        let session = self.client.open_session(&self.token);
        let result = session.auth_test().await.map(|_| ());
        self.seen(started, result)
    }

    /// `users.info`: the user as Slack shows them (profile, deactivation). Recorded like
    /// every call.
    pub async fn users_info(
        &self,
        request: &SlackApiUsersInfoRequest,
    ) -> Result<SlackApiUsersInfoResponse, PostError> {
        let started = std::time::Instant::now();
        let session = self.client.open_session(&self.token);
        let result = session.users_info(request).await;
        self.seen(started, result)
    }

    /// `usergroups.users.list`: the members of a user group. Recorded like every call.
    pub async fn usergroup_members(
        &self,
        request: &SlackApiUserGroupsUsersListRequest,
    ) -> Result<SlackApiUserGroupsUsersListResponse, PostError> {
        let started = std::time::Instant::now();
        let session = self.client.open_session(&self.token);
        let result = session.usergroups_users_list(request).await;
        self.seen(started, result)
    }

    /// Posts plain text (mrkdwn) to a channel.
    pub async fn post(&self, channel: &str, text: &str) -> Result<(), PostError> {
        self.post_in_thread(channel, None, text).await
    }

    /// Posts plain text (mrkdwn) to a channel, in the thread of `thread_ts` if given.
    pub async fn post_in_thread(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<(), PostError> {
        let started = std::time::Instant::now();
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        );
        request.thread_ts = thread_ts.map(|t| SlackTs::new(t.to_string()));
        let result = session.chat_post_message(&request).await.map(|_| ());
        self.seen(started, result)
    }

    /// Posts a message (text, optional Block Kit blocks) and returns its `ts`, to update it.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<String, PostError> {
        let started = std::time::Instant::now();
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            content(text, blocks),
        );
        let result = session.chat_post_message(&request).await.map(|r| r.ts.0);
        self.seen(started, result)
    }

    /// Replaces the text (and blocks) of a message posted earlier.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<(), PostError> {
        let started = std::time::Instant::now();
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(channel.to_string()),
            content(text, blocks),
            SlackTs::new(ts.to_string()),
        );
        let result = session.chat_update(&request).await.map(|_| ());
        self.seen(started, result)
    }
}

fn content(text: &str, blocks: Option<&serde_json::Value>) -> SlackMessageContent {
    let mut c = SlackMessageContent::new().with_text(text.to_string());
    if let Some(blocks) =
        blocks.and_then(|b| serde_json::from_value::<Vec<SlackBlock>>(b.clone()).ok())
    {
        c = c.with_blocks(blocks);
    }
    c
}

fn post_error(e: SlackClientError) -> PostError {
    match e {
        SlackClientError::RateLimitError(e) => PostError::RateLimited {
            retry_after: e.retry_after,
        },
        SlackClientError::ApiError(e) => PostError::Refused(e.code),
        e => PostError::Network(e.to_string()),
    }
}
