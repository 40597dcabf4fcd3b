//! The audit trail: an append-only, hash-chained table of events on SQLite or PostgreSQL, and
//! the tools to query and verify it.
//!
//! Architecture invariant: events are only ever appended through [`AuditStore::append`],
//! which serialises writers (in-process mutex, plus a PostgreSQL advisory lock across
//! processes) so that the chain never forks. The database refuses UPDATE and DELETE itself.

pub mod anchors;
mod chain;
pub mod render;
pub mod report;
pub mod report_html;
pub mod retention;
mod store;
pub mod timestamp;

pub use chain::{FIELDS, GENESIS, encode, hash};
pub use store::{Anchor, AuditStore, Filter, Parties, Problem, Unreviewed, VerifyReport};

use serde::{Deserialize, Serialize};

/// Why the audit trail could not be written or read, as the workflow sees it (through
/// `AuditSink`). A command whose `started` cannot be recorded does not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The trail cannot be written or read now (the database is away, the disk is full), and why.
    #[error("{0}")]
    Unavailable(String),
    /// This pitcrew runs without a queryable trail.
    #[error("this pitcrew keeps no queryable audit trail")]
    NotQueryable,
}

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Error {
        Error::Unavailable(e.to_string())
    }
}

/// One stored event, as it is hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Record {
    pub id: i64,
    pub at: String,
    pub correlation: String,
    pub phase: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub team: Option<String>,
    pub channel: Option<String>,
    pub command_text: String,
    pub action: Option<String>,
    pub env: Option<String>,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub reason: Option<String>,
    /// JSON: justification, decision, before/after, outcome.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An event to append; the store assigns `id`, `at` and the hashes.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub correlation: String,
    pub phase: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub team: Option<String>,
    pub channel: Option<String>,
    pub command_text: String,
    pub action: Option<String>,
    pub env: Option<String>,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
}

impl Record {
    /// `kind/name`, or empty for an event about no workload.
    pub fn target(&self) -> String {
        match (&self.kind, &self.name) {
            (Some(k), Some(n)) => format!("{k}/{n}"),
            _ => String::new(),
        }
    }

    /// A new event in this event's command (same correlation, actor, command and target), in
    /// `phase` with `detail`: what start-up reconciliation appends to close a command.
    pub fn follow_up(&self, phase: &str, detail: serde_json::Value) -> NewEvent {
        NewEvent {
            correlation: self.correlation.clone(),
            phase: phase.to_string(),
            actor_id: self.actor_id.clone(),
            actor_name: self.actor_name.clone(),
            team: self.team.clone(),
            channel: self.channel.clone(),
            command_text: self.command_text.clone(),
            action: self.action.clone(),
            env: self.env.clone(),
            cluster: self.cluster.clone(),
            namespace: self.namespace.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            reason: self.reason.clone(),
            detail,
        }
    }
}
