//! `pitcrew audit drift -e ENV [--since 7d]`: the revisions of the environment's workloads no
//! pitcrew command made (see `workflow::drift`). No drift is the evidence that nothing changed
//! unrecorded; exit 1 lists what did.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    Table,
    Json,
}

pub(super) async fn audit_drift(
    config: Option<PathBuf>,
    env: &str,
    since: &str,
    format: DriftFormat,
) -> Result<ExitCode> {
    let path = config.unwrap_or_else(|| PathBuf::from("config/pitcrew.toml"));
    let config = Config::load_for_tools(&path, &config::process_env)?;
    let env_name =
        crate::names::EnvName::parse(env).map_err(|e| Error::Usage(format!("-e: {e}")))?;
    let (env_name, environment) = crate::resolve::environment(&config, Some(&env_name))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let since_text = audit_time("--since", since)?;
    let since_at = chrono::DateTime::parse_from_rfc3339(&since_text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| Error::Usage(format!("--since: {e}")))?;
    let store = audit_store(&config.database, false).await?;
    let clusters = crate::cluster::Clusters::connect(&config, None).await?;
    let (seen, found) = crate::workflow::drift(&clusters, &store, environment, since_at)
        .await
        .map_err(|e| Error::Usage(format!("cannot look for drift in {env_name}: {e}")))?;
    match format {
        DriftFormat::Json => println!(
            "{}",
            serde_json::json!({"env": env_name.as_str(), "since": since_text, "revisions": seen, "drift": found})
        ),
        DriftFormat::Table => {
            println!(
                "{seen} revision(s) of {env_name}'s workloads since {since_text}; {} not made by a pitcrew command:",
                found.len()
            );
            for d in &found {
                println!("  {}", crate::audit::render::terminal_safe(&d.line()));
            }
        }
    }
    Ok(if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
