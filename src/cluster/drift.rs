//! Every revision of a namespace's workloads since a time, with what the cluster says about
//! who made it: the raw material of `pitcrew audit drift`, which matches each one against the
//! trail (its `kubernetes.io/change-cause` names the pitcrew command that made it, or not).

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::objects::Workload;
use super::{Client, Error};
use crate::command::Kind;

/// One revision of one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revisioned {
    pub kind: Kind,
    pub name: String,
    pub namespace: String,
    pub revision: i64,
    pub created: Option<DateTime<Utc>>,
    pub change_cause: Option<String>,
    pub images: Vec<(String, String)>,
    /// Who last wrote the workload around the revision's time, from its managed fields
    /// (`kubectl-set (Update)`; the API server keeps one entry per writer, its latest).
    pub writers: Vec<String>,
}

/// The field managers that wrote `meta`'s object within a few seconds of `at`.
fn writers_around(meta: &ObjectMeta, at: Option<DateTime<Utc>>) -> Vec<String> {
    let Some(at) = at else {
        return Vec::new();
    };
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|m| {
            m.time.as_ref().is_some_and(|t| {
                DateTime::parse_from_rfc3339(&t.0.to_string())
                    .map(|t| (t.with_timezone(&Utc) - at).num_seconds().abs() <= 5)
                    .unwrap_or(false)
            })
        })
        .map(|m| {
            format!(
                "{} ({})",
                m.manager.clone().unwrap_or_else(|| "unknown".into()),
                m.operation.clone().unwrap_or_default()
            )
        })
        .collect()
}

/// Every object of kind `K` in `namespace`.
async fn list<K>(client: &Client, namespace: &str) -> Result<std::vec::IntoIter<K>, Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    Ok(Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(Error::api(format!(
            "listing the {kind}s of namespace {namespace}"
        )))?
        .items
        .into_iter())
}

/// The revisions of every Deployment, StatefulSet and DaemonSet in `namespace` made at or
/// after `since`, oldest first.
pub async fn revisions_since(
    client: &Client,
    namespace: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Revisioned>, Error> {
    let mut workloads: Vec<Workload> = Vec::new();
    workloads.extend(
        list::<Deployment>(client, namespace)
            .await?
            .map(Workload::Deployment),
    );
    workloads.extend(
        list::<StatefulSet>(client, namespace)
            .await?
            .map(Workload::StatefulSet),
    );
    workloads.extend(
        list::<DaemonSet>(client, namespace)
            .await?
            .map(Workload::DaemonSet),
    );
    let mut out = Vec::new();
    for w in &workloads {
        let meta = match w {
            Workload::Deployment(o) => &o.metadata,
            Workload::StatefulSet(o) => &o.metadata,
            Workload::DaemonSet(o) => &o.metadata,
        };
        for r in super::history(client, namespace, w).await? {
            if r.created.is_some_and(|c| c < since) {
                continue;
            }
            out.push(Revisioned {
                kind: w.kind(),
                name: w.name(),
                namespace: namespace.to_string(),
                revision: r.number,
                writers: writers_around(meta, r.created),
                created: r.created,
                change_cause: r.change_cause,
                images: r.images,
            });
        }
    }
    out.sort_by_key(|r| (r.created, r.name.clone(), r.revision));
    Ok(out)
}
