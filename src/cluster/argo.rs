//! Argo Rollouts (`rollout/NAME`, argoproj.io/v1alpha1): restart, undo, pause and resume, and
//! the steps (advance, abort, retry), each the patch the kubectl-argo-rollouts plugin v1.8
//! sends (`pkg/kubectl-argo-rollouts/cmd/{restart,undo,pause,promote,abort,retry}`); the
//! Rollout's state in Argo's own terms (phase, step, weight) is in `argo_state.rs`.
//!
//! A Rollout is a custom resource: read and patched as a dynamic object. Its ReplicaSets are
//! ordinary ones, owned by the Rollout and numbered by `rollout.argoproj.io/revision`.

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch};
use serde_json::{Value, json};

use super::objects::selector_string;
use super::{Change, Client, Error, Operation, Snapshot, patch_params};
use crate::command::{Kind, StepVerb};

/// The revision annotation Argo Rollouts keeps on the Rollout and its ReplicaSets.
pub const REVISION: &str = "rollout.argoproj.io/revision";
/// The label Argo Rollouts adds to each ReplicaSet's template (left out of comparisons and of
/// a template put back, as the plugin does).
pub(super) const HASH_LABEL: &str = "rollouts-pod-template-hash";

pub(super) fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

pub(super) fn api(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource())
}

/// Reads a Rollout; a missing one (or a cluster without Argo Rollouts) says so.
pub(super) async fn get(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<DynamicObject, Error> {
    super::objects::get_custom(
        &api(client, namespace),
        Kind::Rollout,
        namespace,
        name,
        "rollouts.argoproj.io",
        "Argo Rollouts",
    )
    .await
}

/// The revision and images a Rollout runs (its template's).
pub(super) fn snapshot(obj: &DynamicObject) -> Snapshot {
    Snapshot {
        revision: obj
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION))
            .and_then(|r| r.parse().ok()),
        images: template_images(obj.data.pointer("/spec/template")),
    }
}

pub(super) fn template_images(template: Option<&Value>) -> Vec<(String, String)> {
    let spec = template.and_then(|t| t.get("spec"));
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| {
            spec.and_then(|s| s.get(*k))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            let text = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (text("name"), text("image"))
        })
        .collect()
}

fn change(obj: &DynamicObject, operation: Operation, namespace: &str, dry_run: bool) -> Change {
    let before = snapshot(obj);
    Change {
        operation,
        kind: Kind::Rollout,
        namespace: namespace.to_string(),
        name: obj.metadata.name.clone().unwrap_or_default(),
        dry_run,
        after: before.clone(),
        before,
        annotations_set: Vec::new(),
        to_revision: None,
        unchanged: false,
        warnings: Vec::new(),
        managed_by: super::manager_of(
            obj.metadata.labels.as_ref(),
            obj.metadata.annotations.as_ref(),
        ),
    }
}

async fn patch(
    client: &Client,
    namespace: &str,
    name: &str,
    body: Value,
    status: bool,
    dry_run: bool,
    doing: &str,
) -> Result<(), Error> {
    let api = api(client, namespace);
    let params = patch_params(dry_run);
    let patch = Patch::Merge(body);
    let done = if status {
        api.patch_status(name, &params, &patch).await
    } else {
        api.patch(name, &params, &patch).await
    };
    done.map(drop)
        .map_err(Error::api(format!("{doing} rollout {namespace}/{name}")))
}

