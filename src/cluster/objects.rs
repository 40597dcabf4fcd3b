//! The three workload kinds behind one type, and what pitcrew reads from them.

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;

use super::Error;
use crate::command::Kind;
use crate::config::suggestion_suffix;

/// The annotation the Deployment controller keeps the revision number in.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The label the Deployment controller adds to ReplicaSet templates.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// A fetched workload.
#[derive(Debug, Clone)]
pub enum Workload {
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
}

/// What a workload runs, for "before → after" messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The rollout revision (Deployment: its revision annotation; StatefulSet/DaemonSet: the
    /// newest ControllerRevision), when known.
    pub revision: Option<i64>,
    /// `(container, image)` in pod-spec order, init containers first.
    pub images: Vec<(String, String)>,
}

impl Workload {
    /// Reads a workload; a missing one is reported with the closest names in the namespace.
    pub async fn get(
        client: &Client,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Workload, Error> {
        let doing = format!("reading {kind} {namespace}/{name}");
        let found = match kind {
            Kind::Deployment => Api::<Deployment>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await
                .map_err(Error::api(doing))?
                .map(Workload::Deployment),
            Kind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await
                .map_err(Error::api(doing))?
                .map(Workload::StatefulSet),
            Kind::DaemonSet => Api::<DaemonSet>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await
                .map_err(Error::api(doing))?
                .map(Workload::DaemonSet),
            Kind::Application | Kind::Kustomization | Kind::HelmRelease | Kind::Rollout => {
                return Err(Error::NotAWorkload {
                    kind,
                    name: name.to_string(),
                });
            }
        };
        match found {
            Some(w) => Ok(w),
            None => Err(not_found(client, kind, namespace, name).await),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Workload::Deployment(_) => Kind::Deployment,
            Workload::StatefulSet(_) => Kind::StatefulSet,
            Workload::DaemonSet(_) => Kind::DaemonSet,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Workload::Deployment(o) => o.name_any(),
            Workload::StatefulSet(o) => o.name_any(),
            Workload::DaemonSet(o) => o.name_any(),
        }
    }

    /// The workload's own annotations (not its pod template's).
    pub fn annotations(&self) -> &std::collections::BTreeMap<String, String> {
        match self {
            Workload::Deployment(o) => o.annotations(),
            Workload::StatefulSet(o) => o.annotations(),
            Workload::DaemonSet(o) => o.annotations(),
        }
    }

    /// The Argo CD Application or Flux object that manages it, from its marks.
    pub fn managed_by(&self) -> Option<super::GitopsRef> {
        let labels = match self {
            Workload::Deployment(o) => o.labels(),
            Workload::StatefulSet(o) => o.labels(),
            Workload::DaemonSet(o) => o.labels(),
        };
        super::manager_of(Some(labels), Some(self.annotations()))
    }

    pub fn uid(&self) -> Option<String> {
        match self {
            Workload::Deployment(o) => o.meta().uid.clone(),
            Workload::StatefulSet(o) => o.meta().uid.clone(),
            Workload::DaemonSet(o) => o.meta().uid.clone(),
        }
    }

    pub fn template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Workload::Deployment(o) => o.spec.as_ref().map(|s| &s.template),
            Workload::StatefulSet(o) => o.spec.as_ref().map(|s| &s.template),
            Workload::DaemonSet(o) => o.spec.as_ref().map(|s| &s.template),
        }
    }

    pub fn selector(&self) -> Option<&LabelSelector> {
        match self {
            Workload::Deployment(o) => o.spec.as_ref().map(|s| &s.selector),
            Workload::StatefulSet(o) => o.spec.as_ref().map(|s| &s.selector),
            Workload::DaemonSet(o) => o.spec.as_ref().map(|s| &s.selector),
        }
    }

    /// Patches `kind/name` and returns the object as the API server answered (for a dry run:
    /// as it would be). `doing` names the step in the error message.
    pub async fn patch(
        client: &Client,
        kind: Kind,
        namespace: &str,
        name: &str,
        params: &PatchParams,
        patch: &Patch<serde_json::Value>,
        doing: String,
    ) -> Result<Workload, Error> {
        Ok(match kind {
            Kind::Deployment => Workload::Deployment(
                Api::<Deployment>::namespaced(client.clone(), namespace)
                    .patch(name, params, patch)
                    .await
                    .map_err(Error::api(doing))?,
            ),
            Kind::StatefulSet => Workload::StatefulSet(
                Api::<StatefulSet>::namespaced(client.clone(), namespace)
                    .patch(name, params, patch)
                    .await
                    .map_err(Error::api(doing))?,
            ),
            Kind::DaemonSet => Workload::DaemonSet(
                Api::<DaemonSet>::namespaced(client.clone(), namespace)
                    .patch(name, params, patch)
                    .await
                    .map_err(Error::api(doing))?,
            ),
            Kind::Application | Kind::Kustomization | Kind::HelmRelease | Kind::Rollout => {
                return Err(Error::NotAWorkload {
                    kind,
                    name: name.to_string(),
                });
            }
        })
    }

    pub fn images(&self) -> Vec<(String, String)> {
        self.template().map(images_of).unwrap_or_default()
    }
}

