//! `pause` and `resume`, as `kubectl rollout pause|resume` do them
//! (k8s.io/kubectl/pkg/polymorphichelpers/objectpauser.go and objectresumer.go): a patch of
//! the Deployment's `spec.paused`. Pausing a paused Deployment, or resuming one that is not
//! paused, is refused as kubectl refuses it ("is already paused", "is not paused"): nothing is
//! patched. Only Deployments can be paused.

use kube::Client;
use kube::api::Patch;

use super::objects::Workload;
use super::status::snapshot;
use super::{Change, Error, Operation, patch_params};
use crate::command::Kind;

/// Pauses (`paused`) or resumes the Deployment `name` in `namespace`.
pub async fn set_paused(
    client: &Client,
    namespace: &str,
    name: &str,
    paused: bool,
    dry_run: bool,
) -> Result<Change, Error> {
    let current = Workload::get(client, Kind::Deployment, namespace, name).await?;
    let Workload::Deployment(d) = &current else {
        return Err(Error::Malformed {
            what: format!("{namespace}/{name} read as a Deployment is not one"),
        });
    };
    let is_paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    if is_paused == paused {
        return Err(Error::PausedAlready {
            name: name.to_string(),
            paused,
        });
    }
    let before = snapshot(client, namespace, &current).await?;
    let patch = serde_json::json!({"spec": {"paused": paused}});
    let verb = if paused { "pausing" } else { "resuming" };
    let patched = Workload::patch(
        client,
        Kind::Deployment,
        namespace,
        name,
        &patch_params(dry_run),
        &Patch::Strategic(patch),
        format!("{verb} deployment {namespace}/{name}"),
    )
    .await?;
    let after = snapshot(client, namespace, &patched).await?;
    Ok(Change {
        operation: if paused {
            Operation::Pause
        } else {
            Operation::Resume
        },
        kind: Kind::Deployment,
        namespace: namespace.to_string(),
        name: name.to_string(),
        dry_run,
        before,
        after,
        annotations_set: Vec::new(),
        to_revision: None,
        unchanged: false,
        warnings: Vec::new(),
        managed_by: current.managed_by(),
    })
}
