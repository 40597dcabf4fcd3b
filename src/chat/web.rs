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
    RateLimited,
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
            Err(SlackClientError::RateLimitError(_)) => Err(PostError::RateLimited),
            Err(SlackClientError::ApiError(e)) => Err(PostError::Refused(e.code)),
            Err(e) => Err(PostError::Network(e.to_string())),
        }
    }
}
