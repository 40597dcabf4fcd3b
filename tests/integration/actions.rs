//! pitcrew's Kubernetes actions against a real API server, with kubectl as the oracle: for
//! each kind, pitcrew acts on a workload in one namespace and `kubectl rollout …` acts on its
//! identical twin in another; pod templates, annotations (the restart timestamp aside) and
//! revision numbers must come out equal, and `kubectl rollout status` must agree with
//! pitcrew's verdict.

use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use pitcrew::cluster::{self, Error, RESTARTED_AT, Workload};
use pitcrew::command::Kind;
use serde_json::Value;

use crate::common::cluster::{TestCluster, TestNamespace, wait_for_rollout};
use crate::common::fixtures::Workload as Fixture;

pub(crate) const ROLLOUT: Duration = Duration::from_secs(90);

/// The same workload in two namespaces: `ours` for pitcrew, `theirs` for kubectl.
pub(crate) struct Twins {
    pub ours: TestNamespace,
    pub theirs: TestNamespace,
    pub kind: Kind,
    pub name: &'static str,
}

pub(crate) async fn create(client: &Client, ns: &str, kind: Kind, fixture: &Fixture) {
    let pp = PostParams::default();
    match kind {
        Kind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
            .create(&pp, &fixture.deployment())
            .await
            .map(|_| ()),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .create(&pp, &fixture.statefulset())
            .await
            .map(|_| ()),
        Kind::DaemonSet => Api::<DaemonSet>::namespaced(client.clone(), ns)
            .create(&pp, &fixture.daemonset())
            .await
            .map(|_| ()),
        other => panic!("{other} is not a workload fixture"),
    }
    .expect("create workload");
}

pub(crate) async fn wait(client: &Client, ns: &str, kind: Kind, name: &str) {
    match kind {
        Kind::Deployment => drop(wait_for_rollout::<Deployment>(client, ns, name, ROLLOUT).await),
        Kind::StatefulSet => drop(wait_for_rollout::<StatefulSet>(client, ns, name, ROLLOUT).await),
        Kind::DaemonSet => drop(wait_for_rollout::<DaemonSet>(client, ns, name, ROLLOUT).await),
        other => panic!("{other} is not a workload"),
    }
}

