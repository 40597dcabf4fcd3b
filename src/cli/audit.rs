//! `pitcrew audit query|show|export|archive|verify`: reading the trail for people and tools.

use super::*;

/// Where the trail is: `--database-url` (without a password), the configuration's database
/// (read for the tools: no other secret, no kubeconfig needed), or DATABASE_URL alone.
/// The configuration file the audit tools read: `--config`, else config/pitcrew.toml if there.
pub(super) fn trail_config(t: &TrailArg) -> Option<PathBuf> {
    let default = PathBuf::from("config/pitcrew.toml");
    t.config
        .clone()
        .or_else(|| default.is_file().then_some(default))
}

/// The timestamp authority's root the anchors are checked against: `--tsa-ca`, else the
/// configuration's `[audit.timestamp] ca_file`; none when neither says.
pub(super) fn tsa_roots(
    t: &TrailArg,
    tsa_ca: Option<PathBuf>,
) -> Result<Option<crate::audit::timestamp::Roots>> {
    let file = match tsa_ca {
        Some(f) => Some(f),
        None => match trail_config(t) {
            Some(path) if t.database_url.is_none() => {
                Config::load_for_tools(&path, &config::process_env)?
                    .audit
                    .timestamp
                    .map(|ts| ts.ca_file)
            }
            _ => None,
        },
    };
    file.map(|f| crate::audit::timestamp::Roots::from_pem_file(&f).map_err(Error::Usage))
        .transpose()
}

pub(super) fn trail_database(t: &TrailArg) -> Result<DatabaseConfig> {
    if let Some(url) = &t.database_url {
        if reqwest::Url::parse(url).is_ok_and(|u| u.password().is_some()) {
            return Err(Error::Usage(
                "--database-url must not carry a password (the process list shows it): put the URL in DATABASE_URL or DATABASE_URL_FILE instead".into(),
            ));
        }
        return DatabaseConfig::from_url(url).map_err(Error::Usage);
    }
    if let Some(path) = trail_config(t) {
        let config = Config::load_for_tools(&path, &config::process_env)?;
        return Ok(config.database);
    }
    let (secrets, problems) = config::Secrets::read(&config::process_env);
    if let Some(p) = problems.first() {
        return Err(Error::Usage(format!("{}: {}", p.variable, p.message)));
    }
    match secrets.database_url {
        Some(url) => {
            DatabaseConfig::from_url(secrecy::ExposeSecret::expose_secret(&url)).map_err(Error::Usage)
        }
        None => Err(Error::Usage(
            "say where the audit trail is: --config FILE (its [database] section), DATABASE_URL (or DATABASE_URL_FILE), or --database-url sqlite:PATH".into(),
        )),
    }
}

/// The trail, opened for reading: it must exist and carry pitcrew's whole schema (a reviewer's
/// read-only role cannot migrate, and an empty file is not a trail). `archive` writes, and
/// brings the schema up to date first.
pub(super) async fn audit_store(
    database: &DatabaseConfig,
    writes: bool,
) -> Result<crate::audit::AuditStore> {
    if let DatabaseConfig::Sqlite { path } = database
        && !path.is_file()
    {
        return Err(Error::Usage(format!(
            "there is no audit trail at {}: check --config or DATABASE_URL",
            path.display()
        )));
    }
    let db = Database::connect(database).await?;
    if writes {
        db.migrate().await?;
    } else {
        let (applied, known) = (db.applied_migrations().await?, db.known_migrations());
        if applied < known {
            return Err(Error::Usage(format!(
                "the audit trail at {} has {applied} of pitcrew's {known} schema migrations: run `pitcrew migrate` (as the database's owner) first",
                db.location()
            )));
        }
    }
    Ok(crate::audit::AuditStore::new(db))
}

/// `--since`/`--until`: a duration back from now or an RFC 3339 time, as stored (UTC, ms).
pub(super) fn audit_time(flag: &str, value: &str) -> Result<String> {
    use chrono::{DateTime, Utc};
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
    Ok(crate::db::stored_time(t))
}

/// Like [`audit_time`], also taking a date (`2026-07-01`: midnight UTC).
pub(super) fn audit_date_or_time(flag: &str, value: &str) -> Result<String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let t = day.and_time(chrono::NaiveTime::MIN).and_utc();
        return Ok(crate::db::stored_time(t));
    }
    audit_time(flag, value)
}

pub(super) fn audit_filter(a: &AuditFilterArgs) -> Result<crate::audit::Filter> {
    let (kind, name) = match &a.target {
        Some(t) => {
            let t = crate::command::Target::parse_any(t)
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
        approver: a
            .approver
            .clone()
            .map(|a| a.trim_start_matches('@').to_string()),
        through_id: None,
        after_id: None,
        limit: a.limit,
    })
}

pub(super) async fn audit_query(
    database: &DatabaseConfig,
    filter: &crate::audit::Filter,
    format: crate::audit::render::Format,
) -> Result<ExitCode> {
    let store = audit_store(database, false).await?;
    let records = store.query(filter).await?;
    let parties = store.parties(&records).await?;
    print!(
        "{}",
        crate::audit::render::render(&records, &parties, format)
    );
    Ok(ExitCode::SUCCESS)
}

