//! Logging with `tracing`: human-readable on a terminal, one JSON object per line for servers.
//!
//! Secrets never reach a log line because they are held in `SecretString`, whose `Debug`
//! prints `[REDACTED]`; a test in `tests/integration/cli.rs` runs pitcrew at `trace` level
//! with real-looking secrets in its environment and checks they appear nowhere.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human format when stderr is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable lines (colours on a terminal).
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. Logs go to stderr so that stdout stays clean for
/// command output (JSON, CSV) that other tools read. The level comes from `PITCREW_LOG`
/// (an `EnvFilter` directive such as `info,pitcrew=debug`), `info` by default.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PITCREW_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init` fails only if a subscriber is already set (tests calling in twice): harmless.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.with_ansi(terminal).with_target(false).try_init()
    };
}
