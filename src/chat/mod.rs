//! Slack. The only module that knows Slack's types (slack-morphism).
//!
//! Today: the Web API client that posts messages (break-glass announcements from the outbox).
//! The HTTP endpoints, Socket Mode, Block Kit rendering and approvals come with issue #7.

pub mod web;