/// One command's whole story: `id` is its correlation id or any of its event ids.
pub(super) async fn story_of(
    store: &crate::audit::AuditStore,
    id: &str,
) -> Result<(String, Vec<crate::audit::Record>)> {
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
    Ok((correlation, story))
}

pub(super) async fn audit_show(
    database: &DatabaseConfig,
    id: &str,
    format: crate::audit::render::Format,
) -> Result<ExitCode> {
    let store = audit_store(database, false).await?;
    let (_, story) = story_of(&store, id).await?;
    if story.is_empty() {
        return Err(Error::Usage(format!("no audit events for `{id}`")));
    }
    let parties = store.parties(&story).await?;
    print!("{}", crate::audit::render::render(&story, &parties, format));
    Ok(ExitCode::SUCCESS)
}

/// `pitcrew audit export`: the events in the period, with the chain head and the verification
/// of the whole chain, in one JSON file. Each event keeps its `prev_hash` and `hash`, so the
/// file itself shows that its events are a contiguous piece of the chain.
pub(super) async fn audit_export(
    database: &DatabaseConfig,
    filter: &crate::audit::Filter,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let store = audit_store(database, false).await?;
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

/// `pitcrew audit archive`: verify, export the old events (the file read back and verified on
/// its own), then (with --yes) remove them behind a boundary event, and verify again.
pub(super) async fn audit_archive(
    database: &DatabaseConfig,
    before: &str,
    output: Option<PathBuf>,
    yes: bool,
) -> Result<ExitCode> {
    use crate::audit::retention::{export_before, remove_exported};
    let store = audit_store(database, true).await?;
    let before_at = chrono::DateTime::parse_from_rfc3339(before)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| Error::Usage(format!("--before: {e}")))?;
    let through = store
        .last_id_before(&crate::db::stored_time(before_at))
        .await?
        .unwrap_or_default();
    let path = output
        .unwrap_or_else(|| PathBuf::from(format!("pitcrew-audit-archive-through-{through}.json")));
    let exported = match export_before(&store, before_at, &path, chrono::Utc::now()).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            println!("no audit event is older than {before}; nothing was changed");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            println!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "exported {} events (ids up to {}, older than {before}) to {} (sha256 {}; verified on its own)",
        exported.events,
        exported.through_id,
        path.display(),
        exported.sha256
    );
    if !yes {
        println!(
            "nothing was removed; keep the export, then run again with --yes to remove these {} events",
            exported.events
        );
        return Ok(ExitCode::SUCCESS);
    }
    let boundary = remove_exported(&store, &exported, "pitcrew-cli").await?;
    let after = store.verify().await?;
    println!(
        "removed {} events behind archive boundary event {}; the remaining chain of {} events {}",
        exported.events,
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
pub(super) fn write_json_file(path: &Path, document: &serde_json::Value) -> Result<String> {
    let text = serde_json::to_string_pretty(document)
        .map_err(|e| Error::Usage(format!("cannot encode the export: {e}")))?
        + "\n";
    std::fs::write(path, &text)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(text)
}

pub(super) async fn audit_verify(
    database: &DatabaseConfig,
    roots: Option<crate::audit::timestamp::Roots>,
) -> Result<ExitCode> {
    let store = audit_store(database, false).await?;
    let report = store.verify().await?;
    let chain = print_chain(&report);
    let anchors = crate::audit::anchors::check_anchors(&store, &report, roots.as_ref()).await?;
    print_anchors(&anchors);
    Ok(if chain && anchors.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `audit verify` says about the anchors: the last event a timestamp authority vouches
/// for, or each anchor that no longer holds.
fn print_anchors(a: &crate::audit::anchors::AnchorReport) {
    if a.anchors == 0 {
        println!(
            "anchors: none (set [audit.timestamp] to have the chain head stamped by a timestamp authority)"
        );
        return;
    }
    if !a.checked {
        println!(
            "anchors: {} stored, NOT CHECKED: give the timestamp authority's root with --tsa-ca FILE or [audit.timestamp] ca_file",
            a.anchors
        );
    }
    if a.archived > 0 {
        println!(
            "anchors: {} cover archived events (their archive files carry them: audit verify --archive FILE --tsa-ca ROOT)",
            a.archived
        );
    }
    for p in &a.problems {
        println!(
            "anchor {} (event {}) DOES NOT HOLD: {}",
            p.anchor, p.event_id, p.what
        );
    }
    match &a.last_anchored {
        Some(last) if a.checked => println!(
            "anchored: event {} stamped at {} by {} ({} anchors, {} not holding); {} events since, not yet anchored",
            last.event_id,
            last.gen_time,
            last.tsa,
            a.anchors,
            a.problems.len(),
            a.unanchored_events
        ),
        Some(last) => println!(
            "last anchor: event {} at {} (its hash matches; the token was not checked)",
            last.event_id, last.gen_time
        ),
        None if a.archived > 0 && a.problems.is_empty() => {
            println!("anchored: no event since the archive boundary yet")
        }
        None => println!("anchored: no anchor holds"),
    }
}

/// Prints what the chain check found; true when it is intact.
fn print_chain(report: &crate::audit::VerifyReport) -> bool {
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
            true
        }
        Some(p) => {
            println!(
                "audit trail BROKEN at event {}: {} ({} events before it verify; their head is {})",
                p.id, p.what, report.events, report.head
            );
            false
        }
    }
}
