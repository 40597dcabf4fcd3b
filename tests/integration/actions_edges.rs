//! The edges where kubectl's behaviour is easy to get wrong, each against kubectl on a twin
//! workload (see `actions.rs` for the twins): a rollback to the revision already running
//! (kubectl: "skipped rollback"), an `OnDelete` StatefulSet or DaemonSet (kubectl's `rollout
//! status` refuses; pitcrew must not report it rolled out), and a `kubectl apply`-managed
//! workload (kubectl warns that the next apply undoes a rollback).

use std::time::Duration;

use chrono::Utc;
use pitcrew::cluster::{self, Followed, LAST_APPLIED};
use pitcrew::command::Kind;
use pitcrew::workflow;

use super::actions::{Twins, assert_twins_equal, observable};
use crate::common::cluster::TestCluster;
use crate::common::fixtures::Workload as Fixture;

const IMAGES: [&str; 2] = ["registry.invalid/app:1", "registry.invalid/app:2"];

/// kubectl's words after the object name: `deployment.apps/web skipped rollback (…)` gives
/// `skipped rollback (…)`.
fn after_object_name(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout).trim().to_string();
    text.split_once(' ')
        .map(|(_, words)| words.to_string())
        .unwrap_or(text)
}

async fn rollback_to_the_running_revision_is_skipped_like_kubectl(kind: Kind, name: &'static str) {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let twins = Twins::new(&cluster, kind, name, &IMAGES).await;
    let before = observable(&cluster.client, &twins.ours.name, kind, name).await;
    assert_eq!(before.2, Some(2), "the twins run revision 2");

    let change = cluster::rollback(
        &cluster.client,
        &twins.ours.name,
        kind,
        name,
        Some(2),
        false,
        None,
    )
    .await
    .expect("a rollback to the running revision is not an error");
    assert!(change.unchanged, "{change:?}");
    assert_eq!(change.before, change.after, "nothing changes");
    assert_eq!(change.to_revision, Some(2));

    let out = cluster.kubectl(
        &twins.theirs.name,
        &["rollout", "undo", &twins.target(), "--to-revision=2"],
    );
    let kubectl_says = after_object_name(&out.stdout);
    assert_eq!(
        kubectl_says,
        "skipped rollback (current template already matches revision 2)"
    );
    let pitcrew_says = workflow::describe(&change);
    assert!(
        pitcrew_says.contains(&kubectl_says),
        "pitcrew: {pitcrew_says}\nkubectl: {kubectl_says}"
    );
    assert_twins_equal(&cluster, &twins, &format!("skipped rollback of {kind}")).await;
    assert_eq!(
        observable(&cluster.client, &twins.ours.name, kind, name).await,
        before,
        "{kind}: a skipped rollback changed the workload"
    );
}

#[tokio::test]
async fn rollback_deployment_to_the_running_revision_is_skipped_like_kubectl() {
    rollback_to_the_running_revision_is_skipped_like_kubectl(Kind::Deployment, "web").await;
}

#[tokio::test]
async fn rollback_statefulset_to_the_running_revision_is_skipped_like_kubectl() {
    rollback_to_the_running_revision_is_skipped_like_kubectl(Kind::StatefulSet, "db").await;
}

#[tokio::test]
async fn rollback_daemonset_to_the_running_revision_is_skipped_like_kubectl() {
    rollback_to_the_running_revision_is_skipped_like_kubectl(Kind::DaemonSet, "agent").await;
}

