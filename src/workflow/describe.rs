//! One line for a change, in the words every transport shows.

use super::*;

/// One line for a change: what was done to what, from which revision and images to which.
pub fn describe(change: &Change) -> String {
    use crate::cluster::Operation;
    if change.unchanged {
        return match &change.operation {
            Operation::Scale { to, .. } => format!(
                "{}/{} in {} already has {to} replicas",
                change.kind, change.name, change.namespace
            ),
            Operation::ScaleAutoscaler {
                autoscaler,
                min,
                max,
                ..
            } => format!(
                "HorizontalPodAutoscaler {autoscaler} of {}/{} in {} already keeps {}–{} replicas",
                change.kind, change.name, change.namespace, min.1, max.1
            ),
            Operation::SuspendReconciliation { .. } => format!(
                "{}/{} in {} does not reconcile on its own now (automated sync off, or suspended) and pitcrew did not suspend it: nothing to suspend, and pitcrew will not turn it on",
                change.kind, change.name, change.namespace
            ),
            Operation::ResumeReconciliation => format!(
                "{}/{} in {} already reconciles on its own: nothing to resume",
                change.kind, change.name, change.namespace
            ),
            Operation::Step { .. } => format!(
                "{}/{} in {} already runs its newest version: nothing to promote",
                change.kind, change.name, change.namespace
            ),
            // kubectl: `deployment.apps/web skipped rollback (current template already matches
            // revision 3)`. No warning: nothing was rolled back for an apply to undo.
            _ => format!(
                "{}/{} in {}: skipped rollback (current template already matches revision {})",
                change.kind,
                change.name,
                change.namespace,
                change.to_revision.unwrap_or_default()
            ),
        };
    }
    let (done, would) = match &change.operation {
        Operation::Restart => ("restarted", "would restart"),
        Operation::Rollback => ("rolled back", "would roll back"),
        Operation::SetImages => ("set the images of", "would set the images of"),
        Operation::Pause => ("paused", "would pause"),
        Operation::Resume => ("resumed", "would resume"),
        Operation::Scale { .. } => ("scaled", "would scale"),
        Operation::ScaleAutoscaler { .. } => (
            "moved the autoscaler bounds of",
            "would move the autoscaler bounds of",
        ),
        Operation::SuspendReconciliation { .. } => (
            "suspended the reconciliation of",
            "would suspend the reconciliation of",
        ),
        Operation::ResumeReconciliation => (
            "resumed the reconciliation of",
            "would resume the reconciliation of",
        ),
        Operation::Step { verb } => match verb {
            crate::command::StepVerb::Advance { full: false } => ("advanced", "would advance"),
            crate::command::StepVerb::Advance { full: true } => {
                ("fully promoted", "would fully promote")
            }
            crate::command::StepVerb::Abort => {
                ("aborted the update of", "would abort the update of")
            }
            crate::command::StepVerb::Retry => {
                ("retried the update of", "would retry the update of")
            }
        },
    };
    let verb = if change.dry_run { would } else { done };
    let to = match (&change.operation, change.to_revision) {
        (Operation::Rollback, Some(r)) => format!(" to revision {r}"),
        (Operation::Scale { from, to }, _) => format!(" from {from} to {to} replicas"),
        (
            Operation::ScaleAutoscaler {
                autoscaler,
                min,
                max,
            },
            _,
        ) => format!(
            " (HorizontalPodAutoscaler {autoscaler}: minReplicas {} → {}, maxReplicas {} → {})",
            min.0, min.1, max.0, max.1
        ),
        (Operation::SuspendReconciliation { until }, _) => format!(
            " until {}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        _ => String::new(),
    };
    let what = format!("{verb} {}/{}{to}", change.kind, change.name);
    let revisions = match (change.before.revision, change.after.revision) {
        (Some(a), Some(b)) if a != b => format!(", revision {a} → {b}"),
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
    // A suspension's annotations say what its words already say.
    let annotations = if annotations.is_empty()
        || matches!(change.operation, Operation::SuspendReconciliation { .. })
    {
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
