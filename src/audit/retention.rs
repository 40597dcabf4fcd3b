//! Retention (`[audit] retain_online`, `retain_total`, `archive_dir`): `serve` moves events
//! older than `retain_online` out of the database into archive files (the `audit archive`
//! mechanism: an export, then a boundary event that records what was removed), and removes
//! archive files whose newest event is older than `retain_total`. Nothing leaves the database
//! before its archive file was written, read back and verified on its own (`verify_archive`,
//! what `pitcrew audit verify --archive FILE` runs); a trail that does not verify is not
//! archived at all. Every function takes `now`, so tests drive the clock.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest;

use super::{AuditStore, Filter, Record};
use crate::Error;
use crate::db::stored_time;

/// What an archive file holds, beyond its events.
pub const FORMAT: &str = "pitcrew-audit-export-v1";

/// One archive written (and the events removed from the database behind it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Archived {
    pub file: PathBuf,
    pub sha256: String,
    pub events: usize,
    pub through_id: i64,
    pub boundary_id: i64,
}

/// What an archive file's own check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveCheck {
    pub events: usize,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    /// The newest event's time (what `retain_total` counts from).
    pub newest_at: Option<String>,
    pub head: Option<String>,
    /// Timestamp anchors of events in the file, each matching its event's hash.
    pub anchors: usize,
    /// True when their tokens were checked against a TSA root too.
    pub anchors_checked: bool,
}

fn problem(file: &Path, what: String) -> Error {
    Error::AuditWrite(format!("archive {}: {what}", file.display()))
}

/// Checks an archive file alone: every event's hash recomputed, each one linked to the one
/// before, ids without a gap, the recorded removed head equal to the last event's hash, and
/// every timestamp anchor it carries matching its event's hash — its token checked against
/// `roots` when given (`audit verify --archive FILE --tsa-ca ROOT`).
pub fn verify_archive(
    file: &Path,
    roots: Option<&super::timestamp::Roots>,
) -> Result<ArchiveCheck, Error> {
    let text = std::fs::read_to_string(file).map_err(|e| problem(file, e.to_string()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| problem(file, format!("not JSON: {e}")))?;
    if doc["format"] != FORMAT {
        return Err(problem(file, format!("not a {FORMAT} file")));
    }
    let events: Vec<Record> = serde_json::from_value(doc["events"].clone())
        .map_err(|e| problem(file, format!("events: {e}")))?;
    for (i, e) in events.iter().enumerate() {
        if super::hash(e) != e.hash {
            return Err(problem(
                file,
                format!("event {} does not hash to its hash", e.id),
            ));
        }
        if let Some(before) = i.checked_sub(1).and_then(|j| events.get(j)) {
            if e.prev_hash != before.hash {
                return Err(problem(
                    file,
                    format!("event {} is not linked to event {}", e.id, before.id),
                ));
            }
            if e.id != before.id + 1 {
                return Err(problem(
                    file,
                    format!("events {} to {} are missing", before.id + 1, e.id - 1),
                ));
            }
        }
    }
    let head = events.last().map(|e| e.hash.clone());
    if let Some(recorded) = doc["archive"]["removed_head_hash"].as_str()
        && head.as_deref() != Some(recorded)
    {
        return Err(problem(
            file,
            "its last event is not the removed head it records".into(),
        ));
    }
    let anchors: Vec<super::Anchor> = match doc.get("anchors") {
        Some(a) => {
            serde_json::from_value(a.clone()).map_err(|e| problem(file, format!("anchors: {e}")))?
        }
        None => Vec::new(),
    };
    for a in &anchors {
        let stamped = events.iter().find(|e| e.id == a.event_id);
        if stamped.is_none_or(|e| e.hash != a.head_hash) {
            return Err(problem(
                file,
                format!(
                    "event {} does not have the hash the timestamp authority stamped at {}: it was rewritten",
                    a.event_id, a.gen_time
                ),
            ));
        }
        if let Some(Err(e)) = roots.map(|r| a.check_token(r)) {
            return Err(problem(
                file,
                format!("the anchor of event {}: {e}", a.event_id),
            ));
        }
    }
    Ok(ArchiveCheck {
        anchors: anchors.len(),
        anchors_checked: roots.is_some() && !anchors.is_empty(),
        events: events.len(),
        first_id: events.first().map(|e| e.id),
        last_id: events.last().map(|e| e.id),
        newest_at: events.last().map(|e| e.at.clone()),
        head,
    })
}

/// An export written and verified on its own: what `archive_before` removes behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub file: PathBuf,
    pub sha256: String,
    pub events: usize,
    pub through_id: i64,
    /// The whole chain's size and head when the export was made.
    pub chain_events: u64,
    pub chain_head: String,
}

