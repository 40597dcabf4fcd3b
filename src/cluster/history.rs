//! `history`: the revisions of a workload with change cause, images and age, as
//! `kubectl rollout history` lists them (ReplicaSets for a Deployment, ControllerRevisions for
//! a StatefulSet or DaemonSet).

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use serde::Serialize;

use super::Error;
use super::objects::{
    Workload, controller_revisions, images_of, replica_sets, revision_annotation,
};

const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    pub number: i64,
    pub change_cause: Option<String>,
    pub images: Vec<(String, String)>,
    pub created: Option<DateTime<Utc>>,
    /// Whether the workload runs this revision's template now.
    pub current: bool,
}

/// The workload's revisions, oldest first.
pub async fn history(
    client: &Client,
    namespace: &str,
    workload: &Workload,
) -> Result<Vec<Revision>, Error> {
    let mut revisions = match workload {
        Workload::Deployment(d) => {
            let current = revision_annotation(d);
            replica_sets(client, namespace, workload)
                .await?
                .into_iter()
                .filter_map(|rs| {
                    let number = revision_annotation(&rs)?;
                    let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
                    Some(revision(
                        &rs.metadata,
                        number,
                        template,
                        Some(number) == current,
                    ))
                })
                .collect::<Vec<_>>()
        }
        Workload::StatefulSet(_) | Workload::DaemonSet(_) => {
            let all = controller_revisions(client, namespace, workload).await?;
            let newest = all.last().map(|r| r.revision);
            all.iter()
                .map(|cr| {
                    let template: Option<PodTemplateSpec> = cr
                        .data
                        .as_ref()
                        .and_then(|d| d.0.get("spec")?.get("template").cloned())
                        .and_then(|t| serde_json::from_value(t).ok());
                    revision(
                        &cr.metadata,
                        cr.revision,
                        template.as_ref(),
                        Some(cr.revision) == newest,
                    )
                })
                .collect()
        }
    };
    revisions.sort_by_key(|r| r.number);
    Ok(revisions)
}

pub(super) fn revision(
    meta: &ObjectMeta,
    number: i64,
    template: Option<&PodTemplateSpec>,
    current: bool,
) -> Revision {
    Revision {
        number,
        change_cause: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(CHANGE_CAUSE))
            .cloned(),
        images: template.map(images_of).unwrap_or_default(),
        created: meta
            .creation_timestamp
            .as_ref()
            .and_then(|t| DateTime::parse_from_rfc3339(&t.0.to_string()).ok())
            .map(|t| t.with_timezone(&Utc)),
        current,
    }
}
