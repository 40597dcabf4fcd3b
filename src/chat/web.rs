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
    pub fn new(api_base_url: &reqwest::Url, bot_token: &SecretString) -> std::io::Result<SlackWeb> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        let base = api_base_url.as_str().trim_end_matches('/');
        let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(base);
        Ok(SlackWeb {
            client: std::sync::Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue::new(
                bot_token.expose_secret().to_string(),
            )),
        })
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
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        );
        request.thread_ts = thread_ts.map(|t| SlackTs::new(t.to_string()));
        match session.chat_post_message(&request).await {
            Ok(_) => Ok(()),
            Err(SlackClientError::RateLimitError(e)) => Err(PostError::RateLimited {
                retry_after: e.retry_after,
            }),
            Err(SlackClientError::ApiError(e)) => Err(PostError::Refused(e.code)),
            Err(e) => Err(PostError::Network(e.to_string())),
        }
    }

    /// Posts a message (text, optional Block Kit blocks) and returns its `ts`, to update it.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<String, PostError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            content(text, blocks),
        );
        match session.chat_post_message(&request).await {
            Ok(r) => Ok(r.ts.0),
            Err(e) => Err(post_error(e)),
        }
    }

    /// Replaces the text (and blocks) of a message posted earlier.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<(), PostError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(channel.to_string()),
            content(text, blocks),
            SlackTs::new(ts.to_string()),
        );
        session
            .chat_update(&request)
            .await
            .map(|_| ())
            .map_err(post_error)
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
