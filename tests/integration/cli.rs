//! The `pitcrew` binary as an operator uses it: `config check`, `migrate`, the subcommands
//! that are not built yet, and logs that never show a secret.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXAMPLE: &str = include_str!("../../config/pitcrew.example.toml");

/// Secret values that must never appear in any output.
const SECRETS: &[(&str, &str)] = &[
    (
        "SLACK_SIGNING_SECRET",
        "sign-8f14e45fceea167a5a36dedd4bea2543",
    ),
    ("SLACK_BOT_TOKEN", "xoxb-1111-2222-botsecretvalue"),
    ("SLACK_APP_TOKEN", "xapp-1-A111-appsecretvalue"),
    ("PAGERDUTY_TOKEN", "pd-u+secretvalue-42"),
    ("JIRA_EMAIL", "robot-secret@example.com"),
    ("JIRA_API_TOKEN", "ATATT3xFfGF0-jirasecretvalue"),
];

/// A directory laid out like the repository (`config/`, `policies/`), holding a config file,
/// so relative paths resolve as they do for an operator.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn with_config(text: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
        for f in ["model.conf", "policy.csv"] {
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("policies")
                    .join(f),
                dir.path().join("policies").join(f),
            )
            .expect("copy policy");
        }
        let kubeconfig = dir.path().join("staging-eu.yaml");
        std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").expect("kubeconfig");
        let text = text.replace(
            "/etc/pitcrew/kubeconfigs/staging-eu.yaml",
            kubeconfig.to_str().expect("utf-8 path"),
        );
        // The SIEM's CA and the TSA's root the example names, beside the configuration
        // (resolved against it).
        for pem in ["siem-ca.pem", "tsa-root.pem"] {
            std::fs::write(dir.path().join("config").join(pem), "").expect(pem);
        }
        std::fs::write(dir.path().join("config/pitcrew.toml"), text).expect("write config");
        Workspace { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config/pitcrew.toml")
    }

    /// Runs pitcrew with a clean environment plus `env`.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pitcrew"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args).output().expect("run pitcrew")
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_example_config_passes_the_check_with_its_secrets_set() {
    let ws = Workspace::with_config(EXAMPLE);
    let config = ws.config();
    let out = ws.run(
        &["config", "check", "--config", config.to_str().unwrap()],
        SECRETS,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(": OK"), "{stdout}");
    assert!(
        stdout.contains(
            "environment prod: cluster main, namespaces shop, payments, protected, 1 approval"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("cluster main: in-cluster service account"),
        "{stdout}"
    );
}

#[test]
fn config_check_lists_every_problem_with_file_line_and_key() {
    let broken = EXAMPLE
        .replace(
            "\nmode = \"http\"\n",
            "\nmode = \"http\"\nlisen = \"0.0.0.0:1\"\n",
        )
        .replace("cluster = \"staging-eu\"", "cluster = \"staging-eux\"")
        .replace(
            "namespaces = [\"shop\", \"payments\"]",
            "namespaces = [\"Shop\", \"payments\"]\nnamspaces = []",
        )
        .replace(
            "channels = [\"C01INCIDENT\", \"C01OPS\", \"C01RELEASES\"]",
            "channels = [\"#incident\"]",
        );
    let ws = Workspace::with_config(&broken);
    let config = ws.config();
    let cfg = config.to_str().unwrap();
    // No secrets in the environment: those are problems too.
    let out = ws.run(&["config", "check", "--config", cfg], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|l| l.starts_with(needle))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("{needle} not in the config"))
    };
    let expect = [
        format!("{cfg}:{}: server.lisen: unknown key `lisen` in [server]; did you mean `listen`?", line_of("lisen")),
        format!(
            "{cfg}:{}: environments.prod.namspaces: unknown key `namspaces` in [environments.prod]; did you mean `namespaces`?",
            line_of("namspaces")
        ),
        format!(
            "{cfg}:{}: environments.prod.namespaces: `Shop` is not a valid namespace name: `S` is not allowed; use lower-case letters, digits and '-'",
            line_of("namespaces = [\"Shop\"")
        ),
        format!(
            "{cfg}:{}: environments.prod.channels: `#incident` is not a valid channel id: a Slack channel id starts with `C` or `G` or `D`",
            line_of("channels = [\"#incident\"]")
        ),
        format!(
            "{cfg}:{}: environments.staging.cluster: unknown cluster `staging-eux`; did you mean `staging-eu`?",
            line_of("cluster = \"staging-eux\"")
        ),
        "environment variable PAGERDUTY_TOKEN: is not set, but the [pagerduty] section is configured".to_string(),
        "environment variable JIRA_API_TOKEN: is not set, but the [jira] section is configured".to_string(),
    ];
    for e in &expect {
        assert!(
            stdout.lines().any(|l| l.starts_with(e.as_str())),
            "missing line starting with:\n{e}\nin:\n{stdout}"
        );
    }
    assert!(stdout.contains("problems found"), "{stdout}");
}

