//! `pause` and `resume` against kubectl on twin Deployments (`kubectl rollout pause|resume`),
//! and through the pipeline: a paused Deployment shows as paused in `status`, refuses a
//! restart with what to do, and rolls out what waited once resumed.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use pitcrew::cluster;
use pitcrew::command::Kind;

use super::actions::{Twins, assert_twins_equal, observable};
use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, revision_of};

const IMAGES: [&str; 2] = ["registry.invalid/app:1", "registry.invalid/app:2"];

/// Sets the image without waiting for a rollout (a paused Deployment makes none).
async fn set_image_now(api: &Api<Deployment>, name: &str, image: &str) {
    let patch = serde_json::json!({
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
    });
    api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("set image");
}

fn paused(d: &Deployment) -> Option<bool> {
    d.spec.as_ref().and_then(|s| s.paused)
}

#[tokio::test]
async fn pause_and_resume_match_kubectl() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let twins = Twins::new(&cluster, Kind::Deployment, "web", &IMAGES).await;
    let ours: Api<Deployment> = Api::namespaced(cluster.client.clone(), &twins.ours.name);
    let theirs: Api<Deployment> = Api::namespaced(cluster.client.clone(), &twins.theirs.name);

    let change = cluster::set_paused(&cluster.client, &twins.ours.name, "web", true, false)
        .await
        .expect("pause");
    assert_eq!(change.operation, cluster::Operation::Pause);
    cluster.kubectl(&twins.theirs.name, &["rollout", "pause", "deployment/web"]);
    let (o, t) = (
        ours.get("web").await.expect("get"),
        theirs.get("web").await.expect("get"),
    );
    assert_eq!((paused(&o), paused(&t)), (Some(true), Some(true)));

    // Pausing twice: kubectl refuses, and so does pitcrew, changing nothing.
    let again = cluster::set_paused(&cluster.client, &twins.ours.name, "web", true, false).await;
    let e = again.expect_err("a second pause").to_string();
    assert!(e.contains("is already paused"), "{e}");
    let out = cluster.kubectl_output(&twins.theirs.name, &["rollout", "pause", "deployment/web"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already paused"),
        "{out:?}"
    );

    // While paused, a new template makes no new revision on either.
    let before = revision_of(&o);
    for api in [&ours, &theirs] {
        set_image_now(api, "web", "registry.invalid/app:3").await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(revision_of(&ours.get("web").await.expect("get")), before);
    assert_eq!(revision_of(&theirs.get("web").await.expect("get")), before);
    let ours_seen = observable(&cluster.client, &twins.ours.name, Kind::Deployment, "web").await;
    let theirs_seen =
        observable(&cluster.client, &twins.theirs.name, Kind::Deployment, "web").await;
    assert_eq!(ours_seen, theirs_seen, "paused twins are the same");

    // Resumed: what waited rolls out, the same on both.
    let change = cluster::set_paused(&cluster.client, &twins.ours.name, "web", false, false)
        .await
        .expect("resume");
    assert_eq!(change.operation, cluster::Operation::Resume);
    cluster.kubectl(&twins.theirs.name, &["rollout", "resume", "deployment/web"]);
    assert_twins_equal(&cluster, &twins, "resume").await;
    let resumed = ours.get("web").await.expect("get");
    assert_ne!(paused(&resumed), Some(true));
    assert_eq!(revision_of(&resumed), before + 1);

    // Resuming what is not paused: both refuse.
    let again = cluster::set_paused(&cluster.client, &twins.ours.name, "web", false, false).await;
    let e = again.expect_err("a second resume").to_string();
    assert!(e.contains("is not paused"), "{e}");
    let out = cluster.kubectl_output(&twins.theirs.name, &["rollout", "resume", "deployment/web"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not paused"),
        "{out:?}"
    );
}

/// Through the pipeline (`pitcrew exec`): pause, `status` says paused, a restart is refused
/// with what to do, resume rolls out and is followed.
#[tokio::test]
async fn a_paused_deployment_shows_as_paused_and_resumes_through_the_pipeline() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("pause", "checkout").await;
    let (dir, _) = TestConfig::new("p, U01DEV, dev, *, *, *, *, *, allow\n")
        .cluster(&cluster.kubeconfig)
        .set("rollout", "timeout", "60s")
        .environment("dev", &ns.name)
        .write();
    let config = dir.path().join("pitcrew.toml");
    let run = |text: &str| crate::common::cli::exec(&config, &[], "U01DEV", None, false, text);
    let (code, out) = run("pause checkout -e dev");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("paused deployment/checkout") && out.contains("its pods keep running"),
        "{out}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (code, out) = run("status checkout -e dev");
        assert_eq!(code, 0, "{out}");
        if out.contains("rollout PAUSED") {
            assert!(out.contains("`resume deployment/checkout -e dev`"), "{out}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never says paused: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let (code, out) = run("restart checkout -e dev");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("resume it first"), "{out}");
    let (code, out) = run("pause checkout -e dev");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is already paused"), "{out}");
    set_image_now(&api, "checkout", "registry.invalid/checkout:2").await;
    let (code, out) = run("resume checkout -e dev");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("resumed deployment/checkout") && out.contains("successfully rolled out"),
        "{out}"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);
    let (_, out) = crate::common::cli::pitcrew(
        &config,
        &[],
        &["audit", "query", "--action", "pause", "--format", "jsonl"],
    );
    assert!(out.contains("\"phase\":\"succeeded\""), "{out}");
}
