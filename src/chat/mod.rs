//! Slack. The only module that knows Slack's types (slack-morphism).
//!
//! - `verify.rs`: size, signature (v0), timestamp and team checks before any work;
//! - `dedup.rs`: request ids recorded in the database, so nothing runs twice;
//! - `commands.rs`: `POST /slack/commands`, acknowledged at once, run in the background;
//! - `events.rs`: `POST /slack/events`: `url_verification` and `app_mention` commands;
//! - `interactions.rs`: `POST /slack/interactions`: Confirm, Approve and Cancel buttons;
//! - `web.rs`: the Web API client (announcements).
//!
//! Socket Mode and Block Kit messages updated in
//! place come with the rest of issue #7.

pub mod client;
pub mod commands;
pub mod dedup;
pub mod events;
pub mod interactions;
pub mod manifest;
pub mod verify;
pub mod web;