pub(crate) async fn set_image(client: &Client, ns: &str, kind: Kind, name: &str, image: &str) {
    // With a change cause, as `kubectl set image --record` wrote it: rollbacks must carry the
    // cause of the revision they return to.
    let patch = serde_json::json!({
        "metadata": {"annotations": {"kubernetes.io/change-cause": format!("set image {image}")}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
    });
    let pp = PatchParams::default();
    let p = Patch::Strategic(&patch);
    match kind {
        Kind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
            .patch(name, &pp, &p)
            .await
            .map(|_| ()),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .patch(name, &pp, &p)
            .await
            .map(|_| ()),
        Kind::DaemonSet => Api::<DaemonSet>::namespaced(client.clone(), ns)
            .patch(name, &pp, &p)
            .await
            .map(|_| ()),
        other => panic!("{other} is not a workload"),
    }
    .expect("set image");
    wait(client, ns, kind, name).await;
}

impl Twins {
    /// Creates the twins and takes both through the same image history (one revision each).
    pub async fn new(
        cluster: &TestCluster,
        kind: Kind,
        name: &'static str,
        images: &[&str],
    ) -> Twins {
        let fixture = Fixture::new(name).image(images[0]).replicas(2);
        Twins::from_fixture(cluster, kind, name, fixture, images).await
    }

    /// The same from a fixture of the caller's (an update strategy, annotations).
    pub async fn from_fixture(
        cluster: &TestCluster,
        kind: Kind,
        name: &'static str,
        fixture: Fixture,
        images: &[&str],
    ) -> Twins {
        let ours = cluster.namespace("ours").await;
        let theirs = cluster.namespace("kubectl").await;
        for ns in [&ours.name, &theirs.name] {
            create(&cluster.client, ns, kind, &fixture).await;
            wait(&cluster.client, ns, kind, name).await;
            for image in &images[1..] {
                set_image(&cluster.client, ns, kind, name, image).await;
            }
        }
        Twins {
            ours,
            theirs,
            kind,
            name,
        }
    }

    pub fn target(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    pub async fn wait_both(&self, client: &Client) {
        wait(client, &self.ours.name, self.kind, self.name).await;
        wait(client, &self.theirs.name, self.kind, self.name).await;
    }
}

/// What must be equal between the twins: the pod template (restart timestamp blanked), the
/// workload's annotations, and the revision numbers.
pub(crate) async fn observable(
    client: &Client,
    ns: &str,
    kind: Kind,
    name: &str,
) -> (Value, Value, Option<i64>) {
    let w = Workload::get(client, kind, ns, name).await.expect("get");
    let mut template = serde_json::to_value(w.template().expect("template")).expect("json");
    if let Some(a) = template.pointer_mut(&format!(
        "/metadata/annotations/{}",
        RESTARTED_AT.replace('/', "~1")
    )) {
        assert!(
            a.as_str()
                .is_some_and(|s| s.ends_with('Z') || s.contains('+')),
            "RFC 3339 stamp: {a}"
        );
        *a = Value::String("<time>".into());
    }
    let annotations = match &w {
        Workload::Deployment(d) => serde_json::to_value(&d.metadata.annotations),
        Workload::StatefulSet(s) => serde_json::to_value(&s.metadata.annotations),
        Workload::DaemonSet(d) => serde_json::to_value(&d.metadata.annotations),
    }
    .expect("json");
    let revision = cluster::snapshot(client, ns, &w)
        .await
        .expect("snapshot")
        .revision;
    (template, annotations, revision)
}

pub(crate) async fn assert_twins_equal(cluster: &TestCluster, twins: &Twins, what: &str) {
    compare_twins(cluster, twins, what, None).await
}

/// The change-cause pitcrew records in the oracle tests.
const CAUSE: &str = "pitcrew: oracle test (by U01TEST, audit id c-oracle)";

/// `kubectl rollout history` of pitcrew's twin names `cause` (a new revision, or a
/// Deployment's reused ReplicaSet, whose annotations the controller updates; a StatefulSet's or
/// DaemonSet's reused ControllerRevision keeps the cause it was made with).
fn history_shows(cluster: &TestCluster, twins: &Twins, cause: &str) {
    let history = cluster.kubectl(&twins.ours.name, &["rollout", "history", &twins.target()]);
    assert!(
        String::from_utf8_lossy(&history.stdout).contains(cause),
        "`kubectl rollout history` shows who and why: {history:?}"
    );
}

/// Equal but for the change-cause, which pitcrew sets to `cause` on its twin (kubectl leaves
/// the last `set image`'s, or carries the old revision's back on undo).
async fn compare_twins(cluster: &TestCluster, twins: &Twins, what: &str, cause: Option<&str>) {
    twins.wait_both(&cluster.client).await;
    let mut ours = observable(&cluster.client, &twins.ours.name, twins.kind, twins.name).await;
    let mut theirs = observable(&cluster.client, &twins.theirs.name, twins.kind, twins.name).await;
    if let Some(cause) = cause {
        let key = cluster::CHANGE_CAUSE;
        let ours_cause = ours.1.as_object_mut().and_then(|a| a.remove(key));
        assert_eq!(
            ours_cause,
            Some(Value::String(cause.into())),
            "{what}: pitcrew's change-cause"
        );
        theirs.1.as_object_mut().and_then(|a| a.remove(key));
    }
    assert_eq!(ours.0, theirs.0, "{what}: pod templates differ");
    assert_eq!(ours.1, theirs.1, "{what}: annotations differ");
    assert_eq!(ours.2, theirs.2, "{what}: revisions differ");

    // pitcrew's verdict and kubectl's agree: done.
    let w = Workload::get(&cluster.client, twins.kind, &twins.ours.name, twins.name)
        .await
        .expect("get");
    let state = cluster::rollout_state(&w);
    assert!(state.done, "{what}: pitcrew says not done: {state:?}");
    let out = cluster.kubectl(
        &twins.ours.name,
        &["rollout", "status", &twins.target(), "--timeout=5s"],
    );
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        said, state.message,
        "{what}: pitcrew's words differ from kubectl's"
    );
}

async fn restart_matches_kubectl(kind: Kind, name: &'static str) {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let twins = Twins::new(
        &cluster,
        kind,
        name,
        &["registry.invalid/app:1", "registry.invalid/app:2"],
    )
    .await;
    let change = cluster::restart(
        &cluster.client,
        &twins.ours.name,
        kind,
        name,
        Utc::now(),
        false,
        Some(CAUSE),
    )
    .await
    .expect("restart");
    assert_eq!(change.before.revision, Some(2));
    assert_eq!(change.after.revision, Some(3));
    assert_eq!(change.annotations_set[0].0, RESTARTED_AT);
    cluster.kubectl(&twins.theirs.name, &["rollout", "restart", &twins.target()]);
    compare_twins(&cluster, &twins, &format!("restart {kind}"), Some(CAUSE)).await;
    history_shows(&cluster, &twins, CAUSE);
    let (template, _, revision) = observable(&cluster.client, &twins.ours.name, kind, name).await;
    assert_eq!(revision, Some(3), "a restart makes a new revision");
    assert_eq!(
        template.pointer(&format!(
            "/metadata/annotations/{}",
            RESTARTED_AT.replace('/', "~1")
        )),
        Some(&Value::String("<time>".into()))
    );
}

