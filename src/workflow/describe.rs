//! One line for a change, in the words every transport shows.

use super::*;

/// One line for a change: what was done to what, from which revision and images to which.
pub fn describe(change: &Change) -> String {
    if change.unchanged {
        // kubectl: `deployment.apps/web skipped rollback (current template already matches
        // revision 3)`. No warning: nothing was rolled back for an apply to undo.
        return format!(
            "{}/{} in {}: skipped rollback (current template already matches revision {})",
            change.kind,
            change.name,
            change.namespace,
            change.to_revision.unwrap_or_default()
        );
    }
    let what = match (change.to_revision, change.annotations_set.is_empty()) {
        (Some(r), _) => format!(
            "rolled back {}/{} to revision {r}",
            change.kind, change.name
        ),
        (None, false) => format!("restarted {}/{}", change.kind, change.name),
        (None, true) => format!("set the images of {}/{}", change.kind, change.name),
    };
    let what = if change.dry_run {
        what.replacen("restarted", "would restart", 1)
            .replacen("rolled back", "would roll back", 1)
            .replacen("set the images", "would set the images", 1)
    } else {
        what
    };
    let revisions = match (change.before.revision, change.after.revision) {
        (Some(a), Some(b)) => format!(", revision {a} → {b}"),
        _ => String::new(),
    };
    let images = change.image_changes();
    let images = if images.is_empty() {
        String::new()
    } else {
        format!(", {}", images.join(", "))
    };
    let annotations: Vec<String> = change
        .annotations_set
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let annotations = if annotations.is_empty() {
        String::new()
    } else {
        format!(", sets {}", annotations.join(", "))
    };
    let warnings: String = change
        .warnings
        .iter()
        .map(|w| format!("; warning: {w}"))
        .collect();
    format!(
        "{what} in {}{revisions}{images}{annotations}{warnings}",
        change.namespace
    )
}
