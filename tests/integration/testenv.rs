//! The test cluster behaves like a real one: the Deployment controller, ReplicaSets with
//! revision numbers, scheduling onto kwok nodes, pods turning Ready, and `kubectl rollout
//! undo` producing a new revision. Every later cluster test relies on these facts.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};

use crate::common::cluster::{
    TestCluster, replica_sets, revision_of, wait_for_deployment, wait_for_rollout,
};
use crate::common::fixtures::Workload;

const ROLLOUT: Duration = Duration::from_secs(60);

fn image_of(template: &PodTemplateSpec) -> String {
    template
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// The pod template without the `pod-template-hash` label that the Deployment controller adds
/// to ReplicaSet templates: what `kubectl rollout undo` compares and copies.
fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    t
}

async fn set_image(api: &Api<Deployment>, name: &str, image: &str) {
    let patch = serde_json::json!({
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
    });
    api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("patch image");
}

#[tokio::test]
async fn a_deployment_becomes_available_on_kwok_nodes() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("available").await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &Workload::new("web").replicas(3).deployment(),
    )
    .await
    .expect("create deployment");

    let d = wait_for_deployment(&cluster.client, &ns.name, "web", ROLLOUT).await;
    let status = d.status.expect("status");
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.ready_replicas, Some(3));
    let available = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Available")
        .expect("Available condition");
    assert_eq!(available.status, "True");

    // kubectl, the oracle, agrees.
    let out = cluster.kubectl(
        &ns.name,
        &["rollout", "status", "deployment/web", "--timeout=30s"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("successfully rolled out"));
}

#[tokio::test]
async fn an_image_change_makes_revision_two_and_kubectl_undo_makes_revision_three() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("revisions").await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    api.create(
        &PostParams::default(),
        &Workload::new("shop")
            .image("registry.invalid/shop:1")
            .deployment(),
    )
    .await
    .expect("create deployment");
    wait_for_deployment(&cluster.client, &ns.name, "shop", ROLLOUT).await;

    set_image(&api, "shop", "registry.invalid/shop:2").await;
    let d = wait_for_deployment(&cluster.client, &ns.name, "shop", ROLLOUT).await;
    let sets = replica_sets(&cluster.client, &ns.name, &d).await;
    let revisions: Vec<i64> = sets.iter().map(revision_of).collect();
    assert_eq!(revisions, vec![1, 2], "two ReplicaSets, revisions 1 and 2");
    let images: Vec<String> = sets
        .iter()
        .map(|rs| {
            image_of(
                &rs.spec
                    .as_ref()
                    .expect("rs spec")
                    .template
                    .clone()
                    .expect("template"),
            )
        })
        .collect();
    assert_eq!(
        images,
        vec!["registry.invalid/shop:1", "registry.invalid/shop:2"]
    );
    let first_template = without_hash(
        sets[0]
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .expect("template"),
    );

    // `kubectl rollout undo` goes back to revision 1's template, which becomes revision 3.
    cluster.kubectl(&ns.name, &["rollout", "undo", "deployment/shop"]);
    let d = wait_for_deployment(&cluster.client, &ns.name, "shop", ROLLOUT).await;
    assert_eq!(revision_of(&d), 3, "the Deployment is at revision 3");
    let current = without_hash(&d.spec.as_ref().expect("spec").template);
    assert_eq!(
        current, first_template,
        "the Deployment runs the first template again"
    );
    let sets = replica_sets(&cluster.client, &ns.name, &d).await;
    let revisions: Vec<i64> = sets.iter().map(revision_of).collect();
    // The controller re-labels revision 1's ReplicaSet as revision 3 rather than creating a new one.
    assert_eq!(revisions, vec![2, 3]);
    assert_eq!(
        image_of(
            sets[1]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .expect("template")
        ),
        "registry.invalid/shop:1"
    );
}

#[tokio::test]
async fn statefulsets_and_daemonsets_roll_out_on_kwok_nodes() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("kinds").await;
    let sts: Api<StatefulSet> = Api::namespaced(cluster.client.clone(), &ns.name);
    let ds: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), &ns.name);
    sts.create(
        &PostParams::default(),
        &Workload::new("db").replicas(2).statefulset(),
    )
    .await
    .expect("create statefulset");
    ds.create(&PostParams::default(), &Workload::new("agent").daemonset())
        .await
        .expect("create daemonset");

    let s: StatefulSet = wait_for_rollout(&cluster.client, &ns.name, "db", ROLLOUT).await;
    assert_eq!(s.status.and_then(|st| st.ready_replicas), Some(2));
    let d: DaemonSet = wait_for_rollout(&cluster.client, &ns.name, "agent", ROLLOUT).await;
    let nodes = cluster.kubectl(&ns.name, &["get", "nodes", "--no-headers"]);
    let node_count = String::from_utf8_lossy(&nodes.stdout).lines().count() as i32;
    assert_eq!(
        d.status.map(|st| st.number_ready),
        Some(node_count),
        "one ready pod per kwok node"
    );
    for target in ["statefulset/db", "daemonset/agent"] {
        let out = cluster.kubectl(&ns.name, &["rollout", "status", target, "--timeout=30s"]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("complete") || said.contains("successfully rolled out"),
            "{target}: {said}"
        );
    }
}
