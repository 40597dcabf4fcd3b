//! `pitcrew audit report --from --to [--env] [--format html|csv|json] [--out FILE]`: the change
//! report an auditor asks for, from the trail alone, with the whole chain verified and its
//! head in the footer. See `audit::report`.

use super::*;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
}

/// Drift in the period, when the configuration names clusters that answer; otherwise why not.
async fn drift_in(
    trail: &TrailArg,
    store: &crate::audit::AuditStore,
    env: Option<&str>,
    since: &str,
    until: &str,
) -> (Option<Vec<crate::audit::report::DriftRow>>, Option<String>) {
    let default = PathBuf::from("config/pitcrew.toml");
    let Some(path) = trail
        .config
        .clone()
        .or_else(|| default.is_file().then_some(default))
    else {
        return (
            None,
            Some("not checked: give --config so the report can ask the clusters".into()),
        );
    };
    let config = match Config::load_for_tools(&path, &config::process_env) {
        Ok(c) => c,
        Err(e) => return (None, Some(format!("not checked: {e}"))),
    };
    let clusters = match crate::cluster::Clusters::connect(&config, None).await {
        Ok(c) => c,
        Err(e) => return (None, Some(format!("not checked: {e}"))),
    };
    let Ok(since_at) = chrono::DateTime::parse_from_rfc3339(since) else {
        return (
            None,
            Some("not checked: the period's start is not a time".into()),
        );
    };
    let mut all = Vec::new();
    for (name, environment) in &config.environments {
        if env.is_some_and(|e| e != name.as_str()) {
            continue;
        }
        match crate::workflow::drift(&clusters, store, environment, since_at.to_utc()).await {
            Ok((_, found)) => all.extend(
                found
                    .into_iter()
                    .filter(|d| d.created.as_deref().is_none_or(|c| c < until)),
            ),
            Err(e) => return (None, Some(format!("not checked: {name}'s cluster: {e}"))),
        }
    }
    (Some(all), None)
}

pub(super) async fn audit_report(
    trail: &TrailArg,
    from: &str,
    to: &str,
    env: Option<String>,
    format: ReportFormat,
    out: Option<PathBuf>,
    roots: Option<crate::audit::timestamp::Roots>,
) -> Result<ExitCode> {
    let database = &trail_database(trail)?;
    let (since, until) = (
        audit_date_or_time("--from", from)?,
        audit_date_or_time("--to", to)?,
    );
    if since >= until {
        return Err(Error::Usage(format!(
            "--from {from} is not before --to {to}: give the start of the period first"
        )));
    }
    let store = audit_store(database, false).await?;
    let records = store
        .query(&crate::audit::Filter {
            since: Some(since.clone()),
            until: Some(until.clone()),
            env: env.clone(),
            ..Default::default()
        })
        .await?;
    let verified = store.verify().await?;
    let now = crate::db::stored_time(chrono::Utc::now());
    let mut report = crate::audit::report::build(&records, &since, &until, env.as_deref(), &now);
    report.chain = Some(crate::audit::report::ChainCheck {
        intact: verified.first_problem.is_none(),
        events: verified.events,
        head: verified.head.clone(),
        first_problem: verified
            .first_problem
            .as_ref()
            .map(|p| format!("event {}: {}", p.id, p.what)),
        anchors: Some(
            crate::audit::anchors::check_anchors(&store, &verified, roots.as_ref()).await?,
        ),
    });
    let holds = report.chain.as_ref().is_some_and(|c| c.holds());
    (report.drift, report.drift_note) =
        drift_in(trail, &store, env.as_deref(), &since, &until).await;
    let text = match format {
        ReportFormat::Html => crate::audit::report_html::render(&report),
        ReportFormat::Csv => report.csv(),
        ReportFormat::Json => report.json(),
    };
    let (changes, refused, unreviewed) = report.counts();
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| {
                Error::Usage(format!(
                    "cannot write the report to {}: {e}",
                    path.display()
                ))
            })?;
            eprintln!(
                "wrote {} ({changes} changes, {refused} refused attempts, {unreviewed} break-glass not reviewed; chain {})",
                path.display(),
                if holds { "intact" } else { "BROKEN" }
            );
        }
        None => print!("{text}"),
    }
    Ok(if holds {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
