//! The command line, as clap parses it: every subcommand and its arguments.

use super::*;

#[derive(Debug, Parser)]
#[command(
    name = "pitcrew",
    version,
    about = "Incident-response ChatOps for Kubernetes: policy-checked, justified, audited restarts, rollbacks and promotions",
    propagate_version = true
)]
pub struct Cli {
    /// Log format on stderr: `human` for people, `json` for log collectors; `auto` picks
    /// human on a terminal and JSON otherwise. The level comes from PITCREW_LOG (default info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto, env = "PITCREW_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(
        long,
        short = 'c',
        env = "PITCREW_CONFIG",
        default_value = "config/pitcrew.toml"
    )]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Slack (HTTP endpoints or Socket Mode), health and metrics.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Address to listen on (overrides [server].listen).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run one command through the whole pipeline from a terminal, as a chat user would.
    Exec {
        #[command(flatten)]
        config: ConfigArg,
        /// The Slack user id to act as (policy subject).
        #[arg(long = "as", value_name = "USER_ID")]
        as_user: String,
        /// The Slack channel id the command is typed in.
        #[arg(long)]
        channel: Option<String>,
        /// Answer "yes" to the confirmation.
        #[arg(long)]
        yes: bool,
        /// The command text, e.g. `restart deploy/checkout -e prod --reason INC-1`.
        #[arg(last = true, required = true)]
        text: Vec<String>,
    },
    /// A terminal client that plays Slack against a running pitcrew.
    Chat {
        #[arg(long = "as", value_name = "USER_ID")]
        as_user: String,
        #[arg(long)]
        channel: String,
        /// pitcrew's address (`pitcrew serve`).
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        server: String,
        /// Where to receive what pitcrew sends to Slack; pitcrew's `[slack].api_base_url`
        /// must be `http://ADDR/api/`.
        #[arg(long, default_value = "127.0.0.1:3091")]
        slack_listen: std::net::SocketAddr,
        /// The workspace (team) id to send as.
        #[arg(long, default_value = "T0LOCAL")]
        team: String,
        /// Run a scripted conversation non-interactively.
        #[arg(long)]
        script: Option<PathBuf>,
    },
    /// Parse command text and print the typed command (exit 0) or the error (exit 2).
    /// Without --json it prints the canonical text: what pitcrew understood.
    Parse {
        /// Print the typed command as JSON (on refusal: {"error", "kind"} on stdout too).
        #[arg(long)]
        json: bool,
        #[arg(last = true, required = true)]
        text: Vec<String>,
    },
    /// Check and lint the Casbin policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Query, show, export, verify and archive the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Whom a Slack user acts as in Kubernetes (environments with `impersonate = true`).
    Identity {
        #[command(flatten)]
        config: ConfigArg,
        /// The Slack user id (U…/W…).
        user: String,
        /// Only this environment.
        #[arg(long = "env", short = 'e')]
        env: Option<String>,
    },
    /// Approve a pending action from the terminal.
    Approve {
        #[command(flatten)]
        config: ConfigArg,
        /// The approval id shown in the request.
        id: String,
        #[arg(long = "as", value_name = "USER_ID")]
        as_user: String,
    },
    /// Apply database migrations (also done automatically at start).
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the Slack app manifest (JSON) to create pitcrew's app in a workspace.
    Manifest {
        #[command(flatten)]
        config: ConfigArg,
        /// pitcrew's public HTTPS address, e.g. https://pitcrew.example.com (HTTP mode).
        #[arg(long)]
        url: Option<String>,
    },
    /// Validate the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// A configuration a tool can do without: `--config` (or PITCREW_CONFIG), else
