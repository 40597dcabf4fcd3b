//! pitcrew: incident-response ChatOps for Kubernetes.
//!
//! A command typed in Slack (or in a terminal with `pitcrew exec`) goes through one pipeline:
//! receive → parse → resolve → authorize → justify → confirm → lock → audit → act → follow →
//! audit → write back. `ARCHITECTURE.md` maps the modules; this file is the table of contents
//! and holds the crate-wide error type.

pub mod audit;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod db;
pub mod freeze;
pub mod gitops;
pub mod housekeeping;
pub mod justify;
pub mod listener;
pub mod metrics;
pub mod outbox;
pub mod policy;
pub mod resolve;
pub mod serve;
pub mod siem;
pub mod telemetry;
pub mod workflow;

// The command language and its names, from their own crate (crates/command).
pub use pitcrew_command::{command, names};

use std::sync::Once;

/// Everything that can go wrong at the top level, one variant per source, each with the
/// context a user needs to act on it. Layers keep their own richer error types and convert.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),

    #[error(
        "cannot use the {} database at {location}: {source}; check DATABASE_URL (PostgreSQL) or [database].sqlite_path (SQLite)",
        backend.as_str()
    )]
    Database {
        backend: db::Backend,
        location: String,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "database migration failed: {0}; the database is left as it was before the failing migration"
    )]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("{0}")]
    Cluster(#[from] cluster::Error),

    #[error("{0}")]
    Usage(String),

    #[error("{0}")]
    Policy(#[from] policy::PolicyError),

    #[error("cannot write to the audit trail: {0}")]
    AuditWrite(String),

    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short, stable label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Database { .. } => "database",
            Error::Migrate(_) => "migrate",
            Error::Runtime(_) => "runtime",
            Error::Cluster(e) => e.metric_label(),
            Error::Usage(_) => "usage",
            Error::Policy(_) => "policy",
            Error::AuditWrite(_) => "audit_write",
        }
    }

    /// The process exit code for this error (documented in README.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) | Error::Policy(_) => 2,
            Error::Database { .. }
            | Error::Migrate(_)
            | Error::Runtime(_)
            | Error::Cluster(_)
            | Error::AuditWrite(_) => 5,
        }
    }
}

/// A reqwest client builder, with rustls' crypto provider installed first: pitcrew builds
/// reqwest without a provider of its own (so aws-lc-sys is never compiled), and reqwest panics
/// on a client built before one is installed. Every reqwest client starts here.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// Installs ring as rustls' process-wide crypto provider, once. reqwest, kube and sqlx all use
/// rustls; left to choose, two of them can pick different defaults and rustls then panics on
/// first use. Call this before creating any client.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed (by an embedding program): keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
