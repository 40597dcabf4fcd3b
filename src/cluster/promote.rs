//! `promote`: run in one environment the images another environment runs.
//!
//! For each workload of the app in the source namespaces (every kind, or the one named), the
//! same-named workload of the same kind must exist in the destination with the same
//! containers; each destination container gets the source container's image, pinned to the
//! digest the source pods run where the pods report one. Nothing else is copied: replicas,
//! environment variables, resources and every other field stay as the destination has them.
//! Workloads managed by Argo CD or Flux are refused unless the environment allows it or
//! pitcrew holds their manager's reconciliation suspended (`gitops suspend`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch};
use kube::{Api, Client};
use serde::Serialize;

use super::objects::{Workload, images_of, selector_string};
use super::status::snapshot;
use super::{Change, Error, GitopsRef, patch_params};
use crate::command::Kind;

/// Which GitOps-managed workloads a promote may change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitopsAllowed {
    /// The environment allows changing them all (`allow_gitops`).
    pub all: bool,
    /// Their managers whose reconciliation pitcrew holds suspended now.
    pub suspended: Vec<GitopsRef>,
}

impl GitopsAllowed {
    fn allows(&self, manager: &GitopsRef) -> bool {
        self.all
            || self
                .suspended
                .iter()
                .any(|s| s.kind == manager.kind && s.name == manager.name)
    }
}

/// One side of a promotion: a namespace on a cluster.
pub struct Side<'a> {
    pub client: &'a Client,
    pub namespaces: Vec<String>,
}

/// Why a promotion cannot go ahead, listing every difference at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub problems: Vec<String>,
}

/// The plan for one workload.
#[derive(Debug, Clone)]
struct Step {
    kind: Kind,
    name: String,
    namespace: String,
    images: Vec<(String, String)>,
    init: Vec<String>,
}

/// Finds `name` (of `kinds`) on both sides, checks that they match, and sets the destination
/// images. Returns one [`Change`] per workload whose images change.
pub async fn promote(
    source: &Side<'_>,
    destination: &Side<'_>,
    kinds: &[Kind],
    name: &str,
    gitops: &GitopsAllowed,
    dry_run: bool,
    cause: Option<&str>,
) -> Result<Result<Vec<Change>, Mismatch>, Error> {
    let mut problems = Vec::new();
    let mut steps = Vec::new();
    for &kind in kinds {
        let src = find(source, kind, name).await?;
        let dst = find(destination, kind, name).await?;
        let (src, dst) = match (src, dst) {
            (None, None) => continue,
            (Some(_), None) => {
                problems.push(format!(
                    "{kind}/{name} exists in the source but not in the destination"
                ));
                continue;
            }
            (None, Some(_)) => {
                problems.push(format!(
                    "{kind}/{name} exists in the destination but not in the source"
                ));
                continue;
            }
            (Some(s), Some(d)) => (s, d),
        };
        if let Some(manager) = dst.1.managed_by()
            && !gitops.allows(&manager)
        {
            problems.push(format!(
                "{kind}/{name} in the destination is managed by GitOps ({manager}), which would undo the promote; promote through Git, or suspend its reconciliation first with `gitops suspend {}/{} --for 1h …`",
                manager.kind, manager.name
            ));
            continue;
        }
        let source_images = pinned_images(source.client, &src.0, &src.1).await?;
        let dest_images = dst.1.images();
        let src_names: Vec<&String> = source_images.iter().map(|(c, _)| c).collect();
        let dst_names: Vec<&String> = dest_images.iter().map(|(c, _)| c).collect();
        if src_names != dst_names {
            problems.push(format!(
                "{kind}/{name} has containers [{}] in the source but [{}] in the destination",
                join(&src_names),
                join(&dst_names)
            ));
            continue;
        }
        let init = dst
            .1
            .template()
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.init_containers.as_ref())
            .map(|c| c.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        steps.push(Step {
            kind,
            name: name.to_string(),
            namespace: dst.0,
            images: source_images,
            init,
        });
    }
    if steps.is_empty() && problems.is_empty() {
        problems.push(format!("no workload named `{name}` in either environment"));
    }
    if !problems.is_empty() {
        return Ok(Err(Mismatch { problems }));
    }
    let mut changes = Vec::new();
    for step in steps {
        if let Some(change) = apply(destination.client, &step, dry_run, cause).await? {
            changes.push(change);
        }
    }
    Ok(Ok(changes))
}

