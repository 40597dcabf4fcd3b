//! Command-line interface: `pitcrew <subcommand>`. Parsing with clap, then one function per
//! subcommand. Subcommands that later work fills in exist already with their final arguments,
//! and answer that they are not built yet (exit 69) rather than pretending.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod policy;

use crate::config::{self, Config, DatabaseConfig};
use crate::db::Database;
use crate::telemetry::{self, LogFormat};
use crate::{Error, Result};

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

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Explain the decision for one request (exit 0 allowed, 3 denied), with the matching rule.
    Check {
        #[command(flatten)]
        config: ConfigArg,
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
    Lint {
        #[command(flatten)]
        config: ConfigArg,
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

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Query events with filters.
    Query {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        filter: Box<AuditFilterArgs>,
        /// `table` for people; `json`, `jsonl`, `csv` for tools.
        #[arg(long, value_enum, default_value = "table")]
        format: crate::audit::render::Format,
    },
    /// Print one command's whole story (every event of its correlation id).
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// A correlation id, or an event id (its command's story is shown).
        id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::audit::render::Format,
    },
    /// Write events to a file an auditor can keep, with the chain head and the result of
    /// verifying the whole chain at export time.
    Export {
        #[command(flatten)]
        config: ConfigArg,
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
    /// Walk the hash chain; exit 0 when intact, 1 naming the first bad event.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Export, then remove events older than a date, keeping the chain verifiable (an archive
    /// boundary event records what was removed). Without --yes it only exports and says what
    /// it would remove.
    Archive {
        #[command(flatten)]
        config: ConfigArg,
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
    /// A phase: requested, denied, approved, started, succeeded, unchanged, failed, interrupted, cancelled, pending.
    #[arg(long)]
    pub outcome: Option<String>,
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

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::install_crypto_provider();
    telemetry::init(cli.log_format);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!(error.kind = e.metric_label(), "command failed");
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Config(ConfigCommand::Check {
            config,
            without_slack,
        }) => Ok(config_check(&config.config, without_slack)),
        Command::Migrate { config } => {
            let config = load(&config.config)?;
            runtime()?.block_on(migrate(&config.database))
        }
        Command::Serve { config, listen } => {
            let config = load(&config.config)?;
            let listen = listen.unwrap_or(config.server.listen);
            let _replica = crate::serve::preflight(&config)?;
            runtime()?.block_on(async move {
                let ctx = crate::workflow::Context::new(config).await?;
                crate::serve::serve(ctx, listen).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Exec {
            config,
            as_user,
            channel,
            yes,
            text,
        } => {
            let config = load(&config.config)?;
            runtime()?.block_on(exec(
                config,
                &as_user,
                channel.as_deref(),
                yes,
                &text.join(" "),
            ))
        }
        Command::Chat {
            as_user,
            channel,
            server,
            slack_listen,
            team,
            script,
        } => {
            let secret = crate::config::Secrets::read(&crate::config::process_env)
                .0
                .slack_signing_secret
                .ok_or_else(|| {
                    Error::Usage(
                        "SLACK_SIGNING_SECRET must be set to the same value pitcrew serve uses: the chat client signs requests with it".into(),
                    )
                })?;
            let script = script
                .map(|p| {
                    std::fs::read_to_string(&p).map_err(|e| {
                        Error::Usage(format!("cannot read the script {}: {e}", p.display()))
                    })
                })
                .transpose()?;
            use secrecy::ExposeSecret;
            let options = crate::chat::client::ChatOptions {
                user: as_user,
                channel,
                team,
                server,
                listen: slack_listen,
                secret: secret.expose_secret().to_string(),
                script,
            };
            runtime()?.block_on(crate::chat::client::run(options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse { json, text } => Ok(parse_command(&text.join(" "), json)),
        Command::Policy(PolicyCommand::Check {
            config,
            as_user,
            channel,
            action,
            env,
            namespace,
            target,
            json,
        }) => {
            let config = load(&config.config)?;
            policy::check(
                &config,
                &policy::CheckArgs {
                    user: &as_user,
                    channel: channel.as_deref(),
                    action: &action,
                    env: &env,
                    namespace: namespace.as_deref(),
                    target: &target,
                },
                json,
            )
        }
        Command::Policy(PolicyCommand::Lint {
            config,
            policy: file,
            model,
        }) => {
            let config = load(&config.config)?;
            Ok(policy::lint(&config, file, model))
        }
        Command::Policy(PolicyCommand::Watch { config, interval }) => {
            let config = load(&config.config)?;
            runtime()?.block_on(policy::watch(&config, interval))
        }
        Command::Audit(AuditCommand::Query {
            config,
            filter,
            format,
        }) => {
            let config = load(&config.config)?;
            let filter = audit_filter(&filter)?;
            runtime()?.block_on(audit_query(&config, &filter, format))
        }
        Command::Audit(AuditCommand::Show { config, id, format }) => {
            let config = load(&config.config)?;
            runtime()?.block_on(audit_show(&config, &id, format))
        }
        Command::Audit(AuditCommand::Export {
            config,
            since,
            until,
            output,
        }) => {
            let config = load(&config.config)?;
            let filter = audit_filter(&AuditFilterArgs {
                since,
                until,
                ..AuditFilterArgs::default()
            })?;
            runtime()?.block_on(audit_export(&config, &filter, output))
        }
        Command::Audit(AuditCommand::Verify { config }) => {
            let config = load(&config.config)?;
            runtime()?.block_on(audit_verify(&config))
        }
        Command::Audit(AuditCommand::Archive {
            config,
            before,
            output,
            yes,
        }) => {
            let config = load(&config.config)?;
            let before = if before.len() == 10 && before.as_bytes().get(4) == Some(&b'-') {
                format!("{before}T00:00:00Z")
            } else {
                before
            };
            let before = audit_time("--before", &before)?;
            runtime()?.block_on(audit_archive(&config, &before, output, yes))
        }
        Command::Approve {
            config,
            id,
            as_user,
        } => {
            let config = load(&config.config)?;
            runtime()?.block_on(async move {
                let Ok(user) = crate::names::SlackUserId::parse(&as_user) else {
                    return Err(Error::Usage(format!(
                        "--as: `{as_user}` is not a Slack user id (U…/W…)"
                    )));
                };
                let ctx = crate::workflow::Context::new(config).await?;
                let outcome = crate::workflow::approve(&ctx, &id, &user, None, &print_event).await;
                let code = print_outcome(&outcome);
                let _ = ctx.deliver_outbox().await;
                Ok(code)
            })
        }
        Command::Manifest { config, url } => {
            let config = load(&config.config)?;
            let manifest = crate::chat::manifest::manifest(config.server.mode, url.as_deref())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&manifest)
                    .map_err(|e| Error::Usage(format!("cannot print the manifest: {e}")))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `pitcrew parse`: the typed command (exit 0) or the refusal a chat user would see (exit 2).
fn parse_command(text: &str, json: bool) -> ExitCode {
    match crate::command::parse(text) {
        Ok(cmd) if json => match serde_json::to_string_pretty(&cmd) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot print the command as JSON: {e}");
                ExitCode::from(1)
            }
        },
        Ok(cmd) => {
            println!("{cmd}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            if json {
                let out = serde_json::json!({"error": e.to_string(), "kind": e.metric_label()});
                println!("{out}");
            }
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn load(path: &Path) -> Result<Config> {
    let config = Config::load(path, &config::process_env)?;
    tracing::debug!(?config, "configuration loaded");
    Ok(config)
}

/// `pitcrew config check`: every problem on its own line on stdout, then a count.
fn config_check(path: &Path, without_slack: bool) -> ExitCode {
    let mut problems = Vec::new();
    let config = match Config::load(path, &config::process_env) {
        Ok(c) => Some(c),
        Err(errors) => {
            problems = errors.0;
            None
        }
    };
    if let (Some(c), false) = (&config, without_slack) {
        problems.extend(c.problems_for_serving());
    }
    if !problems.is_empty() {
        for p in &problems {
            println!("{p}");
        }
        let n = problems.len();
        println!(
            "{n} problem{} found; nothing was changed.",
            if n == 1 { "" } else { "s" }
        );
        return ExitCode::from(2);
    }
    let Some(c) = config else {
        return ExitCode::from(2);
    };
    tracing::debug!(config = ?c, "configuration checked");
    println!("{}: OK", path.display());
    println!("  database: {}", describe_database(&c.database));
    println!(
        "  policy: {} + {}",
        c.policy.model.display(),
        c.policy.policy.display()
    );
    for (name, conn) in &c.clusters {
        let how = match conn {
            config::ClusterConnection::Kubeconfig { path, context } => format!(
                "kubeconfig {}{}",
                path.display(),
                context
                    .as_ref()
                    .map(|c| format!(" (context {c})"))
                    .unwrap_or_default()
            ),
            config::ClusterConnection::InCluster => "in-cluster service account".into(),
        };
        println!("  cluster {name}: {how}");
    }
    for (name, env) in &c.environments {
        let ns: Vec<&str> = env.namespaces.iter().map(|n| n.as_str()).collect();
        println!(
            "  environment {name}: cluster {}, namespaces {}{}{}",
            env.cluster,
            ns.join(", "),
            if env.protected { ", protected" } else { "" },
            match env.approvals {
                0 => String::new(),
                1 => ", 1 approval".into(),
                n => format!(", {n} approvals"),
            }
        );
    }
    ExitCode::SUCCESS
}

fn describe_database(db: &DatabaseConfig) -> String {
    match db {
        DatabaseConfig::Sqlite { path } => format!("SQLite file {}", path.display()),
        DatabaseConfig::Postgres { .. } => "PostgreSQL from DATABASE_URL".into(),
    }
}

/// `pitcrew exec`: one command through the whole pipeline, printing what a chat user would see.
async fn exec(
    config: Config,
    as_user: &str,
    channel: Option<&str>,
    yes: bool,
    text: &str,
) -> Result<ExitCode> {
    use crate::names::{SlackChannelId, SlackUserId};
    use crate::workflow::{self, Outcome, Request};
    let actor = match SlackUserId::parse(as_user) {
        Ok(a) => a,
        Err(e) => {
            return Ok(print_outcome(&Outcome::BadInput {
                message: format!("--as: {e}"),
            }));
        }
    };
    let channel = match channel.map(SlackChannelId::parse).transpose() {
        Ok(c) => c,
        Err(e) => {
            return Ok(print_outcome(&Outcome::BadInput {
                message: format!("--channel: {e}"),
            }));
        }
    };
    let ctx = match workflow::Context::new(config).await {
        Ok(c) => c,
        Err(e) => {
            return Ok(print_outcome(&Outcome::Unavailable {
                message: e.to_string(),
            }));
        }
    };
    let request = Request {
        actor,
        channel,
        text: text.to_string(),
        confirmed: yes,
        approval: None,
        actor_name: None,
        team: None,
    };
    // Close what an earlier, interrupted pitcrew left open, before anything new runs.
    match workflow::reconcile(&ctx).await {
        Ok(closed) => {
            for r in closed {
                println!(
                    "! closed an interrupted command as `interrupted`: {} — found: {}",
                    r.command_text, r.found
                );
            }
        }
        Err(e) => {
            return Ok(print_outcome(&Outcome::Unavailable {
                message: format!(
                    "cannot reconcile interrupted commands in the audit trail ({e}); nothing was done"
                ),
            }));
        }
    }
    // Ctrl-C stops following the rollout (the change itself is already made) and says so.
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.send_replace(true);
        }
    });
    let report = print_event;
    let outcome = workflow::run(&ctx, &request, &report).await;
    let code = print_outcome(&outcome);
    // Deliver the write-back now (a server does this continuously); what fails stays queued.
    if let Some(delivered) = ctx.deliver_outbox().await {
        match delivered {
            Ok(round) if round.delivered + round.found_posted > 0 => println!(
                "✓ delivered {} queued message{} (write-back to the incident/issue, announcements)",
                round.delivered + round.found_posted,
                if round.delivered + round.found_posted == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            Ok(round) if round.failed > 0 => println!(
                "! could not deliver {} queued message{} (write-back, announcements) yet; they stay queued and are retried",
                round.failed,
                if round.failed == 1 { "" } else { "s" }
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the write-back outbox"),
        }
    }
    Ok(code)
}

/// One line per workflow event, as a chat user would see it.
fn print_event(event: crate::workflow::Event) {
    use crate::workflow::{self, Event};
    let line = match event {
        Event::Understood { canonical } => format!("» {canonical}"),
        Event::Authorized { explanation } => format!("✓ allowed: {explanation}"),
        Event::Justification { verification } => match verification {
            workflow::gates::Verification::Verified { summary, .. } => {
                format!("✓ justified: {summary}")
            }
            workflow::gates::Verification::Unverified { reason } => format!("• {reason}"),
            workflow::gates::Verification::Refused { message } => format!("✗ {message}"),
            workflow::gates::Verification::BreakGlass { text, .. } => format!(
                "‼ BREAK-GLASS: \"{text}\" — no incident or ticket checked; this is announced and audited for follow-up"
            ),
        },
        Event::Planned { change } => format!("→ {}", workflow::describe(&change)),
        Event::Progress { state } => format!(
            "… {} ({}/{} updated, {} ready, {} available)",
            state.message, state.updated, state.desired, state.ready, state.available
        ),
    };
    println!("{line}");
}

fn print_outcome(outcome: &crate::workflow::Outcome) -> ExitCode {
    use crate::workflow::Outcome;
    let code = outcome.exit_code();
    match outcome {
        Outcome::Done { message } => println!("{message}"),
        Outcome::ActionFailed { message } => println!("✗ failed: {message}"),
        Outcome::BadInput { message } => println!("✗ {message}"),
        Outcome::Refused { message } => println!("✗ refused: {message}"),
        Outcome::Unjustified { message } => println!("✗ not justified: {message}"),
        Outcome::Unavailable { message } => println!("✗ unavailable: {message}"),
        Outcome::NeedsConfirmation { message, .. } => println!("? {message}"),
    }
    ExitCode::from(code)
}

async fn audit_store(config: &Config) -> Result<crate::audit::AuditStore> {
    let db = Database::connect(&config.database).await?;
    db.migrate().await?;
    Ok(crate::audit::AuditStore::new(db))
}

/// `--since`/`--until`: a duration back from now or an RFC 3339 time, as stored (UTC, ms).
fn audit_time(flag: &str, value: &str) -> Result<String> {
    use chrono::{DateTime, SecondsFormat, Utc};
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        t.with_timezone(&Utc)
    } else {
        let d = humantime::parse_duration(value).map_err(|_| {
            Error::Usage(format!(
                "{flag} `{value}` is neither a duration (`24h`, `7d`) nor an RFC 3339 time (`2026-11-23T09:00:00Z`)"
            ))
        })?;
        let d = chrono::Duration::from_std(d)
            .map_err(|_| Error::Usage(format!("{flag} `{value}` is too long ago")))?;
        Utc::now() - d
    };
    Ok(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn audit_filter(a: &AuditFilterArgs) -> Result<crate::audit::Filter> {
    let (kind, name) = match &a.target {
        Some(t) => {
            let t = crate::command::Target::parse(t)
                .map_err(|e| Error::Usage(format!("--target: {e}")))?;
            (Some(t.kind.to_string()), Some(t.name.to_string()))
        }
        None => (None, None),
    };
    Ok(crate::audit::Filter {
        since: a
            .since
            .as_deref()
            .map(|v| audit_time("--since", v))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|v| audit_time("--until", v))
            .transpose()?,
        actor: a
            .actor
            .clone()
            .map(|a| a.trim_start_matches('@').to_string()),
        env: a.env.clone(),
        cluster: a.cluster.clone(),
        namespace: a.namespace.clone(),
        kind,
        name,
        action: a.action.clone(),
        phase: a.outcome.clone(),
        // Incident ids and issue keys are stored upper-case; break-glass uses are stored as
        // the word `break-glass`, so that `--reason break-glass` lists them for follow-up.
        reason: a.reason.clone().map(|r| {
            if r.eq_ignore_ascii_case("break-glass") {
                "break-glass".to_string()
            } else {
                r.to_uppercase()
            }
        }),
        correlation: a.correlation.clone(),
        through_id: None,
        limit: a.limit,
    })
}

async fn audit_query(
    config: &Config,
    filter: &crate::audit::Filter,
    format: crate::audit::render::Format,
) -> Result<ExitCode> {
    let store = audit_store(config).await?;
    let records = store.query(filter).await?;
    print!("{}", crate::audit::render::render(&records, format));
    Ok(ExitCode::SUCCESS)
}

async fn audit_show(
    config: &Config,
    id: &str,
    format: crate::audit::render::Format,
) -> Result<ExitCode> {
    let store = audit_store(config).await?;
    let correlation = match id.parse::<i64>() {
        Ok(event_id) => match store.event(event_id).await? {
            Some(r) => r.correlation,
            None => return Err(Error::Usage(format!("there is no audit event {event_id}"))),
        },
        Err(_) => id.to_string(),
    };
    let story = store
        .query(&crate::audit::Filter {
            correlation: Some(correlation.clone()),
            ..crate::audit::Filter::default()
        })
        .await?;
    if story.is_empty() {
        return Err(Error::Usage(format!("no audit events for `{id}`")));
    }
    print!("{}", crate::audit::render::render(&story, format));
    Ok(ExitCode::SUCCESS)
}

/// `pitcrew audit export`: the events in the period, with the chain head and the verification
/// of the whole chain, in one JSON file. Each event keeps its `prev_hash` and `hash`, so the
/// file itself shows that its events are a contiguous piece of the chain.
async fn audit_export(
    config: &Config,
    filter: &crate::audit::Filter,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let store = audit_store(config).await?;
    let report = store.verify().await?;
    let events = store.query(filter).await?;
    let now = chrono::Utc::now();
    let path = output.unwrap_or_else(|| {
        PathBuf::from(format!(
            "pitcrew-audit-{}.json",
            now.format("%Y%m%dT%H%M%SZ")
        ))
    });
    let document = serde_json::json!({
        "format": "pitcrew-audit-export-v1",
        "exported_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "period": {"since": filter.since, "until": filter.until},
        "hash": "SHA-256 over the canonical encoding in docs/audit.md",
        "chain": {"events": report.events, "head": report.head, "intact": report.first_problem.is_none(), "first_problem": report.first_problem},
        "events": events,
    });
    write_json_file(&path, &document)?;
    println!(
        "wrote {} events to {} (chain of {} events, head {}{})",
        events.len(),
        path.display(),
        report.events,
        report.head,
        if report.first_problem.is_some() {
            ", CHAIN BROKEN: see the file"
        } else {
            ", intact"
        }
    );
    Ok(if report.first_problem.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `pitcrew audit archive`: verify, export the old events, then (with --yes) remove them
/// behind a boundary event, and verify again.
async fn audit_archive(
    config: &Config,
    before: &str,
    output: Option<PathBuf>,
    yes: bool,
) -> Result<ExitCode> {
    use sha2::Digest;
    let store = audit_store(config).await?;
    let report = store.verify().await?;
    if let Some(p) = &report.first_problem {
        println!(
            "refusing to archive: the audit trail is broken at event {} ({}); nothing was changed",
            p.id, p.what
        );
        return Ok(ExitCode::from(1));
    }
    let Some(through) = store.last_id_before(before).await? else {
        println!("no audit event is older than {before}; nothing was changed");
        return Ok(ExitCode::SUCCESS);
    };
    let events = store
        .query(&crate::audit::Filter {
            through_id: Some(through),
            ..crate::audit::Filter::default()
        })
        .await?;
    let removed_head = events.last().map(|e| e.hash.clone()).unwrap_or_default();
    let path = output
        .unwrap_or_else(|| PathBuf::from(format!("pitcrew-audit-archive-through-{through}.json")));
    let document = serde_json::json!({
        "format": "pitcrew-audit-export-v1",
        "exported_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "archive": {"before": before, "through_id": through, "removed_head_hash": removed_head},
        "chain": {"events": report.events, "head": report.head, "intact": true},
        "events": events,
    });
    let text = write_json_file(&path, &document)?;
    let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    println!(
        "exported {} events (ids up to {through}, older than {before}) to {} (sha256 {digest})",
        events.len(),
        path.display()
    );
    if !yes {
        println!(
            "nothing was removed; keep the export, then run again with --yes to remove these {} events",
            events.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let boundary = store
        .archive_through(
            through,
            "pitcrew-cli",
            &format!("audit archive --before {before}"),
            serde_json::json!({"file": path.display().to_string(), "sha256": digest, "events": events.len()}),
        )
        .await?;
    let after = store.verify().await?;
    println!(
        "removed {} events behind archive boundary event {}; the remaining chain of {} events {}",
        events.len(),
        boundary.id,
        after.events,
        if after.first_problem.is_none() {
            "verifies"
        } else {
            "DOES NOT VERIFY"
        }
    );
    Ok(if after.first_problem.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes `document` as pretty JSON to `path` and returns the text written (for its digest).
fn write_json_file(path: &Path, document: &serde_json::Value) -> Result<String> {
    let text = serde_json::to_string_pretty(document)
        .map_err(|e| Error::Usage(format!("cannot encode the export: {e}")))?
        + "\n";
    std::fs::write(path, &text)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(text)
}

async fn audit_verify(config: &Config) -> Result<ExitCode> {
    let store = audit_store(config).await?;
    let report = store.verify().await?;
    match &report.first_problem {
        None => {
            let archived = report
                .archived_through
                .map(|id| format!(" (events up to {id} archived behind a boundary event)"))
                .unwrap_or_default();
            println!(
                "audit trail intact: {} events, chain head {}{archived}",
                report.events, report.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(p) => {
            println!(
                "audit trail BROKEN at event {}: {} ({} events before it verify; their head is {})",
                p.id, p.what, report.events, report.head
            );
            Ok(ExitCode::from(1))
        }
    }
}

async fn migrate(db: &DatabaseConfig) -> Result<ExitCode> {
    let database = Database::connect(db).await?;
    let applied = database.migrate().await?;
    let total = database.applied_migrations().await?;
    println!(
        "{} database {}: {applied} migration{} applied now, {total} in all; schema is up to date",
        database.backend().as_str(),
        database.location(),
        if applied == 1 { "" } else { "s" }
    );
    database.close().await;
    Ok(ExitCode::SUCCESS)
}