async fn rollback_matches_kubectl(kind: Kind, name: &'static str, to: Option<i64>) {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let images = [
        "registry.invalid/app:1",
        "registry.invalid/app:2",
        "registry.invalid/app:3",
    ];
    let twins = Twins::new(&cluster, kind, name, &images).await;
    let change = cluster::rollback(
        &cluster.client,
        &twins.ours.name,
        kind,
        name,
        to,
        false,
        Some(CAUSE),
    )
    .await
    .expect("rollback");
    let expected_revision = to.unwrap_or(2);
    assert_eq!(change.to_revision, Some(expected_revision));
    let expected_image = images[(expected_revision - 1) as usize];
    assert_eq!(
        change.image_changes(),
        vec![format!("app: registry.invalid/app:3 → {expected_image}")]
    );
    // kubectl's --to-revision=0 is "the previous revision": what pitcrew's `None` (and its
    // parser's `--to-revision 0`) must match.
    let args = [
        "rollout".to_string(),
        "undo".into(),
        twins.target(),
        format!("--to-revision={}", to.unwrap_or(0)),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cluster.kubectl(&twins.theirs.name, &args);
    compare_twins(
        &cluster,
        &twins,
        &format!("rollback {kind} to {to:?}"),
        Some(CAUSE),
    )
    .await;
    let w = Workload::get(&cluster.client, kind, &twins.ours.name, name)
        .await
        .expect("get");
    assert_eq!(
        w.images(),
        vec![("app".to_string(), expected_image.to_string())]
    );
    if kind == Kind::Deployment {
        // kubectl carries the rolled-back revision's cause back; pitcrew names the rollback.
        let theirs = Workload::get(&cluster.client, kind, &twins.theirs.name, name)
            .await
            .expect("get");
        let cause = theirs.annotations().get(cluster::CHANGE_CAUSE).cloned();
        let expected = (expected_revision > 1).then(|| format!("set image {expected_image}"));
        assert_eq!(
            cause, expected,
            "kubectl: the change cause of the revision rolled back to"
        );
        history_shows(&cluster, &twins, CAUSE);
    }
}

#[tokio::test]
async fn restart_deployment_like_kubectl() {
    restart_matches_kubectl(Kind::Deployment, "web").await;
}

#[tokio::test]
async fn restart_statefulset_like_kubectl() {
    restart_matches_kubectl(Kind::StatefulSet, "db").await;
}

#[tokio::test]
async fn restart_daemonset_like_kubectl() {
    restart_matches_kubectl(Kind::DaemonSet, "agent").await;
}

#[tokio::test]
async fn rollback_deployment_to_previous_like_kubectl() {
    rollback_matches_kubectl(Kind::Deployment, "web", None).await;
}

#[tokio::test]
async fn rollback_deployment_to_revision_like_kubectl() {
    rollback_matches_kubectl(Kind::Deployment, "web", Some(1)).await;
}

#[tokio::test]
async fn rollback_statefulset_to_previous_like_kubectl() {
    rollback_matches_kubectl(Kind::StatefulSet, "db", None).await;
}

#[tokio::test]
async fn rollback_statefulset_to_revision_like_kubectl() {
    rollback_matches_kubectl(Kind::StatefulSet, "db", Some(1)).await;
}