/// The workload of `kind` named `name` in one of the side's namespaces.
async fn find(
    side: &Side<'_>,
    kind: Kind,
    name: &str,
) -> Result<Option<(String, Workload)>, Error> {
    for ns in &side.namespaces {
        match Workload::get(side.client, kind, ns, name).await {
            Ok(w) => return Ok(Some((ns.clone(), w))),
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The source's images, each pinned to the digest its running pods report (`imageID`), when
/// every pod running that image agrees on one.
async fn pinned_images(
    client: &Client,
    namespace: &str,
    workload: &Workload,
) -> Result<Vec<(String, String)>, Error> {
    let images = workload.images();
    let Some(selector) = workload.selector() else {
        return Ok(images);
    };
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector_string(selector)))
        .await
        .map_err(Error::api(format!(
            "listing the pods of {} {}",
            workload.kind(),
            workload.name()
        )))?;
    let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pod in &pods.items {
        let status = pod.status.as_ref();
        let all = status
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .chain(
                status
                    .and_then(|s| s.init_container_statuses.as_ref())
                    .into_iter()
                    .flatten(),
            );
        for cs in all {
            if let Some(digest) = cs.image_id.split_once("@sha256:").map(|(_, d)| d) {
                digests
                    .entry(format!("{}|{}", cs.name, cs.image))
                    .or_default()
                    .push(digest.to_string());
            }
        }
    }
    Ok(images
        .into_iter()
        .map(|(container, image)| {
            if image.contains("@sha256:") {
                return (container, image);
            }
            let seen = digests.get(&format!("{container}|{image}"));
            match seen {
                Some(d) if !d.is_empty() && d.iter().all(|x| x == &d[0]) => {
                    let pinned = format!("{image}@sha256:{}", d[0]);
                    (container, pinned)
                }
                _ => (container, image),
            }
        })
        .collect())
}

async fn apply(
    client: &Client,
    step: &Step,
    dry_run: bool,
    cause: Option<&str>,
) -> Result<Option<Change>, Error> {
    let current = Workload::get(client, step.kind, &step.namespace, &step.name).await?;
    if current.images() == step.images {
        return Ok(None);
    }
    let before = snapshot(client, &step.namespace, &current).await?;
    let (init, main): (Vec<_>, Vec<_>) =
        step.images.iter().partition(|(c, _)| step.init.contains(c));
    let entries = |list: Vec<&(String, String)>| -> Vec<serde_json::Value> {
        list.into_iter()
            .map(|(c, i)| serde_json::json!({"name": c, "image": i}))
            .collect()
    };
    let mut spec = serde_json::json!({"containers": entries(main)});
    if !init.is_empty() {
        spec["initContainers"] = serde_json::Value::Array(entries(init));
    }
    let patch = super::with_cause(
        serde_json::json!({"spec": {"template": {"spec": spec}}}),
        cause,
    );
    let patched = Workload::patch(
        client,
        step.kind,
        &step.namespace,
        &step.name,
        &patch_params(dry_run),
        &Patch::Strategic(patch),
        format!(
            "promoting images into {} {}/{}",
            step.kind, step.namespace, step.name
        ),
    )
    .await?;
    Ok(Some(Change {
        operation: super::Operation::SetImages,
        kind: step.kind,
        namespace: step.namespace.clone(),
        name: step.name.clone(),
        dry_run,
        after: super::Snapshot {
            revision: before.revision.map(|r| r + 1),
            images: patched.template().map(images_of).unwrap_or_default(),
        },
        before,
        annotations_set: Vec::new(),
        to_revision: None,
        unchanged: false,
        warnings: Vec::new(),
        managed_by: current.managed_by(),
    }))
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
