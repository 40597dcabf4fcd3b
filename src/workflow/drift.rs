//! Changes made outside pitcrew: every revision of an environment's workloads made in a
//! period, matched against the trail. A revision is pitcrew's when its
//! `kubernetes.io/change-cause` names a pitcrew command (its audit id) that recorded making
//! exactly that revision (number and images); anything else — no cause, another tool's cause,
//! or pitcrew's cause left on the object by a later change made around pitcrew — is drift,
//! listed with what the cluster says about who wrote the workload. Shared by `pitcrew audit
//! drift`, the change report and the chat `audit report`.

use chrono::{DateTime, Utc};

use super::gates::AuditSink;
use crate::audit::report::DriftRow;
use crate::cluster::{Revisioned, Workloads};
use crate::config::Environment;

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
async fn unaccounted(
    audit: &dyn AuditSink,
    r: &Revisioned,
) -> Result<Option<String>, crate::audit::Error> {
    let Some(cause) = &r.change_cause else {
        return Ok(Some("no change-cause".into()));
    };
    let Some(id) = audit_id(cause) else {
        return Ok(Some(format!("change-cause {cause:?} is not pitcrew's")));
    };
    let story = audit
        .query(crate::audit::Filter {
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
        .flat_map(|d| crate::audit::report::recorded_changes(&d))
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

/// The revisions of `environment`'s workloads since `since` (how many) and those that are
/// drift.
pub async fn drift(
    clusters: &dyn Workloads,
    audit: &dyn AuditSink,
    environment: &Environment,
    since: DateTime<Utc>,
) -> Result<(usize, Vec<DriftRow>), String> {
    let mut seen = 0;
    let mut found = Vec::new();
    for ns in &environment.namespaces {
        let revisions = clusters
            .revisions_since(&environment.cluster, ns.as_str(), since)
            .await
            .map_err(|e| e.to_string())?;
        for r in revisions {
            seen += 1;
            if let Some(why) = unaccounted(audit, &r).await.map_err(|e| e.to_string())? {
                found.push(DriftRow {
                    kind: r.kind.to_string(),
                    name: r.name,
                    namespace: r.namespace,
                    revision: r.revision,
                    created: r.created.map(|c| c.to_rfc3339()),
                    why,
                    images: r.images.into_iter().map(|(_, i)| i).collect(),
                    writers: r.writers,
                });
            }
        }
    }
    Ok((seen, found))
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
