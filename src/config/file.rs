//! The configuration file as written by an operator: plain serde structs with defaults.
//!
//! Names stay `String` here on purpose: a bad name must become one problem in the list that
//! `pitcrew config check` prints, not abort deserialization at the first one. `validate.rs`
//! turns a `FileConfig` into the typed [`super::Config`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Keys accepted at each place in the file, used for "did you mean" suggestions. `*` stands for
/// a name chosen by the operator (an environment or a cluster). A test checks that this table
/// and the serde structs below agree, by loading a file that sets every key listed here.
pub(crate) const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "server",
            "slack",
            "database",
            "policy",
            "pagerduty",
            "jira",
            "rollout",
            "audit",
            "clusters",
            "environments",
            "identity",
        ],
    ),
    (
        "server",
        &[
            "listen",
            "mode",
            "max_body_bytes",
            "read_timeout",
            "max_connections",
            "shutdown_grace",
            "approval_ttl",
        ],
    ),
    (
        "slack",
        &["api_base_url", "allowed_teams", "announce_channel"],
    ),
    ("database", &["sqlite_path"]),
    ("policy", &["model", "policy"]),
    (
        "pagerduty",
        &[
            "api_base_url",
            "timeout",
            "resolved_grace",
            "from_email",
            "cache_for",
        ],
    ),
    (
        "jira",
        &[
            "base_url",
            "allowed_projects",
            "allowed_issue_types",
            "approved_statuses",
            "timeout",
            "cache_for",
        ],
    ),
    ("rollout", &["timeout", "update_interval"]),
    (
        "audit",
        &[
            "review_reminder_after",
            "syslog",
            "retain_online",
            "retain_total",
            "archive_dir",
            "https",
            "timestamp",
        ],
    ),
    ("audit.https", &["url"]),
    ("audit.timestamp", &["url", "ca_file", "every"]),
    (
        "audit.syslog",
        &[
            "address", "app_name", "hostname", "facility", "tls", "ca_file",
        ],
    ),
    (
        "identity",
        &[
            "group_prefix",
            "users",
            "from_slack_email",
            "email_cache_for",
        ],
    ),
    ("clusters.*", &["kubeconfig", "context", "in_cluster"]),
    (
        "environments.*",
        &[
            "cluster",
            "namespaces",
            "protected",
            "approvals",
            "channels",
            "allow_gitops",
            "pagerduty_services",
            "impersonate",
            "impersonate_groups",
            "timezone",
            "freezes",
            "approvers",
            "gitops",
        ],
    ),
    (
        "environments.*.gitops",
        &["argocd_namespace", "flux_namespace", "max_suspend"],
    ),
    (
        "environments.*.approvers",
        &[
            "roles",
            "slack_groups",
            "on_call",
            "escalation_policies",
            "requester_on_call_level",
        ],
    ),
    (
        "environments.*.freezes.*",
        &["from", "until", "recurrence", "duration"],
    ),
];