/// `kubectl argo rollouts restart`: `spec.restartAt` now (RFC 3339, seconds), which the
/// controller answers by replacing the pods; no new revision.
pub async fn restart(
    client: &Client,
    namespace: &str,
    name: &str,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Change, Error> {
    let obj = get(client, namespace, name).await?;
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({"spec": {"restartAt": stamp}});
    patch(client, namespace, name, body, false, dry_run, "restarting").await?;
    let mut c = change(&obj, Operation::Restart, namespace, dry_run);
    c.annotations_set = vec![("spec.restartAt".into(), stamp)];
    Ok(c)
}

/// `kubectl argo rollouts pause` (`spec.paused: true`), and its opposite.
pub async fn set_paused(
    client: &Client,
    namespace: &str,
    name: &str,
    paused: bool,
    dry_run: bool,
) -> Result<Change, Error> {
    // The plugin patches whatever the Rollout holds (pausing a paused one changes nothing).
    let obj = get(client, namespace, name).await?;
    let body = json!({"spec": {"paused": paused}});
    let doing = if paused { "pausing" } else { "resuming" };
    patch(client, namespace, name, body, false, dry_run, doing).await?;
    let operation = if paused {
        Operation::Pause
    } else {
        Operation::Resume
    };
    Ok(change(&obj, operation, namespace, dry_run))
}

/// `kubectl argo rollouts promote [--full]`, `abort`, `retry`: the plugin's patches, the
/// status ones through the status subresource.
pub async fn step(
    client: &Client,
    namespace: &str,
    name: &str,
    verb: StepVerb,
    dry_run: bool,
) -> Result<Change, Error> {
    let obj = get(client, namespace, name).await?;
    let (spec, status) = match verb {
        StepVerb::Advance { full: false } => advance_patches(&obj),
        StepVerb::Advance { full: true } => {
            let status = obj.data.get("status");
            let at = |k: &str| status.and_then(|s| s.get(k)).and_then(Value::as_str);
            let promoted = at("currentPodHash") == at("stableRS");
            (
                None,
                (!promoted).then(|| json!({"status": {"promoteFull": true}})),
            )
        }
        StepVerb::Abort => (None, Some(json!({"status": {"abort": true}}))),
        StepVerb::Retry => (None, Some(json!({"status": {"abort": false}}))),
    };
    let unchanged = spec.is_none() && status.is_none();
    let doing = match verb {
        StepVerb::Advance { .. } => "advancing",
        StepVerb::Abort => "aborting",
        StepVerb::Retry => "retrying",
    };
    if let Some(body) = status {
        patch(client, namespace, name, body, true, dry_run, doing).await?;
    }
    if let Some(body) = spec {
        patch(client, namespace, name, body, false, dry_run, doing).await?;
    }
    let mut c = change(&obj, Operation::Step { verb }, namespace, dry_run);
    c.unchanged = unchanged;
    Ok(c)
}

/// The plugin's `promote` without flags (`getPatches`' default branch): unpause, and clear the
/// pause conditions, or move past a step that has none (an analysis or experiment running).
fn advance_patches(obj: &DynamicObject) -> (Option<Value>, Option<Value>) {
    let spec_paused = obj.data.pointer("/spec/paused") == Some(&Value::Bool(true));
    let spec = spec_paused.then(|| json!({"spec": {"paused": false}}));
    let status = obj.data.get("status");
    let conditions = status
        .and_then(|s| s.get("pauseConditions"))
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    let steps = obj
        .data
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .map(Vec::len)
        .filter(|n| *n > 0);
    let next_step = || {
        let index = status
            .and_then(|s| s.get("currentStepIndex"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        steps.map(|n| if index < n as i64 { index + 1 } else { index })
    };
    let inconclusive = status
        .and_then(|s| s.pointer("/canary/currentStepAnalysisRunStatus/status"))
        .and_then(Value::as_str)
        == Some("Inconclusive");
    let controller_pause =
        status.and_then(|s| s.get("controllerPause")) == Some(&Value::Bool(true));
    let status = if inconclusive && conditions && controller_pause {
        next_step().map(|i| {
            json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": i}})
        })
    } else if conditions {
        Some(json!({"status": {"pauseConditions": null}}))
    } else {
        next_step().map(|i| json!({"status": {"pauseConditions": null, "currentStepIndex": i}}))
    };
    (spec, status)
}

/// The Rollout's ReplicaSets (by its selector, owned by it), each with its revision.
pub(super) async fn replica_sets(
    client: &Client,
    namespace: &str,
    obj: &DynamicObject,
) -> Result<Vec<(i64, ReplicaSet)>, Error> {
    let selector: LabelSelector = obj
        .data
        .pointer("/spec/selector")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let list = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector_string(&selector)))
        .await
        .map_err(Error::api(format!(
            "listing the ReplicaSets of rollout {namespace}/{}",
            obj.metadata.name.clone().unwrap_or_default()
        )))?;
    Ok(list
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .filter_map(|rs| {
            let revision = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                .and_then(|r| r.parse().ok())?;
            Some((revision, rs))
        })
        .collect())
}

/// `kubectl argo rollouts undo [--to-revision N]`: the template of the revision asked for (or
/// the one before the newest) put back with a JSON patch, without the hash label; a template
/// that already matches is skipped, as the plugin says.
pub async fn undo(
    client: &Client,
    namespace: &str,
    name: &str,
    to_revision: Option<i64>,
    dry_run: bool,
) -> Result<Change, Error> {
    let obj = get(client, namespace, name).await?;
    let mut sets = replica_sets(client, namespace, &obj).await?;
    sets.sort_by_key(|(r, _)| *r);
    let available = || {
        sets.iter()
            .map(|(r, _)| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (revision, rs) = match to_revision {
        Some(n) => sets
            .iter()
            .find(|(r, _)| *r == n)
            .ok_or_else(|| Error::RevisionNotFound {
                kind: Kind::Rollout,
                name: name.to_string(),
                revision: n,
                available: available(),
            })?,
        None => sets.iter().rev().nth(1).ok_or_else(|| Error::NoHistory {
            kind: Kind::Rollout,
            name: name.to_string(),
        })?,
    };
    let template = without_hash(
        rs.spec
            .as_ref()
            .and_then(|s| s.template.clone())
            .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
            .unwrap_or(Value::Null),
    );
    let current = without_hash(
        obj.data
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null),
    );
    let mut c = change(&obj, Operation::Rollback, namespace, dry_run);
    c.to_revision = Some(*revision);
    if derivative(&current, &template) {
        c.unchanged = true;
        return Ok(c);
    }
    c.after = Snapshot {
        revision: sets.last().map(|(r, _)| r + 1),
        images: template_images(Some(&template)),
    };
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/template", "value": template}
    ]))
    .map_err(|e| Error::Malformed {
        what: format!("the template of revision {revision}: {e}"),
    })?;
    api(client, namespace)
        .patch(name, &patch_params(dry_run), &Patch::<Value>::Json(ops))
        .await
        .map_err(Error::api(format!(
            "rolling back rollout {namespace}/{name}"
        )))?;
    Ok(c)
}