/// With `OnDelete`, a restart changes the template exactly as kubectl's does, but no pod is
/// replaced until someone deletes it: kubectl's `rollout status` refuses, and pitcrew says how
/// many pods still run an older revision instead of "rolled out".
async fn on_delete_restart_says_pods_wait_for_deletion(kind: Kind, name: &'static str) {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let fixture = Fixture::new(name).image(IMAGES[0]).replicas(2).on_delete();
    let twins = Twins::from_fixture(&cluster, kind, name, fixture, &IMAGES[..1]).await;
    let c = &cluster.client;
    cluster::restart(c, &twins.ours.name, kind, name, Utc::now(), false, None)
        .await
        .expect("restart");
    cluster.kubectl(&twins.theirs.name, &["rollout", "restart", &twins.target()]);
    // The controller records the new revision when it observes the template: wait for both.
    for ns in [&twins.ours.name, &twins.theirs.name] {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let w = cluster::Workload::get(c, kind, ns, name)
                .await
                .expect("get");
            if cluster::rollout_state(&w).done {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{kind} {ns}: never observed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let ours = observable(c, &twins.ours.name, kind, name).await;
    let theirs = observable(c, &twins.theirs.name, kind, name).await;
    assert_eq!(ours, theirs, "{kind}: the restart differs from kubectl's");

    let followed = cluster::follow(
        c,
        &twins.ours.name,
        kind,
        name,
        Duration::from_secs(30),
        std::future::pending(),
        |_| {},
    )
    .await
    .expect("follow");
    let Followed::Complete { state } = followed else {
        panic!("{kind}: following an OnDelete restart should end at once: {followed:?}");
    };
    assert!(state.desired > 0, "{state:?}");
    assert!(
        state.message.contains("uses the OnDelete update strategy")
            && state.message.contains(&format!(
                "{0} of {0} pods still run an older revision",
                state.desired
            )),
        "{kind}: {}",
        state.message
    );
    assert!(!state.message.contains("rolled out"), "{}", state.message);

    // `status` says the same (one source of words), and kubectl refuses to say anything.
    let w = cluster::Workload::get(c, kind, &twins.ours.name, name)
        .await
        .expect("get");
    assert_eq!(cluster::rollout_state(&w).message, state.message);
    let kubectl = cluster.kubectl_output(
        &twins.ours.name,
        &["rollout", "status", &twins.target(), "--timeout=5s"],
    );
    assert!(!kubectl.status.success());
    assert!(
        String::from_utf8_lossy(&kubectl.stderr)
            .contains("rollout status is only available for RollingUpdate strategy type"),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
}

#[tokio::test]
async fn on_delete_statefulset_restart_says_pods_wait_for_deletion() {
    on_delete_restart_says_pods_wait_for_deletion(Kind::StatefulSet, "db").await;
}

#[tokio::test]
async fn on_delete_daemonset_restart_says_pods_wait_for_deletion() {
    on_delete_restart_says_pods_wait_for_deletion(Kind::DaemonSet, "agent").await;
}

/// A workload `kubectl apply` manages: kubectl warns on rollback that the last-applied
/// annotation will bring the old template back at the next apply; pitcrew's change carries
/// the same warning (shown in the confirmation and the reply), and the rollback itself still
/// matches kubectl's, annotation kept.
#[tokio::test]
async fn rollback_of_an_apply_managed_workload_warns_like_kubectl() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let fixture = Fixture::new("applied")
        .image(IMAGES[0])
        .annotation(LAST_APPLIED, r#"{"kind":"Deployment"}"#);
    let twins = Twins::from_fixture(&cluster, Kind::Deployment, "applied", fixture, &IMAGES).await;
    let change = cluster::rollback(
        &cluster.client,
        &twins.ours.name,
        Kind::Deployment,
        "applied",
        None,
        false,
        None,
    )
    .await
    .expect("rollback");
    assert_eq!(change.warnings.len(), 1, "{change:?}");
    let described = workflow::describe(&change);
    assert!(
        described
            .contains("; warning: deployment/applied was previously managed with `kubectl apply`")
            && described.contains(
                "the next `kubectl apply` of the old configuration file will undo this rollback"
            ),
        "{described}"
    );

    let out = cluster.kubectl(
        &twins.theirs.name,
        &["rollout", "undo", &twins.target(), "--to-revision=0"],
    );
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("was previously managed with 'kubectl apply'")
            && warned.contains(LAST_APPLIED),
        "kubectl's warning: {warned}"
    );
    assert_twins_equal(&cluster, &twins, "rollback of an apply-managed deployment").await;

    // Without the annotation, no warning.
    let plain = Twins::new(&cluster, Kind::Deployment, "plain", &IMAGES).await;
    let change = cluster::rollback(
        &cluster.client,
        &plain.ours.name,
        Kind::Deployment,
        "plain",
        None,
        true,
        None,
    )
    .await
    .expect("dry-run rollback");
    assert!(change.warnings.is_empty(), "{change:?}");
}

/// Two restarts within one second: kubectl refuses the second ("if restart has already been
/// triggered within the past second, please wait"), since the same `restartedAt` stamp leaves
/// the template, and so the pods, as they are. pitcrew refuses it too, rather than report a
/// restart that restarted nothing.
#[tokio::test]
async fn a_second_restart_within_the_same_second_is_refused_like_kubectl() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let twins = Twins::new(&cluster, Kind::Deployment, "again", &IMAGES).await;
    let now = Utc::now();
    let ns = &twins.ours.name;
    cluster::restart(
        &cluster.client,
        ns,
        Kind::Deployment,
        "again",
        now,
        false,
        None,
    )
    .await
    .expect("the first restart");
    // The generation moves with every change of the spec, at once (the revision follows later).
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(cluster.client.clone(), ns);
    let generation = || async { api.get("again").await.expect("get").metadata.generation };
    let before = generation().await;
    let second = cluster::restart(
        &cluster.client,
        ns,
        Kind::Deployment,
        "again",
        now,
        false,
        None,
    )
    .await;
    let Err(e) = second else {
        panic!("a second restart in the same second was accepted: {second:?}");
    };
    assert!(
        e.to_string()
            .contains("already restarted within this second")
            && e.to_string().contains("wait a second and try again"),
        "{e}"
    );
    assert_eq!(generation().await, before, "nothing changed");

    // kubectl, twice at the start of a second (each run takes well under half a second).
    let mut refused = None;
    for _ in 0..10 {
        let fraction = Utc::now().timestamp_subsec_millis();
        tokio::time::sleep(Duration::from_millis(u64::from(1_000 - fraction))).await;
        let restart =
            || cluster.kubectl_output(&twins.theirs.name, &["rollout", "restart", &twins.target()]);
        let first = restart();
        assert!(first.status.success(), "{first:?}");
        let again = restart();
        if !again.status.success() {
            refused = Some(String::from_utf8_lossy(&again.stderr).into_owned());
            break;
        }
    }
    let refused = refused.expect("kubectl's second restart within one second");
    assert!(
        refused.contains("if restart has already been triggered within the past second"),
        "{refused}"
    );
}
