//! Typed configuration: `config/pitcrew.toml` plus secrets from the environment.
//!
//! Loading happens in three steps, so that `pitcrew config check` can report *every* problem
//! with its place instead of stopping at the first:
//! 1. parse the TOML (a syntax error is reported with its line);
//! 2. deserialize into [`file::FileConfig`], collecting unknown keys (with suggestions) and
//!    keys that look like secrets;
//! 3. [`validate`] every value into the typed [`Config`] below.
//!
//! Once a [`Config`] exists, every name in it is valid and every reference resolves
//! (an environment's cluster exists, and so on): later code never re-checks.

mod file;
mod problems;
mod secrets;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

pub use file::Mode;
pub use problems::{ConfigErrors, Place, Problem, did_you_mean, suggestion_suffix};
pub use secrets::{SECRET_VARIABLES, Secrets};

use crate::names::{ClusterName, EnvName, NamespaceName, SlackChannelId, SlackTeamId};

/// The whole validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file this configuration came from; relative paths in it were resolved against its
    /// directory.
    pub source: PathBuf,
    pub server: ServerConfig,
    pub slack: SlackConfig,
    pub database: DatabaseConfig,
    pub policy: PolicyConfig,
    pub pagerduty: Option<PagerDutyConfig>,
    pub jira: Option<JiraConfig>,
    pub rollout: RolloutConfig,
    pub audit: AuditConfig,
    pub clusters: BTreeMap<ClusterName, ClusterConnection>,
    pub environments: BTreeMap<EnvName, Environment>,
    pub identity: IdentityConfig,
    pub secrets: Secrets,
}

/// Who a Slack user is in Kubernetes (`[identity]`), for environments with `impersonate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// Put before a pitcrew role's name to make the Kubernetes group (`role:oncall` →
    /// `pitcrew:oncall`).
    pub group_prefix: String,
    /// Slack user → Kubernetes user name. A user not listed maps to nobody, unless
    /// `from_slack_email`.
    pub users: BTreeMap<crate::names::SlackUserId, String>,
    /// A user not in `users` is their Slack profile's e-mail (`users.info`, scope
    /// `users:read.email`); a deactivated user, or one without an e-mail, is nobody.
    pub from_slack_email: bool,
    /// How long a looked-up e-mail is reused before asking Slack again.
    pub email_cache_for: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: std::net::SocketAddr,
    pub mode: Mode,
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers, and then its body.
    pub read_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// How long a request for approval stays open.
    pub approval_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub api_base_url: reqwest::Url,
    /// The workspaces whose requests are served. `serve` refuses to start with none, unless
    /// `any_team` (the file says `allowed_teams = ["*"]`).
    pub allowed_teams: Vec<SlackTeamId>,
    /// `allowed_teams = ["*"]`: every workspace whose requests carry the signing secret.
    pub any_team: bool,
    pub announce_channel: Option<SlackChannelId>,
}

/// Where the audit trail and shared state live.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// The embedded default: one file, one replica.
    Sqlite { path: PathBuf },
    /// From `DATABASE_URL` (`postgres://…`): production, several replicas.
    Postgres { url: SecretString },
}

