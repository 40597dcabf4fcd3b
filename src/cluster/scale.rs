//! `scale`, as `kubectl scale` does it: a patch of the workload's `scale` subresource
//! (`spec.replicas`), for Deployments and StatefulSets. pitcrew first looks for a
//! HorizontalPodAutoscaler (autoscaling/v2) targeting the workload: a count outside its
//! bounds would be undone by it, so that is refused; with `--hpa` the autoscaler's bounds move
//! instead (a merge patch of `minReplicas`/`maxReplicas`, as `kubectl patch hpa` would make):
//! scaling up raises its floor to N, scaling down lowers its ceiling to N, and the
//! autoscaler does the scaling. An autoscaler that cannot be looked up refuses (fail closed).

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, ListParams, Patch};
use kube::{Client, ResourceExt};

use super::objects::Workload;
use super::status::snapshot;
use super::{Change, Error, Operation, patch_params};
use crate::command::Kind;

/// The autoscaler of a workload: its name and bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autoscaler {
    pub name: String,
    pub min: i32,
    pub max: i32,
}

/// Scales `kind/name` in `namespace` to `replicas`, or with `hpa` moves its autoscaler's
/// bounds to hold `replicas`.
pub async fn scale(
    client: &Client,
    namespace: &str,
    kind: Kind,
    name: &str,
    replicas: i32,
    hpa: bool,
    dry_run: bool,
) -> Result<Change, Error> {
    let current = Workload::get(client, kind, namespace, name).await?;
    let now = match &current {
        Workload::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
        Workload::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
        Workload::DaemonSet(_) => return Err(Error::NotScalable { name: name.into() }),
    }
    // Kubernetes' default when the field is left out.
    .unwrap_or(1);
    let before = snapshot(client, namespace, &current).await?;
    let autoscaler = autoscaler_of(client, namespace, kind, name).await?;
    let change = |operation, unchanged, warnings| Change {
        operation,
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        dry_run,
        before: before.clone(),
        after: before.clone(),
        annotations_set: Vec::new(),
        to_revision: None,
        unchanged,
        warnings,
        managed_by: current.managed_by(),
    };
    if hpa {
        let Some(a) = autoscaler else {
            return Err(Error::NoAutoscaler {
                kind,
                name: name.into(),
            });
        };
        let (min, max) = if replicas >= now {
            (replicas, a.max.max(replicas))
        } else {
            (a.min.min(replicas), replicas)
        };
        let operation = Operation::ScaleAutoscaler {
            autoscaler: a.name.clone(),
            min: (a.min, min),
            max: (a.max, max),
        };
        if (min, max) == (a.min, a.max) {
            return Ok(change(operation, true, Vec::new()));
        }
        let patch = serde_json::json!({"spec": {"minReplicas": min, "maxReplicas": max}});
        Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), namespace)
            .patch(&a.name, &patch_params(dry_run), &Patch::Merge(&patch))
            .await
            .map_err(Error::api(format!(
                "changing the bounds of HorizontalPodAutoscaler {namespace}/{}",
                a.name
            )))?;
        return Ok(change(operation, false, Vec::new()));
    }
    let mut warnings = Vec::new();
    if let Some(a) = &autoscaler {
        if replicas < a.min || replicas > a.max {
            return Err(Error::OutsideAutoscaler {
                kind,
                name: name.into(),
                replicas,
                autoscaler: a.name.clone(),
                min: a.min,
                max: a.max,
            });
        }
        warnings.push(format!(
            "HorizontalPodAutoscaler {} keeps {kind}/{name} between {} and {} replicas by its metrics, and may change this count again",
            a.name, a.min, a.max
        ));
    }
    let operation = Operation::Scale {
        from: now,
        to: replicas,
    };
    if replicas == now {
        return Ok(change(operation, true, warnings));
    }
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    let doing = format!("scaling {kind} {namespace}/{name}");
    let params = patch_params(dry_run);
    match kind {
        Kind::Deployment => {
            Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), namespace)
                .patch_scale(name, &params, &Patch::Merge(&patch))
                .await
                .map(|_| ())
        }
        _ => Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client.clone(), namespace)
            .patch_scale(name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ()),
    }
    .map_err(Error::api(doing))?;
    Ok(change(operation, false, warnings))
}

/// The HorizontalPodAutoscaler whose `scaleTargetRef` is `kind/name` (apps group), if any.
pub async fn autoscaler_of(
    client: &Client,
    namespace: &str,
    kind: Kind,
    name: &str,
) -> Result<Option<Autoscaler>, Error> {
    let wanted = match kind {
        Kind::Deployment => "Deployment",
        Kind::StatefulSet => "StatefulSet",
        Kind::DaemonSet
        | Kind::Application
        | Kind::Kustomization
        | Kind::HelmRelease
        | Kind::Rollout => {
            return Ok(None);
        }
    };
    let all = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(Error::api(format!(
            "looking for a HorizontalPodAutoscaler of {kind} {namespace}/{name}"
        )))?;
    Ok(all.items.into_iter().find_map(|h| {
        let spec = &h.spec;
        let target = &spec.scale_target_ref;
        let group_ok = target
            .api_version
            .as_deref()
            .is_none_or(|v| v.starts_with("apps/"));
        (target.kind == wanted && target.name == name && group_ok).then(|| Autoscaler {
            name: h.name_any(),
            min: spec.min_replicas.unwrap_or(1),
            max: spec.max_replicas,
        })
    }))
}