#[test]
fn secrets_in_the_file_are_refused_and_named_by_their_variable() {
    let ws = Workspace::with_config(
        &EXAMPLE.replace("[slack]\n", "[slack]\nbot_token = \"xoxb-in-the-file\"\n"),
    );
    let config = ws.config();
    let out = ws.run(
        &["config", "check", "--config", config.to_str().unwrap()],
        SECRETS,
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.contains("slack.bot_token: secrets are not read from the configuration file; remove this key and set SLACK_BOT_TOKEN"), "{stdout}");
    assert!(
        !stdout.contains("xoxb-in-the-file"),
        "the value itself is never echoed"
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let ws = Workspace::with_config("[server]\nlisten = \"127.0.0.1:1\"\nmode = http\n");
    let config = ws.config();
    let out = ws.run(
        &["config", "check", "--config", config.to_str().unwrap()],
        &[],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.starts_with(&format!("{}:3: ", config.display())),
        "{stdout}"
    );
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let ws = Workspace::with_config(EXAMPLE);
    let out = ws.run(&["config", "check", "--config", "nope.toml"], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("nope.toml: cannot read the configuration file"),
        "{stdout}"
    );
}

#[test]
fn secrets_never_appear_in_logs_or_output_at_trace_level_in_either_format() {
    let ws = Workspace::with_config(EXAMPLE);
    let config = ws.config();
    let pg_url = "postgres://pitcrew:pg-password-secret@127.0.0.1:1/nowhere";
    for format in ["human", "json"] {
        let mut env: Vec<(&str, &str)> = SECRETS.to_vec();
        env.push(("PITCREW_LOG", "trace"));
        env.push(("DATABASE_URL", pg_url));
        // config check logs the whole loaded configuration at debug level; migrate then fails
        // to connect to PostgreSQL (port 1) and reports it.
        let check = ws.run(
            &[
                "--log-format",
                format,
                "config",
                "check",
                "--config",
                config.to_str().unwrap(),
            ],
            &env,
        );
        let migrate = ws.run(
            &[
                "--log-format",
                format,
                "migrate",
                "--config",
                config.to_str().unwrap(),
            ],
            &env,
        );
        assert_eq!(check.status.code(), Some(0), "{:?}", text(&check));
        assert_eq!(migrate.status.code(), Some(5), "{:?}", text(&migrate));
        let (cout, cerr) = text(&check);
        let (mout, merr) = text(&migrate);
        let all = format!("{cout}{cerr}{mout}{merr}");
        assert!(
            cerr.contains("REDACTED"),
            "the config was logged, with secrets redacted ({format}):\n{cerr}"
        );
        if format == "json" {
            assert!(
                cerr.lines()
                    .filter(|l| !l.is_empty())
                    .all(|l| l.starts_with('{')),
                "JSON lines:\n{cerr}"
            );
        }
        assert!(
            merr.contains("postgres://pitcrew@127.0.0.1:1/nowhere"),
            "location without password:\n{merr}"
        );
        for (name, value) in SECRETS
            .iter()
            .chain([("DATABASE_URL password", "pg-password-secret")].iter())
        {
            assert!(
                !all.contains(value),
                "{name} leaked in {format} output:\n{all}"
            );
        }
    }
}

#[test]
fn migrate_creates_the_sqlite_database_and_is_idempotent() {
    let ws = Workspace::with_config(EXAMPLE);
    let config = ws.config();
    let first = ws.run(&["migrate", "--config", config.to_str().unwrap()], SECRETS);
    let (stdout, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(0), "{stdout}{stderr}");
    let migrations =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))
            .expect("migrations")
            .count();
    assert!(
        stdout.contains(&format!("{migrations} migrations applied now")),
        "{stdout}"
    );
    assert!(
        ws.dir.path().join("config/pitcrew.db").exists(),
        "sqlite_path is relative to the config file"
    );
    let second = ws.run(&["migrate", "--config", config.to_str().unwrap()], SECRETS);
    assert!(
        text(&second).0.contains("0 migrations applied now"),
        "{:?}",
        text(&second)
    );
}

#[test]
fn parse_prints_the_typed_command_or_the_refusal() {
    let ws = Workspace::with_config(EXAMPLE);
    let out = ws.run(
        &[
            "parse",
            "--json",
            "--",
            "restart",
            "deploy/checkout",
            "—env",
            "prod",
            "--reason",
            "CHG-7",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["command"], "restart");
    assert_eq!(json["target"]["name"], "checkout");
    assert_eq!(json["env"], "prod");
    assert_eq!(json["justification"]["key"], "CHG-7");

    let out = ws.run(
        &["parse", "--", "rollback checkout --to-revision 2 -e prod"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out).0.trim(),
        "rollback deployment/checkout -e prod --to-revision 2"
    );

    let out = ws.run(
        &["parse", "--", "restart", "checkout", "--namspace", "shop"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("did you mean `--namespace`?"), "{stderr}");
}

/// Every log line a command writes carries its correlation id (JSON logs, `span` field), the
/// same id as its audit events, so an operator can join the two.
#[test]
fn a_commands_log_lines_carry_its_audit_correlation_id() {
    let (_dir, config) =
        crate::common::app::TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
            .offline()
            .environment("staging", "shop")
            .write();
    let run = |args: &[&str], log: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PITCREW_LOG", log)
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run pitcrew")
    };
    // The cluster does not answer: the restart fails after `started`, logging as it goes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PITCREW_LOG", "debug")
        .args(["exec", "--log-format", "json", "--as", "U01DEV", "--config"])
        .arg(&config)
        .args(["--", "restart checkout -e staging"])
        .output()
        .expect("run pitcrew exec");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ids: std::collections::BTreeSet<String> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["span"]["correlation"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "one command, one id in its log lines: {ids:?}\n{stderr}"
    );
    let trail = run(&["audit", "query", "--format", "json"], "error");
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&trail.stdout).expect("audit query JSON");
    assert!(
        !events.is_empty()
            && events
                .iter()
                .all(|e| ids.contains(e["correlation"].as_str().unwrap_or_default())),
        "the audit events carry the same id: {events:?}"
    );
}
