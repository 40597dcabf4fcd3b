//! `pitcrew audit drift -e ENV [--since 7d]`: every revision of the environment's workloads
//! made in the period, matched against the trail. A revision is pitcrew's when its
//! `kubernetes.io/change-cause` names a pitcrew command (its audit id) that was running when
//! the revision was made; anything else — no cause, another tool's cause, or pitcrew's cause
//! left on the object by a later change made around pitcrew — is listed with what the cluster
//! says about who made it. No drift is the evidence that nothing changed unrecorded.

use super::*;
use crate::cluster::Revisioned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    Table,
    Json,
}

/// For a command that recorded no outcome: how long after its last event a revision it caused
/// may still appear (the controller makes the ReplicaSet or ControllerRevision moments after
/// the patch).
const SLACK: i64 = 30;

/// The audit id a change-cause names (`… audit id ID)`).
fn audit_id(cause: &str) -> Option<&str> {
    let rest = cause.strip_prefix("pitcrew: ")?;
    let at = rest.rfind("audit id ")?;
    rest[at + "audit id ".len()..].strip_suffix(')')
}

/// Why a revision is not pitcrew's, or `None` when the trail accounts for it.
async fn unaccounted(store: &crate::audit::AuditStore, r: &Revisioned) -> Result<Option<String>> {
    let Some(cause) = &r.change_cause else {
        return Ok(Some("no change-cause".into()));
    };
    let Some(id) = audit_id(cause) else {
        return Ok(Some(format!("change-cause {cause:?} is not pitcrew's")));
    };
    let story = store
        .query(&crate::audit::Filter {
            correlation: Some(id.to_string()),
            ..Default::default()
        })
        .await?;
    let time = |phase: &[&str]| {
        story
            .iter()
            .rev()
            .filter(|e| phase.contains(&e.phase.as_str()))
            .filter_map(|e| chrono::DateTime::parse_from_rfc3339(&e.at).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .next()
    };
    let Some(started) = time(&["started"]) else {
        return Ok(Some(format!(
            "its change-cause names audit id {id}, which the trail has no started command for"
        )));
    };
    let ended = time(&["succeeded", "failed", "interrupted", "unchanged"]).unwrap_or(started);
    let outside = || {
        format!(
            "made outside pitcrew command {id} ({started} – {ended}), whose change-cause the object still carried"
        )
    };
    // What the command recorded it made: this workload's revision and images after it.
    let recorded = story
        .iter()
        .filter(|e| matches!(e.phase.as_str(), "succeeded" | "failed" | "interrupted"))
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
        .flat_map(|d| {
            let mut all: Vec<serde_json::Value> = d.get("change").cloned().into_iter().collect();
            all.extend(
                d.get("changes")
                    .and_then(|c| c.as_array())
                    .cloned()
                    .unwrap_or_default(),
            );
            all
        })
        .find(|c| {
            c["name"] == r.name.as_str()
                && c["namespace"] == r.namespace.as_str()
                && c["kind"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case(r.kind.as_str()))
        });
    if let Some(change) = recorded {
        let images: Vec<(String, String)> =
            serde_json::from_value(change["after"]["images"].clone()).unwrap_or_default();
        let same = change["after"]["revision"].as_i64() == Some(r.revision) && images == r.images;
        return Ok((!same).then(outside));
    }
    // Nothing recorded (the command was interrupted before its outcome): its time decides.
    let inside = r.created.is_some_and(|c| {
        c >= started - chrono::Duration::seconds(5) && c <= ended + chrono::Duration::seconds(SLACK)
    });
    Ok((!inside).then(outside))
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
    let client = clusters.client(&environment.cluster)?;
    let mut found = Vec::new();
    let mut seen = 0;
    for ns in &environment.namespaces {
        for r in crate::cluster::revisions_since(client, ns.as_str(), since_at).await? {
            seen += 1;
            if let Some(why) = unaccounted(&store, &r).await? {
                found.push((r, why));
            }
        }
    }
    match format {
        DriftFormat::Json => {
            let rows: Vec<serde_json::Value> = found
                .iter()
                .map(|(r, why)| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("why".into(), why.clone().into());
                    }
                    v
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({"env": env_name.as_str(), "since": since_text, "revisions": seen, "drift": rows})
            );
        }
        DriftFormat::Table => {
            println!(
                "{seen} revision(s) of {env_name}'s workloads since {since_text}; {} not made by a pitcrew command:",
                found.len()
            );
            for (r, why) in &found {
                println!(
                    "  {}/{} in {} revision {} at {}: {}; images {}; written by {}",
                    r.kind,
                    r.name,
                    r.namespace,
                    r.revision,
                    r.created
                        .map(|c| c.to_rfc3339())
                        .unwrap_or_else(|| "?".into()),
                    crate::audit::render::terminal_safe(why),
                    r.images
                        .iter()
                        .map(|(_, i)| i.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if r.writers.is_empty() {
                        "(not recorded)".into()
                    } else {
                        r.writers.join(", ")
                    }
                );
            }
        }
    }
    Ok(if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_audit_id_is_read_from_pitcrews_change_cause_only() {
        assert_eq!(
            super::audit_id("pitcrew: restart deployment/x -e prod (by U01A, audit id 01a2-b3)"),
            Some("01a2-b3")
        );
        assert_eq!(
            super::audit_id("kubectl set image deployment/x app=y"),
            None
        );
    }
}