pub fn images_of(template: &PodTemplateSpec) -> Vec<(String, String)> {
    let Some(spec) = &template.spec else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

async fn not_found(client: &Client, kind: Kind, namespace: &str, name: &str) -> Error {
    // Best effort: a failed listing only loses the suggestion.
    let names: Vec<String> = match kind {
        Kind::Deployment => list_names::<Deployment>(client, namespace).await,
        Kind::StatefulSet => list_names::<StatefulSet>(client, namespace).await,
        Kind::DaemonSet => list_names::<DaemonSet>(client, namespace).await,
        Kind::Application | Kind::Kustomization | Kind::HelmRelease | Kind::Rollout => Vec::new(),
    };
    let mut suggestion = suggestion_suffix(name, names.iter().map(String::as_str));
    if suggestion.is_empty() && !names.is_empty() && names.len() <= 10 {
        suggestion = format!("; {kind}s there: {}", names.join(", "));
    }
    Error::NotFound {
        kind,
        name: name.to_string(),
        namespace: namespace.to_string(),
        suggestion,
    }
}

async fn list_names<K>(client: &Client, namespace: &str) -> Vec<String>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .list_metadata(&ListParams::default())
        .await
        .map(|l| l.items.into_iter().map(|o| o.name_any()).collect())
        .unwrap_or_default()
}

/// A label selector in the string form the API's `labelSelector` parameter takes
/// (what `metav1.LabelSelectorAsSelector(...).String()` produces).
pub fn selector_string(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// Whether `owner_uid` is the controller of `obj` (`metav1.IsControlledBy`).
fn controlled_by<K: Resource>(obj: &K, owner_uid: &str) -> bool {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == owner_uid)
}

pub fn revision_annotation<K: Resource>(obj: &K) -> Option<i64> {
    obj.meta()
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .parse()
        .ok()
}

/// The ReplicaSets a Deployment controls (by selector and controller reference).
pub async fn replica_sets(
    client: &Client,
    namespace: &str,
    workload: &Workload,
) -> Result<Vec<ReplicaSet>, Error> {
    let (Some(uid), Some(selector)) = (workload.uid(), workload.selector()) else {
        return Err(Error::Malformed {
            what: "workload without uid or selector".into(),
        });
    };
    let list = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector_string(selector)))
        .await
        .map_err(Error::api(format!(
            "listing the ReplicaSets of deployment {}",
            workload.name()
        )))?;
    Ok(list
        .items
        .into_iter()
        .filter(|rs| controlled_by(rs, &uid))
        .collect())
}

/// The ControllerRevisions a StatefulSet or DaemonSet controls, oldest first.
pub async fn controller_revisions(
    client: &Client,
    namespace: &str,
    workload: &Workload,
) -> Result<Vec<ControllerRevision>, Error> {
    let (Some(uid), Some(selector)) = (workload.uid(), workload.selector()) else {
        return Err(Error::Malformed {
            what: "workload without uid or selector".into(),
        });
    };
    let list = Api::<ControllerRevision>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector_string(selector)))
        .await
        .map_err(Error::api(format!(
            "listing the ControllerRevisions of {} {}",
            workload.kind(),
            workload.name()
        )))?;
    let mut revisions: Vec<ControllerRevision> = list
        .items
        .into_iter()
        .filter(|r| controlled_by(r, &uid))
        .collect();
    revisions.sort_by_key(|r| r.revision);
    Ok(revisions)
}

/// A pod template as JSON with nulls, empty maps and empty lists removed, so that templates
/// compare the way `apiequality.Semantic.DeepEqual` compares them (nil and empty are equal).
pub fn normalized(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let cleaned: serde_json::Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| (k, normalized(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect();
            Value::Object(cleaned)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalized).collect()),
        other => other,
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Object(m) => m.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A template without the controller's `pod-template-hash` label, normalised.
pub fn template_without_hash(template: &PodTemplateSpec) -> Result<serde_json::Value, Error> {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    serde_json::to_value(&t)
        .map(normalized)
        .map_err(|e| Error::Malformed {
            what: format!("pod template: {e}"),
        })
}

/// Reads a custom resource (a Rollout, an Application, a Flux object). A missing one is
/// `NotFound`; a cluster that does not serve the resource at all says which CRD (`served`) and
/// which project (`installer`) is missing.
pub(super) async fn get_custom(
    api: &Api<kube::api::DynamicObject>,
    kind: Kind,
    namespace: &str,
    name: &str,
    served: &str,
    installer: &str,
) -> Result<kube::api::DynamicObject, Error> {
    let not_found = |suggestion: String| Error::NotFound {
        kind,
        name: name.to_string(),
        namespace: namespace.to_string(),
        suggestion,
    };
    match api.get_opt(name).await {
        Ok(Some(o)) => Ok(o),
        Ok(None) => Err(not_found(String::new())),
        // The API server does not know the resource at all: its CRD is not installed.
        Err(kube::Error::Api(s)) if s.code == 404 => Err(not_found(format!(
            " (the cluster does not serve {served}: is {installer} installed?)"
        ))),
        Err(e) => Err(Error::api(format!("reading {kind} {namespace}/{name}"))(e)),
    }
}
