//! `TestConfig`: pitcrew's configuration for a test in a few calls instead of TOML text, written
//! with the model and a policy to a temporary directory; `TestApp`: that configuration with
//! `pitcrew serve` running on it (a free port, killed when dropped).
//!
//! ```ignore
//! let app = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
//!     .cluster(&cluster.kubeconfig)
//!     .environment("staging", &ns.name)
//!     .slack(&slack.uri())
//!     .set("rollout", "timeout", "60s")
//!     .start(&[("SLACK_SIGNING_SECRET", SECRET)]);
//! ```

use std::path::PathBuf;

use super::serve::Serve;

/// The Slack workspace the tests' requests come from (`allowed_teams` lists it).
pub const TEAM: &str = "T0PITCREW";

/// A TOML value as written: quoted strings, bare numbers and booleans, lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Toml(String);

impl From<&str> for Toml {
    fn from(s: &str) -> Toml {
        // Rust's escaping of a string is TOML's for the ASCII the tests write.
        Toml(format!("{s:?}"))
    }
}

impl From<String> for Toml {
    fn from(s: String) -> Toml {
        Toml::from(s.as_str())
    }
}

impl From<&String> for Toml {
    fn from(s: &String) -> Toml {
        Toml::from(s.as_str())
    }
}

impl From<bool> for Toml {
    fn from(b: bool) -> Toml {
        Toml(b.to_string())
    }
}

impl From<i64> for Toml {
    fn from(n: i64) -> Toml {
        Toml(n.to_string())
    }
}

impl<const N: usize> From<[&str; N]> for Toml {
    fn from(items: [&str; N]) -> Toml {
        let items: Vec<String> = items.iter().map(|i| Toml::from(*i).0).collect();
        Toml(format!("[{}]", items.join(", ")))
    }
}

/// The cluster every environment of a `TestConfig` runs on.
pub const CLUSTER: &str = "main";

#[derive(Debug, Clone, Default)]
pub struct TestConfig {
    policy: String,
    /// Sections in the order first set, each with its keys in the order first set.
    sections: Vec<(String, Vec<(String, Toml)>)>,
    /// Kubeconfig files to write, relative to the directory, whose API server never answers.
    unreachable: Vec<String>,
}

impl TestConfig {
    /// A configuration whose policy is `policy` (the model is pitcrew's).
    pub fn new(policy: &str) -> TestConfig {
        TestConfig {
            policy: policy.to_string(),
            ..TestConfig::default()
        }
    }