/// Keys that look like secrets. Secrets are read only from the environment (or `*_FILE`
/// paths), so finding one of these in the file is an error that names the variable to use.
pub(crate) const SECRET_KEYS: &[(&str, &str)] = &[
    ("signing_secret", "SLACK_SIGNING_SECRET"),
    ("bot_token", "SLACK_BOT_TOKEN"),
    ("app_token", "SLACK_APP_TOKEN"),
    ("token", "PAGERDUTY_TOKEN or JIRA_API_TOKEN"),
    ("api_token", "PAGERDUTY_TOKEN or JIRA_API_TOKEN"),
    ("email", "JIRA_EMAIL"),
    ("password", "DATABASE_URL"),
    ("url", "DATABASE_URL"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileConfig {
    pub server: ServerSection,
    pub slack: SlackSection,
    pub database: DatabaseSection,
    pub policy: PolicySection,
    pub pagerduty: Option<PagerDutySection>,
    pub jira: Option<JiraSection>,
    pub rollout: RolloutSection,
    pub audit: AuditSection,
    pub clusters: BTreeMap<String, ClusterSection>,
    pub environments: BTreeMap<String, EnvironmentSection>,
    pub identity: IdentitySection,
}

/// `[identity]`: who a Slack user is in Kubernetes, for environments with `impersonate`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct IdentitySection {
    pub group_prefix: String,
    /// Slack user id → Kubernetes user name.
    pub users: BTreeMap<String, String>,
    pub from_slack_email: bool,
    #[serde(deserialize_with = "duration")]
    pub email_cache_for: Duration,
}

impl Default for IdentitySection {
    fn default() -> Self {
        Self {
            group_prefix: "pitcrew:".into(),
            users: BTreeMap::new(),
            from_slack_email: false,
            email_cache_for: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Slack calls pitcrew's public HTTPS endpoints.
    Http,
    /// pitcrew opens a WebSocket to Slack (no inbound traffic needed).
    Socket,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct ServerSection {
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    pub mode: Mode,
    pub max_body_bytes: usize,
    #[serde(deserialize_with = "duration")]
    pub read_timeout: Duration,
    pub max_connections: usize,
    #[serde(deserialize_with = "duration")]
    pub shutdown_grace: Duration,
    #[serde(deserialize_with = "duration")]
    pub approval_ttl: Duration,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            mode: Mode::Http,
            // Slack's own payloads stay far below this; anything bigger is not from Slack.
            max_body_bytes: 64 * 1024,
            // Slack sends a whole request in milliseconds; a client that drips it is cut off.
            read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(30),
            approval_ttl: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct SlackSection {
    pub api_base_url: String,
    pub allowed_teams: Vec<String>,
    pub announce_channel: Option<String>,
}

impl Default for SlackSection {
    fn default() -> Self {
        Self {
            api_base_url: "https://slack.com/api/".into(),
            allowed_teams: Vec::new(),
            announce_channel: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct DatabaseSection {
    pub sqlite_path: PathBuf,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            sqlite_path: PathBuf::from("pitcrew.db"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct PolicySection {
    pub model: PathBuf,
    pub policy: PathBuf,
}

impl Default for PolicySection {
    fn default() -> Self {
        Self {
            model: PathBuf::from("../policies/model.conf"),
            policy: PathBuf::from("../policies/policy.csv"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct PagerDutySection {
    pub api_base_url: String,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub resolved_grace: Duration,
    pub from_email: Option<String>,
    #[serde(deserialize_with = "duration")]
    pub cache_for: Duration,
}

impl Default for PagerDutySection {
    fn default() -> Self {
        Self {
            api_base_url: "https://api.pagerduty.com/".into(),
            timeout: Duration::from_secs(3),
            resolved_grace: Duration::ZERO,
            from_email: None,
            cache_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct JiraSection {
    pub base_url: String,
    pub allowed_projects: Vec<String>,
    pub allowed_issue_types: Vec<String>,
    pub approved_statuses: Vec<String>,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub cache_for: Duration,
}

impl Default for JiraSection {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            allowed_projects: Vec::new(),
            allowed_issue_types: Vec::new(),
            approved_statuses: Vec::new(),
            timeout: Duration::from_secs(3),
            cache_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct RolloutSection {
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub update_interval: Duration,
}

impl Default for RolloutSection {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            update_interval: Duration::from_secs(1),
        }
    }
}

/// `[audit]`: the follow-up the trail asks of people.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct AuditSection {
    /// A break-glass command not reviewed this long after it ran is brought up in the announce
    /// channel, once.
    #[serde(deserialize_with = "duration")]
    pub review_reminder_after: Duration,
    /// Every event streamed to a SIEM as RFC 5424 syslog over TCP.
    pub syslog: Option<SyslogSection>,
    /// Events older than this move from the database to archive files in `archive_dir`.
    #[serde(deserialize_with = "optional_duration")]
    pub retain_online: Option<Duration>,
    /// Archive files whose newest event is older than this are removed.
    #[serde(deserialize_with = "optional_duration")]
    pub retain_total: Option<Duration>,
    pub archive_dir: Option<PathBuf>,
    /// Every event posted to a SIEM as OCSF JSON over HTTPS.
    pub https: Option<HttpsSection>,
    /// The chain head stamped by an RFC 3161 timestamp authority.
    pub timestamp: Option<TimestampSection>,
}

/// `[audit.timestamp]`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct TimestampSection {
    pub url: String,
    pub ca_file: Option<PathBuf>,
    #[serde(deserialize_with = "duration")]
    pub every: Duration,
}

impl Default for TimestampSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            ca_file: None,
            every: Duration::from_secs(600),
        }
    }
}

/// `[audit.https]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HttpsSection {
    pub url: String,
}

impl Default for AuditSection {
    fn default() -> Self {
        Self {
            review_reminder_after: Duration::from_secs(24 * 3600),
            syslog: None,
            retain_online: None,
            retain_total: None,
            archive_dir: None,
            https: None,
            timestamp: None,
        }
    }
}

/// `[audit.syslog]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SyslogSection {
    pub address: String,
    pub app_name: Option<String>,
    pub hostname: Option<String>,
    pub facility: Option<u8>,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ClusterSection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub in_cluster: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EnvironmentSection {
    pub cluster: String,
    pub namespaces: Vec<String>,
    pub protected: bool,
    pub approvals: u8,
    pub channels: Vec<String>,
    pub allow_gitops: bool,
    pub pagerduty_services: Vec<String>,
    pub impersonate: bool,
    pub impersonate_groups: Vec<String>,
    /// An IANA zone (`Europe/Berlin`) times are shown in; stored times are UTC.
    pub timezone: Option<String>,
    /// Change freezes, by name.
    pub freezes: BTreeMap<String, FreezeSection>,
    /// Who may approve here, beyond holding `approve`.
    pub approvers: Option<ApproversSection>,
    /// Where its GitOps objects live, and how long `gitops suspend` may last.
    pub gitops: GitopsSection,
}

/// `[environments.ENV.gitops]`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct GitopsSection {
    pub argocd_namespace: String,
    pub flux_namespace: String,
    #[serde(deserialize_with = "duration")]
    pub max_suspend: Duration,
}

impl Default for GitopsSection {
    fn default() -> Self {
        Self {
            argocd_namespace: "argocd".into(),
            flux_namespace: "flux-system".into(),
            max_suspend: Duration::from_secs(24 * 3600),
        }
    }
}

/// `[environments.ENV.approvers]`: who counts as an approver, and when an on-call requester
/// needs none.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ApproversSection {
    pub roles: Vec<String>,
    pub slack_groups: Vec<String>,
    pub on_call: bool,
    pub escalation_policies: Vec<String>,
    pub requester_on_call_level: Option<u32>,
}

/// One freeze window: once (`from` and `until`), or recurring (`recurrence`, RFC 5545
/// DTSTART and RRULE lines, each occurrence lasting `duration`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FreezeSection {
    pub from: Option<String>,
    pub until: Option<String>,
    pub recurrence: Option<String>,
    #[serde(deserialize_with = "optional_duration")]
    pub duration: Option<Duration>,
}

/// Durations are written the way people say them: "3s", "10m", "1h 30m" (humantime).
fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({e}); write it like \"3s\", \"10m\" or \"1h 30m\""
        ))
    })
}

fn optional_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    duration(de).map(Some)
}

fn socket_addr<'de, D: Deserializer<'de>>(de: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(de)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an address to listen on; write it like \"127.0.0.1:3000\" or \"0.0.0.0:3000\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use toml::de::{DeTable, DeValue};

    /// Every key the example documents is in `KNOWN_KEYS` and vice versa; together with the
    /// integration test that loads the example without any unknown-key problem, this keeps
    /// the suggestion table, the serde structs and the documentation in step.
    #[test]
    fn the_example_documents_exactly_the_known_keys() {
        let example = include_str!("../../config/pitcrew.example.toml");
        let root = DeTable::parse(example)
            .expect("example parses")
            .into_inner();
        let mut documented = BTreeSet::new();
        fn walk(table: &DeTable<'_>, prefix: &[String], out: &mut BTreeSet<(String, String)>) {
            for (k, v) in table.iter() {
                let key = k.get_ref().to_string();
                let parent = prefix.join(".");
                out.insert((parent, key.clone()));
                if let DeValue::Table(inner) = v.get_ref() {
                    let mut p = prefix.to_vec();
                    // Operator-chosen names under clusters/environments are the `*` level.
                    p.push(
                        if matches!(prefix, [s] if s == "clusters" || s == "environments")
                            || matches!(prefix, [e, _, f] if e == "environments" && f == "freezes")
                        {
                            "*".into()
                        } else {
                            key
                        },
                    );
                    walk(inner, &p, out);
                }
            }
        }
        walk(&root, &[], &mut documented);
        // Operator-chosen names under these are data (cluster and environment names, Slack
        // user ids), not keys.
        documented.retain(|(parent, _)| {
            !matches!(
                parent.as_str(),
                "clusters" | "environments" | "identity.users" | "environments.*.freezes"
            )
        });
        let known: BTreeSet<(String, String)> = KNOWN_KEYS
            .iter()
            .flat_map(|(p, keys)| keys.iter().map(move |k| (p.to_string(), k.to_string())))
            .collect();
        assert_eq!(documented, known);
    }
}