/// A pod template without Argo Rollouts' hash label.
fn without_hash(mut template: Value) -> Value {
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    template
}

/// apimachinery's `Semantic.DeepDerivative(a, b)`: every field set in `a` equals `b`'s (unset,
/// empty and zero fields of `a` are not compared), which is how the plugin decides a template
/// already matches a revision's.
fn derivative(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) => true,
        (Value::String(s), _) if s.is_empty() => true,
        (Value::Bool(false), _) => true,
        (Value::Number(n), _) if n.as_f64() == Some(0.0) => true,
        (Value::Object(m), _) if m.is_empty() => true,
        (Value::Array(v), _) if v.is_empty() => true,
        (Value::Object(am), Value::Object(bm)) => am
            .iter()
            .all(|(k, v)| is_unset(v) || bm.get(k).is_some_and(|w| derivative(v, w))),
        (Value::Array(av), Value::Array(bv)) => {
            av.len() == bv.len() && av.iter().zip(bv).all(|(x, y)| derivative(x, y))
        }
        _ => a == b,
    }
}

fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Bool(true) => false,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_matches_a_defaulted_copy_of_itself_but_not_another_image() {
        let written = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "web:1"}]}});
        let defaulted = json!({"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "app", "image": "web:1",
                "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}});
        assert!(derivative(&written, &defaulted));
        let other = json!({"spec": {"containers": [{"name": "app", "image": "web:2"}]}});
        assert!(!derivative(&other, &defaulted));
        assert!(!derivative(&defaulted, &written), "set fields must match");
    }
}
