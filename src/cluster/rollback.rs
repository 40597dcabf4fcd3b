//! `rollback`, as `kubectl rollout undo` does it
//! (k8s.io/kubectl/pkg/polymorphichelpers/rollback.go):
//!
//! - Deployment: among its ReplicaSets (selector + controller reference), take the one with
//!   the requested revision, or the second-newest revision; refuse a paused Deployment; skip a
//!   template equal to the current one (ignoring `pod-template-hash`); then one JSON patch
//!   replaces `/spec/template` with that ReplicaSet's template (hash label removed) and
//!   `/metadata/annotations` with the Deployment's own bookkeeping annotations plus the
//!   ReplicaSet's other annotations (such as `kubernetes.io/change-cause`).
//! - StatefulSet/DaemonSet: among its ControllerRevisions, the requested revision or the
//!   second-newest; then apply the revision's stored data (a strategic-merge patch that
//!   replaces the template).
//!
//! A revision whose template already runs is kubectl's "skipped rollback": not an error,
//! nothing patched, the [`Change`] says `unchanged`. A workload with kubectl's last-applied
//! annotation gets kubectl's warning that the next `kubectl apply` undoes the rollback.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use super::objects::{
    POD_TEMPLATE_HASH, Snapshot, Workload, controller_revisions, images_of, normalized,
    replica_sets, revision_annotation, template_without_hash,
};
use super::status::snapshot;
use super::{Change, Error, patch_params};
use crate::command::Kind;

/// Deployment annotations kept from the Deployment rather than copied from the ReplicaSet
/// (kubectl's `annotationsToSkip`).
const KEEP_FROM_DEPLOYMENT: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Rolls `kind/name` back to `to_revision`, or to the previous revision when `None`.
pub async fn rollback(
    client: &Client,
    namespace: &str,
    kind: Kind,
    name: &str,
    to_revision: Option<i64>,
    dry_run: bool,
    cause: Option<&str>,
) -> Result<Change, Error> {
    let current = Workload::get(client, kind, namespace, name).await?;
    let before = snapshot(client, namespace, &current).await?;
    let params = patch_params(dry_run);
    let rolled = match &current {
        Workload::Deployment(d) => {
            rollback_deployment(client, namespace, d, &current, to_revision, &params, cause).await?
        }
        Workload::StatefulSet(_) | Workload::DaemonSet(_) => {
            rollback_with_history(client, namespace, &current, to_revision, &params, cause).await?
        }
    };
    let (revision, after, unchanged) = match rolled {
        Rolled::To { revision, images } => (
            revision,
            Snapshot {
                // Rolling back creates a new revision (the old one is renumbered), as
                // kubectl's does.
                revision: before.revision.map(|r| r + 1),
                images,
            },
            false,
        ),
        Rolled::AlreadyThere { revision } => (revision, before.clone(), true),
    };
    let warnings = if current.annotations().contains_key(super::LAST_APPLIED) {
        vec![super::apply_managed_warning(kind, name)]
    } else {
        Vec::new()
    };
    Ok(Change {
        operation: super::Operation::Rollback,
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        dry_run,
        before,
        after,
        annotations_set: Vec::new(),
        to_revision: Some(revision),
        unchanged,
        warnings,
        managed_by: current.managed_by(),
    })
}

/// What a rollback found to do.
enum Rolled {
    /// Patched (or, in a dry run, would patch) back to `revision`, running `images`.
    To {
        revision: i64,
        images: Vec<(String, String)>,
    },
    /// The current template already is `revision`'s: kubectl's "skipped rollback".
    AlreadyThere { revision: i64 },
}