/// Exports every event older than `before` to `file`, then reads the file back and verifies it
/// on its own. The chain is verified first: a broken trail is not exported. `None` when nothing
/// (but earlier archive boundaries) is that old. Nothing is removed.
pub async fn export_before(
    store: &AuditStore,
    before: DateTime<Utc>,
    file: &Path,
    now: DateTime<Utc>,
) -> Result<Option<Exported>, Error> {
    let report = store.verify().await?;
    if let Some(p) = &report.first_problem {
        return Err(Error::AuditWrite(format!(
            "refusing to archive: the trail is broken at event {} ({}); nothing was changed",
            p.id, p.what
        )));
    }
    let before_text = stored_time(before);
    let Some(through) = store.last_id_before(&before_text).await? else {
        return Ok(None);
    };
    let events = store
        .query(&Filter {
            through_id: Some(through),
            ..Filter::default()
        })
        .await?;
    if events.iter().all(|e| e.phase == "archived") {
        return Ok(None);
    }
    let removed_head = events.last().map(|e| e.hash.clone()).unwrap_or_default();
    // The anchors of these events travel with them (an earlier archive's stay in that one).
    let first = events.first().map_or(0, |e| e.id);
    let anchors: Vec<super::Anchor> = store
        .anchors_through(through)
        .await?
        .into_iter()
        .filter(|a| a.event_id >= first)
        .collect();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| problem(dir, e.to_string()))?;
    }
    let document = serde_json::json!({
        "format": FORMAT,
        "exported_at": stored_time(now),
        "archive": {"before": before_text, "through_id": through, "removed_head_hash": removed_head},
        "chain": {"events": report.events, "head": report.head, "intact": true},
        "events": events,
        "anchors": anchors,
    });
    let text =
        serde_json::to_string_pretty(&document).map_err(|e| problem(file, e.to_string()))? + "\n";
    std::fs::write(file, &text).map_err(|e| problem(file, e.to_string()))?;
    let check = verify_archive(file, None)?;
    if check.last_id != Some(through) || check.events != events.len() {
        return Err(problem(
            file,
            "reads back differently from what was written".into(),
        ));
    }
    Ok(Some(Exported {
        file: file.to_path_buf(),
        sha256: hex::encode(sha2::Sha256::digest(text.as_bytes())),
        events: events.len(),
        through_id: through,
        chain_events: report.events,
        chain_head: report.head,
    }))
}

/// Removes the events an export holds, behind an archive boundary event.
pub async fn remove_exported(
    store: &AuditStore,
    e: &Exported,
    actor: &str,
) -> Result<Record, Error> {
    store
        .archive_through(
            e.through_id,
            actor,
            &format!("archive events through {}", e.through_id),
            serde_json::json!({"file": e.file.display().to_string(), "sha256": e.sha256, "events": e.events}),
        )
        .await
}

/// Archives every event older than `before` into `dir`: exported and verified
/// (`export_before`), then removed behind a boundary event. `None` when nothing is that old.
pub async fn archive_before(
    store: &AuditStore,
    before: DateTime<Utc>,
    dir: &Path,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Archived>, Error> {
    let Some(through) = store.last_id_before(&stored_time(before)).await? else {
        return Ok(None);
    };
    let file = dir.join(format!("pitcrew-audit-archive-through-{through}.json"));
    let Some(exported) = export_before(store, before, &file, now).await? else {
        return Ok(None);
    };
    let boundary = remove_exported(store, &exported, actor).await?;
    Ok(Some(Archived {
        file: exported.file,
        sha256: exported.sha256,
        events: exported.events,
        through_id: exported.through_id,
        boundary_id: boundary.id,
    }))
}

/// Removes the archive files in `dir` whose newest event is older than `before`; a file that
/// does not verify is left where it is, for a person to look at. Returns the removed files.
pub fn expire_archives(dir: &Path, before: DateTime<Utc>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let cutoff = stored_time(before);
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pitcrew-audit-archive-") && n.ends_with(".json"));
        if !ours {
            continue;
        }
        match verify_archive(&path, None) {
            Ok(check)
                if check
                    .newest_at
                    .as_deref()
                    .is_some_and(|t| t < cutoff.as_str()) =>
            {
                if std::fs::remove_file(&path).is_ok() {
                    removed.push(path);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "an archive file does not verify; it is kept"),
        }
    }
    removed
}
