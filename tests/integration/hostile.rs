//! The hostile-input corpus (`tests/corpus/`, written by `scripts/corpus/generate.py`):
//! command texts, Slack payloads, configuration and policy files that users, broken clients
//! or attackers could send. Every one gets a clear error or a correct parse, never a panic
//! (exit 101 for the binary) or a hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

fn lines(name: &str) -> Vec<Value> {
    std::fs::read_to_string(corpus(name))
        .expect("read the corpus")
        .lines()
        .map(|l| serde_json::from_str(l).expect("corpus lines are JSON"))
        .collect()
}

/// The files of a corpus directory, in order; at least 30 of them.
fn corpus_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus(dir))
        .expect("the corpus directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "the {dir} corpus shrank: {}",
        files.len()
    );
    files
}

/// Runs `f` on its own thread; fails the test if it panics or takes longer than `limit`.
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no answer within {limit:?} (a hang)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = worker.join();
            panic!("{what}: panicked")
        }
    }
}

#[test]
fn every_hostile_command_text_gets_a_clear_error_or_a_faithful_parse() {
    let texts = lines("commands.jsonl");
    assert!(texts.len() >= 200, "the corpus shrank: {}", texts.len());
    let (mut accepted, mut refused) = (0, 0);
    for v in texts {
        let text = v.as_str().expect("a string").to_string();
        let shown: String = text.chars().take(60).collect();
        let what = format!("parse({shown:?})");
        let result = bounded(&what, Duration::from_secs(2), move || {
            pitcrew::command::parse(&text).map_err(|e| e.to_string())
        });
        match result {
            Ok(cmd) => {
                accepted += 1;
                let again = pitcrew::command::parse(&cmd.to_string());
                assert_eq!(
                    again.as_ref(),
                    Ok(&cmd),
                    "{what}: the canonical form parses back"
                );
            }
            Err(message) => {
                refused += 1;
                assert!(!message.trim().is_empty(), "{what}: an empty error");
                assert!(
                    !message.chars().any(|c| c.is_control() && c != '\n'),
                    "{what}: the error carries control characters: {message:?}"
                );
                assert!(
                    message.len() < 2000,
                    "{what}: the error echoes too much ({} bytes)",
                    message.len()
                );
            }
        }
    }
    assert!(
        accepted > 10 && refused > 100,
        "accepted {accepted}, refused {refused}"
    );
}

/// A directory with the files a configuration refers to (model, policy, kubeconfig).
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf"),
        dir.path().join("model.conf"),
    )
    .expect("model");
    std::fs::write(
        dir.path().join("policy.csv"),
        "p, U01A, staging, *, *, *, status, *, allow\n",
    )
    .expect("policy");
    crate::common::cluster::unreachable_kubeconfig(&dir.path().join("kubeconfig"));
    dir
}

/// Runs pitcrew with `args`, bounded in time; returns (exit code, stdout and stderr).
fn pitcrew(args: &[&str], limit: Duration) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pitcrew");
    // Read both pipes as they fill, so a large output cannot block the child.
    let out = child.stdout.take().map(|mut o| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut o, &mut s);
            s
        })
    });
    let err = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
            s
        })
    });
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = [out, err]
                .into_iter()
                .flatten()
                .filter_map(|t| t.join().ok())
                .collect::<Vec<_>>()
                .join("");
            return (status.code().unwrap_or(-1), text);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pitcrew {args:?} did not finish within {limit:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_hostile_configuration_file_is_refused_clearly_or_accepted() {
    let dir = config_dir();
    let files = corpus_files("configs");
    for file in files {
        let config = dir.path().join("pitcrew.toml");
        std::fs::copy(&file, &config).expect("copy");
        let (code, output) = pitcrew(
            &[
                "config",
                "check",
                "--without-slack",
                "--config",
                config.to_str().expect("utf-8"),
            ],
            Duration::from_secs(10),
        );
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            code == 0 || code == 2,
            "{name}: exit {code} (101 is a panic):\n{output}"
        );
        if code == 2 {
            assert!(
                output.contains("pitcrew.toml") || output.contains("configuration"),
                "{name}: the error does not say where:\n{output}"
            );
        }
    }
}

#[test]
fn every_hostile_policy_file_is_linted_without_a_panic() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf");
    let files = corpus_files("policies");
    for file in files {
        let (code, output) = pitcrew(
            &[
                "policy",
                "lint",
                "--policy",
                file.to_str().expect("utf-8"),
                "--model",
                model.to_str().expect("utf-8"),
            ],
            Duration::from_secs(10),
        );
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            (0..=2).contains(&code),
            "{name}: exit {code} (101 is a panic):\n{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_slack_payload_is_answered_quickly_and_the_server_survives() {
    const SECRET: &str = "hostile-corpus-secret";
    let mut app =
        crate::common::app::TestConfig::new("p, U01A, staging, *, *, *, status, *, allow\n")
            .slack("http://127.0.0.1:9")
            .offline()
            .environment("staging", "shop")
            .start(&[("SLACK_SIGNING_SECRET", SECRET)]);
    let server = &mut app.server;
    let http = pitcrew::http_client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let payloads = lines("slack.jsonl");
    assert!(payloads.len() >= 50, "the corpus shrank");
    for p in &payloads {
        let endpoint = p["endpoint"].as_str().expect("endpoint");
        let body = p["body"].as_str().expect("body");
        let ts = chrono::Utc::now().timestamp();
        let started = Instant::now();
        let answer = http
            .post(format!("{}/slack/{endpoint}", server.base))
            .header(
                "content-type",
                p["content_type"].as_str().unwrap_or("text/plain"),
            )
            .header("x-slack-request-timestamp", ts.to_string())
            .header(
                "x-slack-signature",
                pitcrew::chat::verify::sign(SECRET, ts, body),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("/slack/{endpoint} {body:.60?}: no answer: {e}"));
        let status = answer.status().as_u16();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "/slack/{endpoint} {body:.60?}: answered after {:?}",
            started.elapsed()
        );
        assert!(
            [200, 400, 401, 413].contains(&status),
            "/slack/{endpoint} {body:.60?}: status {status}"
        );
    }
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "the server is still running after the corpus"
    );
}
