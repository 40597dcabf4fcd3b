//! GitOps objects: suspending and resuming their reconciliation, and finding which one
//! manages a workload.
//!
//! - An Argo CD Application is left as `argocd app set APP --sync-policy none` leaves it
//!   (argo-cd v3 `cmd/util/app.go`, `SetAppSpecOptions`): `spec.syncPolicy.automated`
//!   removed, and `spec.syncPolicy` too when nothing else is left in it. Resuming puts the
//!   `automated` block back exactly as it was (prune, selfHeal, allowEmpty), which
//!   `--sync-policy automated` would not: it writes an empty one.
//! - A Flux Kustomization or HelmRelease is left as `flux suspend|resume` leave it (flux2
//!   `cmd/flux/suspend.go`, `resume.go`: a merge patch from the Go object, whose `suspend` is
//!   `omitempty`): `spec.suspend: true`, then the field removed.
//!
//! Both also carry pitcrew's annotations while suspended (until when, and by which command),
//! so anyone looking at the object in Argo CD's UI or with kubectl sees why and until when.
//! Every patch names the `resourceVersion` it was computed from, so a change made in between
//! is refused (409) rather than overwritten.

use chrono::{DateTime, Utc};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Change, Client, Error, Operation, Snapshot, patch_params};
use crate::command::Kind;

/// Until when pitcrew holds the object's reconciliation suspended (RFC 3339, UTC).
pub const SUSPENDED_UNTIL: &str = "pitcrew.dev/reconciliation-suspended-until";
/// Which pitcrew command suspended it (its audit correlation id and requester).
pub const SUSPENDED_BY: &str = "pitcrew.dev/reconciliation-suspended-by";

/// A GitOps object that manages workloads: an Argo CD Application, a Flux Kustomization or
/// HelmRelease. `namespace` is where the object lives, when the workload's marks say so.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct GitopsRef {
    pub kind: Kind,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl std::fmt::Display for GitopsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        Ok(())
    }
}

/// How a GitOps object reconciles now, read before it is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Whether it reconciles on its own now (Argo CD: automated sync on; Flux: not suspended).
    pub active: bool,
    /// What resuming puts back: Argo CD's `spec.syncPolicy.automated` as it is now (when
    /// active); `null` for Flux, whose resume only removes `spec.suspend`.
    pub restore: Value,
    /// The object's version these were read from; the suspending patch requires it.
    pub resource_version: String,
    /// Argo CD: `spec.syncPolicy` holds nothing but `automated`, so suspending removes it
    /// whole (as `argocd app set --sync-policy none` does).
    #[serde(skip)]
    pub only_automated: bool,
}

fn resource(kind: Kind) -> Result<ApiResource, Error> {
    let (group, version, plural) = match kind {
        Kind::Application => ("argoproj.io", "v1alpha1", "applications"),
        Kind::Kustomization => ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
        Kind::HelmRelease => ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::Rollout => {
            return Err(Error::Malformed {
                what: format!("{kind} is a workload, not a GitOps object"),
            });
        }
    };
    let kind_name = match kind {
        Kind::Application => "Application",
        Kind::Kustomization => "Kustomization",
        _ => "HelmRelease",
    };
    Ok(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind_name),
        plural,
    ))
}

fn api(client: &Client, kind: Kind, namespace: &str) -> Result<Api<DynamicObject>, Error> {
    Ok(Api::namespaced_with(
        client.clone(),
        namespace,
        &resource(kind)?,
    ))
}

async fn get(
    client: &Client,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<DynamicObject, Error> {
    super::objects::get_custom(
        &api(client, kind, namespace)?,
        kind,
        namespace,
        name,
        kind_plural(kind),
        installer(kind),
    )
    .await
}

fn kind_plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Application => "applications.argoproj.io",
        Kind::Kustomization => "kustomizations.kustomize.toolkit.fluxcd.io",
        _ => "helmreleases.helm.toolkit.fluxcd.io",
    }
}

fn installer(kind: Kind) -> &'static str {
    match kind {
        Kind::Application => "Argo CD",
        _ => "Flux",
    }
}