impl DatabaseConfig {
    /// `postgres://…`, `postgresql://…` or `sqlite:PATH`; the error never repeats the URL (it
    /// may carry a password).
    pub fn from_url(url: &str) -> Result<DatabaseConfig, String> {
        let mut problems = Vec::new();
        let config = validate::database_from_url(url, &mut problems);
        match problems.first() {
            None => Ok(config),
            Some(p) => Err(format!("the database URL {}", p.message)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PolicyConfig {
    pub model: PathBuf,
    pub policy: PathBuf,
}

#[derive(Debug, Clone)]
pub struct PagerDutyConfig {
    pub api_base_url: reqwest::Url,
    pub timeout: Duration,
    /// A resolved incident still justifies an action this long after it was resolved.
    pub resolved_grace: Duration,
    /// PagerDuty requires a `From` header (a PagerDuty user's email) to write notes.
    pub from_email: Option<String>,
    pub cache_for: Duration,
}

#[derive(Debug, Clone)]
pub struct JiraConfig {
    pub base_url: reqwest::Url,
    pub allowed_projects: Vec<String>,
    /// Empty means: any issue type.
    pub allowed_issue_types: Vec<String>,
    /// Status names or status category names (`Done`) that count as approved.
    pub approved_statuses: Vec<String>,
    pub timeout: Duration,
    pub cache_for: Duration,
}

/// `[audit]`.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Unreviewed break-glass commands are brought up in the announce channel this long after
    /// they ran (once each).
    pub review_reminder_after: Duration,
    /// Where every event is streamed as syslog, if anywhere.
    pub syslog: Option<SyslogConfig>,
    /// Retention: events older than `online` move to archive files in `dir`; archives whose
    /// newest event is older than `total` are removed. `None`: everything stays online.
    pub retention: Option<Retention>,
    /// Where every event is posted as OCSF JSON, if anywhere (`SIEM_TOKEN` as bearer token).
    pub https: Option<reqwest::Url>,
    /// Which timestamp authority stamps the chain head, if any.
    pub timestamp: Option<TimestampConfig>,
}

/// `[audit.timestamp]`: an RFC 3161 timestamp authority over HTTP(S).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampConfig {
    pub url: reqwest::Url,
    /// The PEM root(s) the TSA's certificate must chain to.
    pub ca_file: PathBuf,
    /// How often the head is stamped when it moved (and once at shutdown).
    pub every: Duration,
}

/// `[audit] retain_online`, `retain_total`, `archive_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub online: Duration,
    pub total: Option<Duration>,
    pub dir: PathBuf,
}

/// `[audit.syslog]`: RFC 5424 messages over TCP with octet-counting framing (RFC 6587).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogConfig {
    /// `host:port` of the receiver.
    pub address: String,
    /// RFC 5424 APP-NAME (default `pitcrew`).
    pub app_name: String,
    /// RFC 5424 HOSTNAME (default: the `HOSTNAME` environment variable, a pod's name, else
    /// `pitcrew`), taken when the stream starts.
    pub hostname: Option<String>,
    /// RFC 5424 facility, 0–23 (default 13, log audit).
    pub facility: u8,
    /// TLS (RFC 5425), checking the receiver's certificate against `ca_file` (PEM), or the
    /// system's roots when there is none, for the address's host name.
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RolloutConfig {
    pub timeout: Duration,
    pub update_interval: Duration,
}

/// How pitcrew reaches one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterConnection {
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    /// The pod's ServiceAccount, when pitcrew runs inside the cluster it acts on.
    InCluster,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub cluster: ClusterName,
    pub namespaces: Vec<NamespaceName>,
    /// Protected environments need a verified justification and a confirmation.
    pub protected: bool,
    /// How many people other than the requester must approve.
    pub approvals: u8,
    /// Channels that may act on this environment; empty means any channel.
    pub channels: Vec<SlackChannelId>,
    /// Whether workloads managed by Argo CD or Flux may be changed here anyway.
    pub allow_gitops: bool,
    /// PagerDuty service ids whose incidents may justify actions here; empty means any.
    pub pagerduty_services: Vec<String>,
    /// Act as the requester's Kubernetes identity (impersonation), so the cluster's RBAC
    /// decides too.
    pub impersonate: bool,
    /// Kubernetes groups every impersonated request here carries.
    pub impersonate_groups: Vec<String>,
    /// The zone people here read times in (stored times are UTC).
    pub timezone: chrono_tz::Tz,
    /// Change freezes from the configuration (freezes set from chat are in the database).
    pub freezes: Vec<FreezeRule>,
    /// Who counts as an approver here (beyond holding `approve`).
    pub approvers: ApproverRules,
    /// Where its GitOps objects live, and how long `gitops suspend` may last.
    pub gitops: GitopsSettings,
}

/// `[environments.ENV.gitops]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitopsSettings {
    /// Where Argo CD Applications live (`argocd`), unless a command names `-n`.
    pub argocd_namespace: NamespaceName,
    /// Where Flux Kustomizations and HelmReleases live (`flux-system`), unless `-n`.
    pub flux_namespace: NamespaceName,
    /// The longest `gitops suspend --for` allowed here.
    pub max_suspend: Duration,
}

impl Default for GitopsSettings {
    fn default() -> Self {
        let ns = |n: &str| {
            NamespaceName::parse(n).unwrap_or_else(|_| unreachable!("constant namespace"))
        };
        GitopsSettings {
            argocd_namespace: ns("argocd"),
            flux_namespace: ns("flux-system"),
            max_suspend: Duration::from_secs(24 * 3600),
        }
    }
}

