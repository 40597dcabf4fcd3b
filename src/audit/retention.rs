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
}

fn problem(file: &Path, what: String) -> Error {
    Error::AuditWrite(format!("archive {}: {what}", file.display()))
}

/// Checks an archive file alone: every event's hash recomputed, each one linked to the one
/// before, ids without a gap, and the recorded removed head equal to the last event's hash.
pub fn verify_archive(file: &Path) -> Result<ArchiveCheck, Error> {
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
    Ok(ArchiveCheck {
        events: events.len(),
        first_id: events.first().map(|e| e.id),
        last_id: events.last().map(|e| e.id),
        newest_at: events.last().map(|e| e.at.clone()),
        head,
    })
}

/// Archives every event older than `before` into `dir`: the chain is verified first, the file
/// written and verified on its own, and only then are the events removed behind a boundary
/// event. `None` when nothing is that old.
pub async fn archive_before(
    store: &AuditStore,
    before: DateTime<Utc>,
    dir: &Path,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Archived>, Error> {
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
    // Only a boundary event may be left at the start: nothing to archive but it.
    if events.iter().all(|e| e.phase == "archived") {
        return Ok(None);
    }
    let removed_head = events.last().map(|e| e.hash.clone()).unwrap_or_default();
    std::fs::create_dir_all(dir).map_err(|e| problem(dir, e.to_string()))?;
    let file = dir.join(format!("pitcrew-audit-archive-through-{through}.json"));
    let document = serde_json::json!({
        "format": FORMAT,
        "exported_at": stored_time(now),
        "archive": {"before": before_text, "through_id": through, "removed_head_hash": removed_head},
        "chain": {"events": report.events, "head": report.head, "intact": true},
        "events": events,
    });
    let text =
        serde_json::to_string_pretty(&document).map_err(|e| problem(&file, e.to_string()))? + "\n";
    std::fs::write(&file, &text).map_err(|e| problem(&file, e.to_string()))?;
    let check = verify_archive(&file)?;
    if check.last_id != Some(through) || check.events != events.len() {
        return Err(problem(
            &file,
            "reads back differently from what was written".into(),
        ));
    }
    let sha256 = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    let boundary = store
        .archive_through(
            through,
            actor,
            &format!("archive events before {before_text}"),
            serde_json::json!({"file": file.display().to_string(), "sha256": sha256, "events": events.len()}),
        )
        .await?;
    Ok(Some(Archived {
        file,
        sha256,
        events: events.len(),
        through_id: through,
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
        match verify_archive(&path) {
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