/// How `obj` reconciles now.
fn reconciliation_of(kind: Kind, obj: &DynamicObject) -> Reconciliation {
    let spec = obj.data.get("spec");
    let (active, restore) = match kind {
        Kind::Application => {
            let automated = spec
                .and_then(|s| s.get("syncPolicy"))
                .and_then(|p| p.get("automated"))
                .filter(|a| !a.is_null());
            // Argo CD 3 can keep the block and switch it off with `enabled: false`.
            let on = automated.is_some_and(|a| a.get("enabled") != Some(&Value::Bool(false)));
            (on, automated.cloned().unwrap_or(Value::Null))
        }
        _ => {
            let suspended = spec.and_then(|s| s.get("suspend")) == Some(&Value::Bool(true));
            (!suspended, Value::Null)
        }
    };
    Reconciliation {
        active,
        restore,
        resource_version: obj.metadata.resource_version.clone().unwrap_or_default(),
        only_automated: kind == Kind::Application && sync_policy_empty_without_automated(obj),
    }
}

/// Reads how the object reconciles now.
pub async fn read_reconciliation(
    client: &Client,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<Reconciliation, Error> {
    let obj = get(client, kind, namespace, name).await?;
    Ok(reconciliation_of(kind, &obj))
}

/// Whether `spec.syncPolicy` holds nothing once `automated` is gone (Argo CD's `IsZero`).
fn sync_policy_empty_without_automated(obj: &DynamicObject) -> bool {
    let Some(policy) = obj
        .data
        .get("spec")
        .and_then(|s| s.get("syncPolicy"))
        .and_then(Value::as_object)
    else {
        return true;
    };
    policy.iter().all(|(k, v)| {
        k == "automated"
            || v.is_null()
            || (k == "syncOptions" && v.as_array().is_some_and(Vec::is_empty))
    })
}

fn change(
    operation: Operation,
    kind: Kind,
    namespace: &str,
    name: &str,
    dry_run: bool,
    unchanged: bool,
    annotations_set: Vec<(String, String)>,
) -> Change {
    Change {
        operation,
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        dry_run,
        before: Snapshot::default(),
        after: Snapshot::default(),
        annotations_set,
        to_revision: None,
        unchanged,
        warnings: Vec::new(),
        managed_by: None,
    }
}

/// Suspends the object's reconciliation, if `seen` (read just before) is still how it is.
/// Already suspended: nothing is patched and the change says `unchanged`.
#[allow(clippy::too_many_arguments)]
pub async fn suspend(
    client: &Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    seen: &Reconciliation,
    until: DateTime<Utc>,
    by: &str,
    dry_run: bool,
) -> Result<Change, Error> {
    let operation = Operation::SuspendReconciliation { until };
    if !seen.active {
        return Ok(change(
            operation,
            kind,
            namespace,
            name,
            dry_run,
            true,
            Vec::new(),
        ));
    }
    let stamp = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let metadata = json!({
        "resourceVersion": seen.resource_version,
        "annotations": {SUSPENDED_UNTIL: stamp, SUSPENDED_BY: by},
    });
    let patch = match kind {
        Kind::Application => {
            let sync_policy = if seen.only_automated {
                Value::Null
            } else {
                json!({"automated": null})
            };
            json!({"metadata": metadata, "spec": {"syncPolicy": sync_policy}})
        }
        _ => json!({"metadata": metadata, "spec": {"suspend": true}}),
    };
    api(client, kind, namespace)?
        .patch(name, &patch_params(dry_run), &Patch::Merge(patch))
        .await
        .map_err(Error::api(format!(
            "suspending the reconciliation of {kind} {namespace}/{name}"
        )))?;
    Ok(change(
        operation,
        kind,
        namespace,
        name,
        dry_run,
        false,
        vec![
            (SUSPENDED_UNTIL.to_string(), stamp),
            (SUSPENDED_BY.to_string(), by.to_string()),
        ],
    ))
}

/// Resumes the object's reconciliation: Argo CD gets `restore` back as its `automated` sync
/// policy (it must be known: pitcrew recorded it when it suspended); Flux loses
/// `spec.suspend`. Already reconciling: only pitcrew's annotations are removed, and the
/// change says `unchanged`.
pub async fn resume(
    client: &Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    restore: &Value,
    dry_run: bool,
) -> Result<Change, Error> {
    let obj = get(client, kind, namespace, name).await?;
    let now = reconciliation_of(kind, &obj);
    let ours = obj
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(SUSPENDED_UNTIL) || a.contains_key(SUSPENDED_BY));
    let metadata = json!({
        "resourceVersion": now.resource_version,
        "annotations": {SUSPENDED_UNTIL: null, SUSPENDED_BY: null},
    });
    let patch = if now.active {
        ours.then(|| json!({"metadata": metadata}))
    } else {
        Some(match kind {
            Kind::Application => {
                if !restore.is_object() {
                    return Err(Error::NothingToRestore {
                        name: name.to_string(),
                    });
                }
                json!({"metadata": metadata, "spec": {"syncPolicy": {"automated": restore}}})
            }
            _ => json!({"metadata": metadata, "spec": {"suspend": null}}),
        })
    };
    if let Some(patch) = patch {
        api(client, kind, namespace)?
            .patch(name, &patch_params(dry_run), &Patch::Merge(patch))
            .await
            .map_err(Error::api(format!(
                "resuming the reconciliation of {kind} {namespace}/{name}"
            )))?;
    }
    Ok(change(
        Operation::ResumeReconciliation,
        kind,
        namespace,
        name,
        dry_run,
        now.active,
        Vec::new(),
    ))
}