impl GitopsSettings {
    /// Where an object of `kind` lives when the command names no namespace.
    pub fn home(&self, kind: crate::command::Kind) -> &NamespaceName {
        match kind {
            crate::command::Kind::Application => &self.argocd_namespace,
            _ => &self.flux_namespace,
        }
    }

    /// Whether `-n NS` may name where a GitOps object lives (besides the environment's own
    /// namespaces, where HelmReleases often live).
    pub fn is_home(&self, ns: &NamespaceName) -> bool {
        *ns == self.argocd_namespace || *ns == self.flux_namespace
    }
}

/// `[environments.ENV.approvers]`. Empty: anyone holding `approve` (the requester never).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApproverRules {
    /// The approver holds one of these policy roles (`role:incident-commander`)…
    pub roles: Vec<String>,
    /// …or is a member of one of these Slack user groups (`S…` ids). Both empty: no such rule.
    pub slack_groups: Vec<String>,
    /// The approver is on call now for one of `escalation_policies` (PagerDuty, live).
    pub on_call: bool,
    /// PagerDuty escalation policy ids (`P…`) the on-call rules look at.
    pub escalation_policies: Vec<String>,
    /// A requester on call now at this escalation level or lower needs no approval.
    pub requester_on_call_level: Option<u32>,
}

impl ApproverRules {
    /// Whether anything beyond the policy's `approve` right is asked of approvers.
    pub fn restricts_approvers(&self) -> bool {
        !self.roles.is_empty() || !self.slack_groups.is_empty() || self.on_call
    }

    /// ` who holds role:a or is in Slack group S1, and is on call now`, or empty.
    pub fn describe(&self) -> String {
        let mut who: Vec<String> = self.roles.iter().map(|r| format!("holds {r}")).collect();
        who.extend(
            self.slack_groups
                .iter()
                .map(|g| format!("is in Slack group <!subteam^{g}>")),
        );
        let mut text = String::new();
        if !who.is_empty() {
            text = format!(" who {}", who.join(" or "));
        }
        if self.on_call {
            text.push_str(if who.is_empty() {
                " who is"
            } else {
                ", and is"
            });
            text.push_str(" on call now");
        }
        text
    }
}

/// A change freeze the configuration declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeRule {
    pub name: String,
    pub when: FreezeWhen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeWhen {
    /// One period, `from` (inclusive) to `until` (exclusive).
    Once {
        from: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    },
    /// Every occurrence of an RFC 5545 recurrence (its DTSTART's zone decides the wall-clock
    /// time, across daylight-saving changes), each lasting `duration`.
    Recurring {
        rule: Box<rrule::RRuleSet>,
        duration: chrono::Duration,
        /// The recurrence as written (normalised lines), for messages.
        text: String,
    },
}

impl Config {
    /// Loads and validates `path`, reading secrets through `env` (use [`process_env`]).
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let text = read_file(path)?;
        Self::from_text(path, &text, env)
    }

    /// Like [`Config::load`] for text already in memory; `path` is used in messages and to
    /// resolve relative paths.
    pub fn from_text(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        validate::load(path, text, env)
    }

    /// Loads `path` for the tools that need only part of it (`audit *`, `policy lint|check`,
    /// `manifest`): every problem counts except missing secrets (tokens the tool does not use)
    /// and kubeconfig files that are not there (a reviewer's laptop, a policy repository's CI).
    pub fn load_for_tools(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let text = read_file(path)?;
        validate::load_keeping(path, &text, env, &|p| match &p.place {
            // A secret set twice or unreadable is still a mistake; one not set is not needed.
            Place::Environment { .. } => !p.message.starts_with("is not set"),
            Place::File { key, .. } => {
                !(key.starts_with("clusters.") && p.message.contains("does not exist"))
            }
        })
    }

    /// Problems that only matter for `pitcrew serve` (the Slack secrets its mode needs).
    pub fn problems_for_serving(&self) -> Vec<Problem> {
        validate::serving_problems(self)
    }
}

/// The configuration file's text, or the problem that says why it cannot be read.
fn read_file(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![Problem {
            place: Place::File {
                path: path.to_path_buf(),
                line: None,
                key: String::new(),
            },
            message: format!("cannot read the configuration file: {e}"),
        }])
    })
}

/// Reads the process environment: the `env` argument of [`Config::load`] in production.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
