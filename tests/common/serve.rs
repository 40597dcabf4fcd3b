//! A running `pitcrew serve` for a test: the real binary on a port the system picks, with a
//! clean environment (only `PATH` and what the test passes), killed when dropped. Its log goes
//! to a file whose last lines are printed if the test fails, so a failure shows what the
//! replica saw.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Serve {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: tempfile::NamedTempFile,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of pitcrew serve at {} ---", self.base);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Serve {
    /// Starts `pitcrew serve --config CONFIG --listen 127.0.0.1:0` with `env`, and waits for
    /// the line that says where it listens.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Serve {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PITCREW_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("reopen the log file"))
            .spawn()
            .expect("start serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "pitcrew serve did not start: first line {first:?}; its log:\n{}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                )
            })
            .to_string();
        Serve { child, base, log }
    }

    /// What the replica logged so far (JSON lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The value of one series of `/metrics`, written as it appears there
    /// (`name{label="value",...}`); `None` when the replica has not exported it.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = crate::common::get(format!("{}/metrics", self.base))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Sends SIGTERM, as Kubernetes does when it stops a pod.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM to pitcrew serve");
    }

    /// The exit status, once the process has exited (polling up to `within`); `None` if it
    /// is still running then.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