async fn rollback_deployment(
    client: &Client,
    namespace: &str,
    deployment: &Deployment,
    current: &Workload,
    to_revision: Option<i64>,
    params: &PatchParams,
    cause: Option<&str>,
) -> Result<Rolled, Error> {
    let name = current.name();
    let sets = replica_sets(client, namespace, current).await?;
    let mut by_revision: Vec<(i64, _)> = sets
        .into_iter()
        .filter_map(|rs| revision_annotation(&rs).map(|r| (r, rs)))
        .collect();
    by_revision.sort_by_key(|(r, _)| *r);
    let chosen = match to_revision {
        Some(wanted) => by_revision
            .iter()
            .find(|(r, _)| *r == wanted)
            .ok_or_else(|| Error::RevisionNotFound {
                kind: Kind::Deployment,
                name: name.clone(),
                revision: wanted,
                available: list(by_revision.iter().map(|(r, _)| *r)),
            })?,
        None => by_revision
            .iter()
            .rev()
            .nth(1)
            .ok_or_else(|| Error::NoHistory {
                kind: Kind::Deployment,
                name: name.clone(),
            })?,
    };
    let (revision, rs) = (chosen.0, &chosen.1);
    if deployment.spec.as_ref().and_then(|s| s.paused) == Some(true) {
        return Err(Error::PausedRollback { name });
    }
    let rs_template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .ok_or_else(|| Error::Malformed {
            what: format!("ReplicaSet of revision {revision} has no template"),
        })?;
    let current_template = current.template().ok_or_else(|| Error::Malformed {
        what: "deployment without a template".into(),
    })?;
    if template_without_hash(&rs_template)? == template_without_hash(current_template)? {
        return Ok(Rolled::AlreadyThere { revision });
    }

    let mut template = rs_template.clone();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    let own = deployment.metadata.annotations.clone().unwrap_or_default();
    let mut annotations: BTreeMap<String, String> = KEEP_FROM_DEPLOYMENT
        .iter()
        .filter_map(|k| own.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !KEEP_FROM_DEPLOYMENT.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    // kubectl carries the old revision's change-cause back; pitcrew names this rollback.
    if let Some(cause) = cause {
        annotations.insert(super::CHANGE_CAUSE.to_string(), cause.to_string());
    }
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]))
    .map_err(|e| Error::Malformed {
        what: format!("rollback patch: {e}"),
    })?;
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .patch(&name, params, &Patch::<()>::Json(patch))
        .await
        .map_err(Error::api(format!(
            "rolling back deployment {namespace}/{name} to revision {revision}"
        )))?;
    Ok(Rolled::To {
        revision,
        images: images_of(&template),
    })
}

async fn rollback_with_history(
    client: &Client,
    namespace: &str,
    current: &Workload,
    to_revision: Option<i64>,
    params: &PatchParams,
    cause: Option<&str>,
) -> Result<Rolled, Error> {
    let kind = current.kind();
    let name = current.name();
    let history = controller_revisions(client, namespace, current).await?;
    if to_revision.is_none() && history.len() <= 1 {
        return Err(Error::NoHistory { kind, name });
    }
    let chosen = match to_revision {
        Some(wanted) => history
            .iter()
            .find(|h| h.revision == wanted)
            .ok_or_else(|| Error::RevisionNotFound {
                kind,
                name: name.clone(),
                revision: wanted,
                available: list(history.iter().map(|h| h.revision)),
            })?,
        // kubectl takes the second-newest revision (history is sorted oldest first).
        None => history
            .iter()
            .rev()
            .nth(1)
            .ok_or_else(|| Error::NoHistory {
                kind,
                name: name.clone(),
            })?,
    };
    let data = chosen
        .data
        .as_ref()
        .map(|d| d.0.clone())
        .ok_or_else(|| Error::Malformed {
            what: format!("ControllerRevision {} has no data", chosen.revision),
        })?;
    let mut stored_template = data
        .get("spec")
        .and_then(|s| s.get("template"))
        .cloned()
        .ok_or_else(|| Error::Malformed {
            what: format!("ControllerRevision {} has no template", chosen.revision),
        })?;
    if let Some(obj) = stored_template.as_object_mut() {
        obj.remove("$patch");
    }
    let target: k8s_openapi::api::core::v1::PodTemplateSpec =
        serde_json::from_value(stored_template.clone()).map_err(|e| Error::Malformed {
            what: format!("template of ControllerRevision {}: {e}", chosen.revision),
        })?;
    let current_template = current.template().ok_or_else(|| Error::Malformed {
        what: format!("{kind} without a template"),
    })?;
    // kubectl compares the serialised patch byte for byte; comparing the normalised templates
    // is the same test without depending on field order.
    let current_json = serde_json::to_value(current_template)
        .map(normalized)
        .map_err(|e| Error::Malformed {
            what: format!("pod template: {e}"),
        })?;
    if normalized(stored_template) == current_json {
        return Ok(Rolled::AlreadyThere {
            revision: chosen.revision,
        });
    }
    if kind == Kind::Deployment {
        return Err(Error::Malformed {
            what: "deployment rolled back through ControllerRevisions".into(),
        });
    }
    let doing = format!(
        "rolling back {kind} {namespace}/{name} to revision {}",
        chosen.revision
    );
    Workload::patch(
        client,
        kind,
        namespace,
        &name,
        params,
        &Patch::Strategic(super::with_cause(data, cause)),
        doing,
    )
    .await?;
    Ok(Rolled::To {
        revision: chosen.revision,
        images: images_of(&target),
    })
}

fn list(revisions: impl Iterator<Item = i64>) -> String {
    let v: Vec<String> = revisions.map(|r| r.to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