    /// Sets `key` in `[section]` (a dotted name like `environments.prod`), replacing a value
    /// set before.
    pub fn set(mut self, section: &str, key: &str, value: impl Into<Toml>) -> TestConfig {
        let value = value.into();
        let keys = match self.sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, keys)) => keys,
            None => {
                self.sections.push((section.to_string(), Vec::new()));
                let last = self.sections.len() - 1;
                &mut self.sections[last].1
            }
        };
        match keys.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => keys.push((key.to_string(), value)),
        }
        self
    }

    /// `[clusters.main]` at the test cluster's kubeconfig.
    pub fn cluster(self, kubeconfig: impl std::fmt::Display) -> TestConfig {
        let section = format!("clusters.{CLUSTER}");
        self.set(&section, "kubeconfig", kubeconfig.to_string())
    }

    /// `[clusters.NAME]` at a kubeconfig (written with `write`) whose API server never
    /// answers: for tests of what must not need the cluster (pitcrew connects lazily).
    pub fn unreachable_cluster(mut self, name: &str) -> TestConfig {
        let file = format!("{name}.kubeconfig");
        self.unreachable.push(file.clone());
        self.set(&format!("clusters.{name}"), "kubeconfig", file)
    }

    /// `[clusters.main]` never reached.
    pub fn offline(self) -> TestConfig {
        self.unreachable_cluster(CLUSTER)
    }

    /// `[environments.NAME]` on `main`, in one namespace.
    pub fn environment(self, name: &str, namespace: &str) -> TestConfig {
        self.environment_on(name, CLUSTER, namespace)
    }

    /// `[environments.NAME]` on `cluster`, in one namespace.
    pub fn environment_on(self, name: &str, cluster: &str, namespace: &str) -> TestConfig {
        let section = format!("environments.{name}");
        self.set(&section, "cluster", cluster)
            .set(&section, "namespaces", [namespace])
    }

    /// A protected environment on `main` needing `approvals` approvals.
    pub fn protected(self, name: &str, namespace: &str, approvals: i64) -> TestConfig {
        let section = format!("environments.{name}");
        let config = self
            .environment(name, namespace)
            .set(&section, "protected", true);
        if approvals > 0 {
            config.set(&section, "approvals", approvals)
        } else {
            config
        }
    }

    /// `[slack]` at a stand-in (`{base}/api/`), accepting requests from [`TEAM`].
    pub fn slack(self, base: &str) -> TestConfig {
        self.set("slack", "api_base_url", format!("{base}/api/"))
            .set("slack", "allowed_teams", [TEAM])
    }

    /// `[slack]` accepting every workspace.
    pub fn any_team(self) -> TestConfig {
        self.set("slack", "allowed_teams", ["*"])
    }

    /// `[pagerduty]` at a stand-in.
    pub fn pagerduty(self, base: &str) -> TestConfig {
        self.set("pagerduty", "api_base_url", base).set(
            "pagerduty",
            "from_email",
            "bot@example.com",
        )
    }

    /// The configuration file's text (without `[policy]`, which `write` adds).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for (section, keys) in &self.sections {
            text.push_str(&format!("[{section}]\n"));
            for (key, value) in keys {
                text.push_str(&format!("{key} = {}\n", value.0));
            }
        }
        text
    }

    /// Writes the model, the policy, the configuration and its kubeconfigs to a new
    /// directory; returns it (deleted when dropped) and the configuration's path.
    pub fn write(&self) -> (tempfile::TempDir, PathBuf) {
        let (dir, path) = super::cluster::pitcrew_dir(&self.policy, self.text());
        for file in &self.unreachable {
            super::cluster::unreachable_kubeconfig(&dir.path().join(file));
        }
        (dir, path)
    }

    /// Writes it and starts `pitcrew serve` on it with `env`.
    pub fn start(&self, env: &[(&str, &str)]) -> TestApp {
        let (dir, config) = self.write();
        let server = Serve::start(&config, env);
        TestApp {
            server,
            config,
            _dir: dir,
        }
    }
}

/// A running `pitcrew serve` over a written `TestConfig`.
pub struct TestApp {
    pub server: Serve,
    /// The configuration file (its directory also holds the SQLite database).
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

#[test]
fn the_configuration_is_written_as_pitcrew_reads_it() {
    let (_dir, path) = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .offline()
        .environment("staging", "shop")
        .slack("http://127.0.0.1:9")
        .set("rollout", "timeout", "60s")
        .set("rollout", "timeout", "90s")
        .write();
    let config = pitcrew::config::Config::load(&path, &|_| None).expect("a valid configuration");
    assert_eq!(config.rollout.timeout, std::time::Duration::from_secs(90));
    assert_eq!(config.slack.allowed_teams.len(), 1);
    assert_eq!(config.slack.allowed_teams[0].as_str(), TEAM);
    assert_eq!(config.environments.len(), 1);
}

/// A pitcrew `Context` on the configuration at `path` and the database `db`, with no
/// Kubernetes client, no PagerDuty or Jira and nothing delivering the outbox: one replica, for
/// tests of what replicas do to the database (sweeps, reminders).
pub fn replica_on(
    path: &std::path::Path,
    db: &pitcrew::db::Database,
) -> std::sync::Arc<pitcrew::workflow::Context> {
    let config = pitcrew::config::Config::load(path, &|_| None).expect("config");
    pitcrew::workflow::Context::build(
        config,
        pitcrew::workflow::Parts {
            clusters: std::sync::Arc::new(pitcrew::cluster::Clusters::from_clients(
                Default::default(),
            )),
            audit: Box::new(pitcrew::audit::AuditStore::new(db.clone())),
            justifier: std::sync::Arc::new(pitcrew::justify::LiveJustifier::new(None, None)),
            deliverers: Vec::new(),
            db: Some(db.clone()),
        },
        pitcrew::metrics::Metrics::new(),
    )
    .expect("context")
}