/// The GitOps object that manages a workload, from the marks Argo CD and Flux leave on it:
/// Argo CD's tracking annotation (`APP:group/Kind:ns/name`, where APP is `ns_app` for
/// Applications outside Argo CD's namespace) or instance label, Flux's name and namespace
/// labels.
pub fn manager_of(
    labels: Option<&std::collections::BTreeMap<String, String>>,
    annotations: Option<&std::collections::BTreeMap<String, String>>,
) -> Option<GitopsRef> {
    let label = |k: &str| labels.and_then(|l| l.get(k)).cloned();
    for (kind, prefix) in [
        (Kind::Kustomization, "kustomize.toolkit.fluxcd.io"),
        (Kind::HelmRelease, "helm.toolkit.fluxcd.io"),
    ] {
        if let Some(name) = label(&format!("{prefix}/name")) {
            return Some(GitopsRef {
                kind,
                name,
                namespace: label(&format!("{prefix}/namespace")),
            });
        }
    }
    if let Some(app) = annotations
        .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
        .and_then(|t| t.split(':').next())
        .filter(|a| !a.is_empty())
    {
        let (namespace, name) = match app.split_once('_') {
            Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
            None => (None, app.to_string()),
        };
        return Some(GitopsRef {
            kind: Kind::Application,
            name,
            namespace,
        });
    }
    label("argocd.argoproj.io/instance").map(|name| GitopsRef {
        kind: Kind::Application,
        name,
        namespace: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn managers_are_read_from_argo_cd_and_flux_marks() {
        let flux = map(&[
            ("kustomize.toolkit.fluxcd.io/name", "apps"),
            ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
        ]);
        assert_eq!(
            manager_of(Some(&flux), None),
            Some(GitopsRef {
                kind: Kind::Kustomization,
                name: "apps".into(),
                namespace: Some("flux-system".into())
            })
        );
        let tracking = map(&[(
            "argocd.argoproj.io/tracking-id",
            "checkout:apps/Deployment:shop/checkout",
        )]);
        assert_eq!(
            manager_of(None, Some(&tracking)).map(|m| (m.kind, m.name)),
            Some((Kind::Application, "checkout".into()))
        );
        let any_namespace = map(&[(
            "argocd.argoproj.io/tracking-id",
            "team-a_checkout:apps/Deployment:shop/checkout",
        )]);
        assert_eq!(
            manager_of(None, Some(&any_namespace)).and_then(|m| m.namespace),
            Some("team-a".into())
        );
        assert_eq!(manager_of(Some(&map(&[("app", "x")])), None), None);
    }
}
