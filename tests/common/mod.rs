//! The test harness: what every integration test needs, in one place.
//!
//! - [`cluster`]: a kube `Client` for the test control plane started by `scripts/test.sh`,
//!   a fresh namespace per test (deleted afterwards), and `kubectl` as the oracle.
//! - [`fixtures`]: Deployments, StatefulSets and DaemonSets built with small chainable
//!   constructors, so a test reads like its scenario.
//! - [`databases`]: a fresh PostgreSQL database per test and an SQLite file per test.
//! - [`app`]: `TestConfig`, a configuration built in a few calls, and `TestApp`, `pitcrew
//!   serve` running on it; [`serve`]: a running `pitcrew serve` on a free port.
//! - [`slack`]: signed slash commands, as Slack sends them, and what a stand-in received.
//! - [`tsa`]: a real RFC 3161 timestamp authority (`openssl ts`) over HTTP; [`openssl`]: the
//!   certificates such tests need.
//!
//! Tests that need the cluster or PostgreSQL fail with a clear message when the environment
//! is missing. Outside CI, `PITCREW_TEST_SKIP=cluster,postgres` skips them explicitly (and
//! says so); with `CI=true` skipping is refused.
#![allow(dead_code)] // each test module uses a different part of the harness

pub mod app;
pub mod cli;
pub mod cluster;
pub mod databases;
pub mod fakes;
pub mod fixtures;
pub mod openssl;
pub mod serve;
pub mod slack;
pub mod tsa;

use std::sync::atomic::{AtomicU64, Ordering};

/// A short suffix unique within this machine for names (namespaces, databases): process id,
/// time and a counter, so parallel tests and parallel runs never collide.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}{n}", std::process::id(), nanos % 0xfffff)
}

/// Which part of the environment a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Cluster,
    Postgres,
    /// The reference tools: pycasbin and Prism.
    Tools,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Cluster => "cluster",
            Part::Postgres => "postgres",
            Part::Tools => "tools",
        }
    }
}

/// The value of `var`, which the test script exports for `part`. `None` means: skip this
/// test (allowed only outside CI, and only when asked for). Panics with instructions otherwise.
pub fn require_env(part: Part, var: &str) -> Option<String> {
    if let Ok(v) = std::env::var(var)
        && !v.is_empty()
    {
        return Some(v);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let skip = std::env::var("PITCREW_TEST_SKIP").unwrap_or_default();
    let skipped = skip
        .split(',')
        .any(|s| s.trim() == part.name() || s.trim() == "all");
    if skipped && !ci {
        eprintln!(
            "SKIPPED: needs the test {} ({var} unset) and PITCREW_TEST_SKIP includes it",
            part.name()
        );
        return None;
    }
    panic!(
        "this test needs the test {part} but {var} is not set.\n\
         Run the suite with `scripts/test.sh`, which builds and starts a real Kubernetes control plane \
         and a throw-away PostgreSQL, installs the reference tools (pycasbin, Prism) and exports {var}.{extra}",
        part = part.name(),
        extra = if ci {
            " In CI (CI=true) these tests never skip."
        } else {
            " To skip these tests locally, set PITCREW_TEST_SKIP=cluster,postgres,tools."
        }
    );
}

/// An HTTP client for tests, built the way pitcrew builds its own (rustls' provider installed
/// first: pitcrew's reqwest has none of its own, and building a client before one is installed
/// panics).
pub fn http() -> reqwest::Client {
    pitcrew::http_client_builder()
        .build()
        .expect("an HTTP client")
}

/// `reqwest::get` through [`http`].
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}
