//! Command-line interface: `pitcrew <subcommand>`. Parsing with clap (`args.rs`), then one
//! function per subcommand: `exec.rs` (a command through the pipeline), `audit.rs` (reading
//! the trail), `config_check.rs`, `policy.rs` (`policy check|lint`); the small ones here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod anchor;
mod args;
mod audit;
mod config_check;
mod drift;
mod exec;
mod identity;
mod policy;
mod report;
mod review;

use crate::config::{self, Config, DatabaseConfig};
use crate::db::Database;
use crate::telemetry::{self, LogFormat};
use crate::{Error, Result};

pub use args::*;
use audit::*;
use config_check::*;
use drift::*;
use exec::*;
use report::*;
use review::*;

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
            policy: policy_file,
            model,
            cluster,
            as_user,
            channel,
            action,
            env,
            namespace,
            target,
            json,
        }) => {
            let config = tool_config(&config)?;
            policy::check(
                config.as_ref(),
                &policy::CheckArgs {
                    user: &as_user,
                    channel: channel.as_deref(),
                    action: &action,
                    env: &env,
                    namespace: namespace.as_deref(),
                    target: &target,
                    cluster: cluster.as_deref(),
                    policy: policy_file,
                    model,
                },
                json,
            )
        }
        Command::Policy(PolicyCommand::Lint {
            config,
            policy: file,
            model,
        }) => {
            let config = tool_config(&config)?;
            policy::lint(config.as_ref(), file, model)
        }
        Command::Policy(PolicyCommand::Watch { config, interval }) => {
            let config = load(&config.config)?;
            runtime()?.block_on(policy::watch(&config, interval))
        }
        Command::Audit(AuditCommand::Query {
            trail,
            filter,
            format,
        }) => {
            let filter = audit_filter(&filter)?;
            runtime()?.block_on(audit_query(&trail_database(&trail)?, &filter, format))
        }
        Command::Audit(AuditCommand::Show { trail, id, format }) => {
            runtime()?.block_on(audit_show(&trail_database(&trail)?, &id, format))
        }
        Command::Audit(AuditCommand::Export {
            trail,
            since,
            until,
            output,
        }) => {
            let filter = audit_filter(&AuditFilterArgs {
                since,
                until,
                ..AuditFilterArgs::default()
            })?;
            runtime()?.block_on(audit_export(&trail_database(&trail)?, &filter, output))
        }
        Command::Audit(AuditCommand::Review {
            trail,
            id,
            as_user,
            note,
        }) => {
            let database = trail_database(&trail)?;
            match id {
                None => runtime()?.block_on(audit_unreviewed(&database)),
                Some(id) => {
                    let config = tool_config(&OptionalConfigArg {
                        config: trail.config.clone(),
                    })?
                    .ok_or_else(|| {
                        Error::Usage(
                            "a review is checked against the policy: give --config (its [policy] files)".into(),
                        )
                    })?;
                    let (Some(user), Some(note)) = (as_user, note) else {
                        return Err(Error::Usage(
                            "a review needs the reviewer and what they found: --as U… --note \"…\""
                                .into(),
                        ));
                    };
                    runtime()?.block_on(audit_review(&database, &config, &id, &user, &note))
                }
            }
        }
        Command::Audit(AuditCommand::Report {
            trail,
            from,
            to,
            env,
            format,
            out,
            tsa_ca,
        }) => {
            let roots = tsa_roots(&trail, tsa_ca)?;
            runtime()?.block_on(audit_report(&trail, &from, &to, env, format, out, roots))
        }
        Command::Audit(AuditCommand::Drift {
            config,
            env,
            since,
            format,
        }) => runtime()?.block_on(audit_drift(config, &env, &since, format)),
        Command::Audit(AuditCommand::Verify {
            archive: Some(file),
            trail,
            tsa_ca,
        }) => match crate::audit::retention::verify_archive(
            &file,
            tsa_roots(&trail, tsa_ca)?.as_ref(),
        ) {
            Ok(check) => {
                println!(
                    "archive {} intact: {} events (ids {} to {}), last hash {}",
                    file.display(),
                    check.events,
                    check.first_id.unwrap_or_default(),
                    check.last_id.unwrap_or_default(),
                    check.head.unwrap_or_default()
                );
                match (check.anchors, check.anchors_checked) {
                    (0, _) => println!("anchors: none in this archive"),
                    (n, true) => println!(
                        "anchors: {n}, each token checked against the TSA root and matching its event"
                    ),
                    (n, false) => println!(
                        "anchors: {n} matching their events; tokens NOT CHECKED (give the TSA's root with --tsa-ca FILE)"
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("{e}");
                Ok(ExitCode::from(1))
            }
        },
        Command::Audit(AuditCommand::Anchor { trail }) => {
            runtime()?.block_on(anchor::audit_anchor(&trail))
        }
        Command::Audit(AuditCommand::Verify { trail, tsa_ca, .. }) => {
            let roots = tsa_roots(&trail, tsa_ca)?;
            runtime()?.block_on(audit_verify(&trail_database(&trail)?, roots))
        }
        Command::Audit(AuditCommand::Archive {
            trail,
            before,
            output,
            yes,
        }) => {
            let database = trail_database(&trail)?;
            let before = audit_date_or_time("--before", &before)?;
            runtime()?.block_on(audit_archive(&database, &before, output, yes))
        }
        Command::Identity { config, user, env } => {
            let config = load(&config.config)?;
            identity::identity(&config, &user, env.as_deref())
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
                let ctx = with_slack(crate::workflow::Context::new(config).await)?;
                let outcome = crate::workflow::approve(&ctx, &id, &user, None, &print_event).await;
                let code = print_outcome(&outcome);
                let _ = ctx.deliver_outbox().await;
                Ok(code)
            })
        }
        Command::Manifest { config, url } => {
            let config = Config::load_for_tools(&config.config, &config::process_env)?;
            let manifest = crate::chat::manifest::manifest(
                config.server.mode,
                url.as_deref(),
                crate::chat::manifest::Needs::of(&config),
            )?;
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

/// The configuration a tool may do without (see [`OptionalConfigArg`]), read for the tools.
fn tool_config(arg: &OptionalConfigArg) -> Result<Option<Config>> {
    let default = PathBuf::from("config/pitcrew.toml");
    match arg
        .config
        .clone()
        .or_else(|| default.is_file().then_some(default))
    {
        Some(path) => Ok(Some(Config::load_for_tools(&path, &config::process_env)?)),
        None => Ok(None),
    }
}

fn load(path: &Path) -> Result<Config> {
    let config = Config::load(path, &config::process_env)?;
    tracing::debug!(?config, "configuration loaded");
    Ok(config)
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
