//! A running `pitcrew serve` for a test: the real binary on a port the system picks, with a
//! clean environment (only `PATH` and what the test passes), killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Serve {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `pitcrew serve --config CONFIG --listen 127.0.0.1:0` with `env`, and waits for
    /// the line that says where it listens.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("pitcrew serve did not start: first line {first:?}"))
            .to_string();
        Serve { child, base }
    }
}
