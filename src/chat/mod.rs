//! Slack. The only module that knows Slack's types (slack-morphism).
//!
//! - `verify.rs`: size, signature (v0), timestamp and team checks before any work;
//! - `dedup.rs`: request ids recorded in the database, so nothing runs twice;
//! - `commands.rs`: `POST /slack/commands`, acknowledged at once, run in the background;
//! - `events.rs`: `POST /slack/events`: `url_verification` and `app_mention` commands;
//! - `interactions.rs`: `POST /slack/interactions`: Confirm, Approve and Cancel buttons;
//! - `socket.rs`: Socket Mode, the same handling over WebSockets pitcrew opens itself;
//! - `web.rs`: the Web API client (live messages, announcements, mention replies);
//! - `directory.rs`: `users.info` as the workflow's directory of e-mails (impersonation);
//! - `notices.rs`: the outbox's Slack side: announcements worded (and escaped) for a channel;
//! - `health.rs`: what this replica last saw of Slack, for `/readyz`;
//! - `client.rs`: `pitcrew chat`, a terminal that plays Slack;
//! - `manifest.rs`: the Slack app manifest.

pub mod client;
pub mod commands;
pub mod dedup;
pub mod directory;
pub mod events;
pub mod health;
pub mod interactions;
pub mod manifest;
pub mod notices;
pub mod socket;
pub mod web;

// Size, signature, timestamp and team checks, from the Slack wire crate (crates/slack-wire).
pub use pitcrew_slack_wire::verify;

use std::sync::Arc;

/// This process's way to Slack's Web API: the bot's client (when `SLACK_BOT_TOKEN` is set) and
/// what it last saw of Slack (`/readyz`).
pub struct SlackBot {
    pub web: Option<web::SlackWeb>,
    pub health: Arc<health::SlackHealth>,
}

impl SlackBot {
    /// The client the configuration and its secrets allow, timed in `/metrics`.
    pub fn from_config(
        config: &crate::config::Config,
        outside: &crate::metrics::Outside,
    ) -> crate::Result<SlackBot> {
        let health = Arc::new(health::SlackHealth::default());
        let web = match &config.secrets.slack_bot_token {
            Some(token) => Some(
                web::SlackWeb::new(&config.slack.api_base_url, token, health.clone())
                    .map_err(|e| {
                        crate::Error::Usage(format!("cannot set up the Slack client: {e}"))
                    })?
                    .observed(outside.clone()),
            ),
            None => None,
        };
        Ok(SlackBot { web, health })
    }

    /// Adds this client to the context: the outbox's Slack side (announcements) and the
    /// directory of e-mails (`[identity].from_slack_email`).
    pub fn attach(&self, ctx: &crate::workflow::Context) {
        if let Some(web) = &self.web {
            ctx.add_deliverer(Arc::new(web.clone()));
            ctx.set_directory(Arc::new(web.clone()));
        }
    }
}
