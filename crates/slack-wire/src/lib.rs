//! Slack's wire format, as a crate of its own: the request checks (size, v0 signature,
//! timestamp, team) and the decoding of what arrives (slash commands, button clicks, Events
//! API JSON). Everything here is pure and small, so the fuzz targets build it without the
//! service's dependencies. pitcrew's `chat/` module re-exports it and owns the rest of Slack
//! (HTTP routes, Socket Mode, the Web API, Block Kit); see ARCHITECTURE.md.

pub mod payloads;
pub mod verify;
