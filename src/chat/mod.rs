//! Slack. The only module that knows Slack's types (slack-morphism).
//!
//! - `verify.rs`: size, signature (v0), timestamp and team checks before any work;
//! - `dedup.rs`: request ids recorded in the database, so nothing runs twice;
//! - `commands.rs`: `POST /slack/commands`, acknowledged at once, run in the background;
//! - `events.rs`: `POST /slack/events`: `url_verification` and `app_mention` commands;
//! - `interactions.rs`: `POST /slack/interactions`: Confirm, Approve and Cancel buttons;
//! - `socket.rs`: Socket Mode, the same handling over WebSockets pitcrew opens itself;
//! - `web.rs`: the Web API client (live messages, announcements, mention replies);
//! - `health.rs`: what this replica last saw of Slack, for `/readyz`;
//! - `client.rs`: `pitcrew chat`, a terminal that plays Slack;
//! - `manifest.rs`: the Slack app manifest.

pub mod client;
pub mod commands;
pub mod dedup;
pub mod events;
pub mod health;
pub mod interactions;
pub mod manifest;
pub mod socket;
pub mod web;

// Size, signature, timestamp and team checks, from the Slack wire crate (crates/slack-wire).
pub use pitcrew_slack_wire::verify;