#[tokio::test]
async fn rollback_daemonset_to_previous_like_kubectl() {
    rollback_matches_kubectl(Kind::DaemonSet, "agent", None).await;
}

#[tokio::test]
async fn rollback_daemonset_to_revision_like_kubectl() {
    rollback_matches_kubectl(Kind::DaemonSet, "agent", Some(1)).await;
}

#[tokio::test]
async fn refusals_say_why_and_change_nothing() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let ns = cluster.namespace("refusals").await;
    let c = &cluster.client;
    create(c, &ns.name, Kind::Deployment, &Fixture::new("single")).await;
    create(c, &ns.name, Kind::StatefulSet, &Fixture::new("single-db")).await;
    create(c, &ns.name, Kind::Deployment, &Fixture::new("paused")).await;
    wait(c, &ns.name, Kind::Deployment, "single").await;
    wait(c, &ns.name, Kind::StatefulSet, "single-db").await;
    wait(c, &ns.name, Kind::Deployment, "paused").await;
    set_image(
        c,
        &ns.name,
        Kind::Deployment,
        "paused",
        "registry.invalid/paused:2",
    )
    .await;
    Api::<Deployment>::namespaced(c.clone(), &ns.name)
        .patch(
            "paused",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"paused": true}})),
        )
        .await
        .expect("pause");

    let err = cluster::rollback(c, &ns.name, Kind::Deployment, "single", None, false, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoHistory { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "deployment `single` has no earlier revision to roll back to"
    );
    let err = cluster::rollback(
        c,
        &ns.name,
        Kind::StatefulSet,
        "single-db",
        None,
        false,
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NoHistory { .. }), "{err}");
    let err = cluster::rollback(
        c,
        &ns.name,
        Kind::Deployment,
        "single",
        Some(7),
        false,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "revision 7 of deployment `single` is not in its history (revisions: 1); see `history`"
    );

    let err = cluster::restart(
        c,
        &ns.name,
        Kind::Deployment,
        "paused",
        Utc::now(),
        false,
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::PausedRestart { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("resume it first (`resume deployment/paused`"),
        "{err}"
    );
    let err = cluster::rollback(c, &ns.name, Kind::Deployment, "paused", None, false, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PausedRollback { .. }), "{err}");
    assert!(
        err.to_string().contains("`resume deployment/paused`"),
        "{err}"
    );

    let err = cluster::restart(
        c,
        &ns.name,
        Kind::Deployment,
        "singel",
        Utc::now(),
        false,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "deployment `singel` was not found in namespace `{}`; did you mean `single`?",
            ns.name
        )
    );
    // Nothing above changed the paused Deployment's template.
    let (template, _, revision) = observable(c, &ns.name, Kind::Deployment, "paused").await;
    assert_eq!(revision, Some(2));
    assert!(
        template.pointer("/metadata/annotations").is_none(),
        "{template}"
    );
}

#[tokio::test]
async fn dry_runs_show_the_change_and_persist_nothing() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let c = &cluster.client;
    for (kind, name) in [
        (Kind::Deployment, "web"),
        (Kind::StatefulSet, "db"),
        (Kind::DaemonSet, "agent"),
    ] {
        let twins = Twins::new(
            &cluster,
            kind,
            name,
            &["registry.invalid/app:1", "registry.invalid/app:2"],
        )
        .await;
        let ns = &twins.ours.name;
        let before = observable(c, ns, kind, name).await;

        let restart = cluster::restart(c, ns, kind, name, Utc::now(), true, None)
            .await
            .expect("dry-run restart");
        assert!(restart.dry_run);
        assert_eq!(
            (restart.before.revision, restart.after.revision),
            (Some(2), Some(3)),
            "{kind}"
        );
        assert_eq!(restart.annotations_set[0].0, RESTARTED_AT);

        let rollback = cluster::rollback(c, ns, kind, name, None, true, None)
            .await
            .expect("dry-run rollback");
        assert_eq!(rollback.to_revision, Some(1), "{kind}");
        assert_eq!(
            rollback.image_changes(),
            vec!["app: registry.invalid/app:2 → registry.invalid/app:1".to_string()]
        );

        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            observable(c, ns, kind, name).await,
            before,
            "{kind}: a dry run changed the workload"
        );
    }
}