/// config/pitcrew.toml when it exists, else none.
#[derive(Debug, Args, Clone, Default)]
pub struct OptionalConfigArg {
    /// The configuration file (read for the tools: no secrets or kubeconfigs needed).
    #[arg(long, short = 'c', env = "PITCREW_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Explain the decision for one request (exit 0 allowed, 3 denied), with the matching rule.
    /// Without a configuration, give --policy, --model and --namespace (and --cluster, else
    /// `*`); the environment's channel restriction is then not applied.
    Check {
        #[command(flatten)]
        config: OptionalConfigArg,
        /// The policy file (default: the configuration's).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The model file (default: the configuration's).
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// The cluster, without a configuration (default `*`).
        #[arg(long)]
        cluster: Option<String>,
        /// The Slack user id asking (U…/W…).
        #[arg(long = "as", value_name = "USER_ID")]
        as_user: String,
        /// The channel id the command comes from; omit for "outside any channel".
        #[arg(long)]
        channel: Option<String>,
        /// restart, rollback, promote, status, history, audit, approve or break-glass.
        #[arg(long)]
        action: String,
        #[arg(long)]
        env: String,
        /// May be omitted when the environment has one namespace.
        #[arg(long)]
        namespace: Option<String>,
        /// The workload, `KIND/NAME` (a bare NAME is a Deployment).
        #[arg(long, value_name = "KIND/NAME")]
        target: String,
        /// Print {"allowed", "rule", "request", "explanation"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find syntax errors, unknown actions, rules that can never match and rules shadowed by
    /// a deny, with line numbers (exit 0 clean, 1 findings).
    /// Without a configuration, give --policy (and --model to check the model too); with one,
    /// rules are also checked against its environments.
    Lint {
        #[command(flatten)]
        config: OptionalConfigArg,
        /// Lint this policy file instead of the configured one (e.g. a change under review).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Check this model file instead of the configured one.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
    },
    /// Load the policy and follow it as a server does: print one line per reload or refused
    /// reload (file changes, SIGHUP) until interrupted. For checking a policy rollout.
    Watch {
        #[command(flatten)]
        config: ConfigArg,
        /// How often to look at the files.
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        interval: std::time::Duration,
    },
}

/// Where the audit trail is, for the tools that only read (or archive) it: no Slack,
/// PagerDuty or Jira secrets and no kubeconfig are needed.
#[derive(Debug, Args, Clone, Default)]
pub struct TrailArg {
    /// A configuration file: its [database] section (and DATABASE_URL) say where the trail is.
    /// Default: config/pitcrew.toml when it exists.
    #[arg(long, short = 'c', env = "PITCREW_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database itself: `sqlite:PATH` or `postgres://USER@HOST/DB`. A URL with a password
    /// is refused here (the process list shows arguments): put it in DATABASE_URL or
    /// DATABASE_URL_FILE instead.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Query events with filters.
    Query {
        #[command(flatten)]
        trail: TrailArg,
        #[command(flatten)]
        filter: Box<AuditFilterArgs>,
        /// `table` for people; `json`, `jsonl`, `csv` for tools.
        #[arg(long, value_enum, default_value = "table")]
        format: crate::audit::render::Format,
    },
    /// Print one command's whole story (every event of its correlation id).
    Show {
        #[command(flatten)]
        trail: TrailArg,
        /// A correlation id, or an event id (its command's story is shown).
        id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::audit::render::Format,
    },
    /// Write events to a file an auditor can keep, with the chain head and the result of
    /// verifying the whole chain at export time.
    Export {
        #[command(flatten)]
        trail: TrailArg,
        /// From: a duration back from now or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Until (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// The file to write (default: pitcrew-audit-<time>.json in the current directory).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Review a break-glass command after the fact (policy right `review`; not the person who
    /// ran it), recorded in its story; without an id, list the break-glass commands nobody
    /// reviewed yet, oldest first, with their age.
    Review {
        #[command(flatten)]
        trail: TrailArg,
        /// The break-glass command: a correlation id, or any of its event ids.
        id: Option<String>,
        /// The reviewer's Slack user id.
        #[arg(long = "as", value_name = "USER_ID")]
        as_user: Option<String>,
        /// What the review found (the follow-up incident or ticket, what was learned).
        #[arg(long)]
        note: Option<String>,
    },
    /// The change report for a period: every command that changed something (who asked, the
    /// justification as verified, who confirmed and approved, what changed, how it ended,
    /// break-glass and its review), the refused attempts and the unreviewed break-glass
    /// changes, with the chain verified and its head in the footer. Exit 1 if the chain is
    /// broken.
    Report {
        #[command(flatten)]
        trail: TrailArg,
        /// Start of the period: a date (`2026-07-01`, midnight UTC), an RFC 3339 time, or a
        /// duration back from now (`7d`).
        #[arg(long)]
        from: String,
        /// End of the period (exclusive), in the same forms.
        #[arg(long)]
        to: String,
        /// Only this environment.
        #[arg(long, short = 'e')]
        env: Option<String>,
        /// `html` (one self-contained page), `csv` or `json` (the same fields).
        #[arg(long, value_enum, default_value = "html")]
        format: super::report::ReportFormat,
        /// The file to write (default: standard output).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// The timestamp authority's root certificate(s), PEM, to check the trail's anchors
        /// against (default: the configuration's [audit.timestamp] ca_file).
        #[arg(long, value_name = "FILE")]
        tsa_ca: Option<PathBuf>,
    },
    /// Every revision of an environment's workloads (ReplicaSets, ControllerRevisions) made in
    /// the period that no pitcrew command made, with what the cluster says about who did.
    /// Exit 0 when there is none (the evidence), 1 listing them. Needs the cluster and the
    /// trail, no Slack/PagerDuty/Jira secret.
    Drift {
        /// The configuration (its clusters, environments and database).
        #[arg(long, short = 'c', env = "PITCREW_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, short = 'e')]
        env: String,
        /// A duration back from now (`7d`) or an RFC 3339 time.
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long, value_enum, default_value = "table")]
        format: super::drift::DriftFormat,
    },
    /// Have the chain head stamped by [audit.timestamp]'s timestamp authority now (serve does
    /// it every `every`); exit 1 when it could not be.
    Anchor {
        #[command(flatten)]
        trail: TrailArg,
    },
    /// Walk the hash chain; exit 0 when intact, 1 naming the first bad event.
    Verify {
        #[command(flatten)]
        trail: TrailArg,
        /// Check an archive file on its own instead (every hash, every link; no database).
        #[arg(long, value_name = "FILE")]
        archive: Option<PathBuf>,
        /// The timestamp authority's root certificate(s), PEM, to check the stored anchors
        /// against (default: the configuration's [audit.timestamp] ca_file).
        #[arg(long, value_name = "FILE")]
        tsa_ca: Option<PathBuf>,
    },
    /// Export, then remove events older than a date, keeping the chain verifiable (an archive
    /// boundary event records what was removed). Without --yes it only exports and says what
    /// it would remove.
    Archive {
        #[command(flatten)]
        trail: TrailArg,
        /// A date (`2026-01-01`), an RFC 3339 time, or a duration back from now (`400d`).
        #[arg(long)]
        before: String,
        /// The export file to write (default: pitcrew-audit-archive-through-<id>.json).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Remove the exported events (after the export is written).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct AuditFilterArgs {
    /// From: a duration back from now (`24h`, `7d`) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Until (exclusive): a duration back from now or an RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Slack user id.
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub namespace: Option<String>,
    /// KIND/NAME or a Deployment name.
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    /// A phase: requested, denied, approved, started, succeeded, unchanged, failed, interrupted, cancelled, pending, approval.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Only the commands this Slack user approved (every event of each).
    #[arg(long)]
    pub approver: Option<String>,
    /// An incident or ticket id (`CHG-123`, `Q1ABC…`).
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub correlation: Option<String>,
    #[arg(long)]
    pub limit: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file and the secrets it needs; print every problem with
    /// its place and exit 2 when there is any.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Check for terminal use only (`pitcrew exec`): do not require the Slack secrets.
        #[arg(long)]
        without_slack: bool,
    },
}
