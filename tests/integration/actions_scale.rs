//! `scale` against kubectl on twins (`kubectl scale`), the HorizontalPodAutoscaler rules
//! (a count it would undo is refused; `--hpa` moves its bounds as `kubectl patch` would), and
//! through the pipeline: a protected environment asks before scaling to 0, the outcome offers
//! the scale back, and the trail records both counts.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, PostParams};
use pitcrew::cluster;
use pitcrew::command::Kind;

use super::actions::{Twins, assert_twins_equal};
use crate::common::app::TestConfig;
use crate::common::cluster::TestCluster;
use crate::common::fakes;

const IMAGES: [&str; 1] = ["registry.invalid/app:1"];

async fn replicas_of(cluster: &TestCluster, ns: &str, kind: Kind, name: &str) -> Option<i32> {
    match kind {
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(cluster.client.clone(), ns)
            .get(name)
            .await
            .expect("get")
            .spec
            .and_then(|s| s.replicas),
        _ => Api::<Deployment>::namespaced(cluster.client.clone(), ns)
            .get(name)
            .await
            .expect("get")
            .spec
            .and_then(|s| s.replicas),
    }
}

async fn scale_matches_kubectl(kind: Kind, name: &'static str, to: i32) {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let twins = Twins::new(&cluster, kind, name, &IMAGES).await;
    let change = cluster::scale(
        &cluster.client,
        &twins.ours.name,
        kind,
        name,
        to,
        false,
        false,
    )
    .await
    .expect("scale");
    assert_eq!(
        change.operation,
        cluster::Operation::Scale { from: 2, to },
        "{change:?}"
    );
    let out = cluster.kubectl(
        &twins.theirs.name,
        &["scale", &format!("--replicas={to}"), &twins.target()],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("scaled"),
        "{out:?}"
    );
    assert_twins_equal(&cluster, &twins, "scale").await;
    for ns in [&twins.ours.name, &twins.theirs.name] {
        assert_eq!(replicas_of(&cluster, ns, kind, name).await, Some(to));
    }
    // The same count again changes nothing (kubectl says "scaled" and patches nothing).
    let again = cluster::scale(
        &cluster.client,
        &twins.ours.name,
        kind,
        name,
        to,
        false,
        false,
    )
    .await
    .expect("scale again");
    assert!(again.unchanged, "{again:?}");
}

#[tokio::test]
async fn scaling_a_deployment_matches_kubectl() {
    scale_matches_kubectl(Kind::Deployment, "web", 4).await;
}

#[tokio::test]
async fn scaling_a_statefulset_matches_kubectl() {
    scale_matches_kubectl(Kind::StatefulSet, "db", 1).await;
}

fn autoscaler(name: &str, min: i32, max: i32) -> HorizontalPodAutoscaler {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min, "maxReplicas": max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]
        }
    }))
    .expect("autoscaler")
}

#[tokio::test]
async fn an_autoscaler_bounds_the_count_and_hpa_moves_its_bounds_like_kubectl_patch() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let twins = Twins::new(&cluster, Kind::Deployment, "api", &IMAGES).await;
    let hpas = |ns: &str| Api::<HorizontalPodAutoscaler>::namespaced(cluster.client.clone(), ns);
    for ns in [&twins.ours.name, &twins.theirs.name] {
        hpas(ns)
            .create(&PostParams::default(), &autoscaler("api", 2, 5))
            .await
            .expect("create the autoscaler");
    }
    let ours = &twins.ours.name;
    // Outside its bounds: refused, nothing changed.
    let e = cluster::scale(
        &cluster.client,
        ours,
        Kind::Deployment,
        "api",
        8,
        false,
        false,
    )
    .await
    .expect_err("outside the autoscaler's bounds");
    let e = e.to_string();
    assert!(
        e.contains("kept between 2 and 5 replicas by HorizontalPodAutoscaler `api`")
            && e.contains("--hpa"),
        "{e}"
    );
    assert_eq!(
        replicas_of(&cluster, ours, Kind::Deployment, "api").await,
        Some(2)
    );
    // Inside: done, with a warning that the autoscaler may change it again.
    let change = cluster::scale(
        &cluster.client,
        ours,
        Kind::Deployment,
        "api",
        3,
        false,
        false,
    )
    .await
    .expect("inside the bounds");
    assert!(
        change
            .warnings
            .iter()
            .any(|w| w.contains("may change this count again")),
        "{change:?}"
    );
    // --hpa up to 8: the floor rises to 8 (and the ceiling with it), as this patch would.
    let change = cluster::scale(
        &cluster.client,
        ours,
        Kind::Deployment,
        "api",
        8,
        true,
        false,
    )
    .await
    .expect("--hpa");
    assert_eq!(
        change.operation,
        cluster::Operation::ScaleAutoscaler {
            autoscaler: "api".into(),
            min: (2, 8),
            max: (5, 8)
        }
    );
    cluster.kubectl(
        &twins.theirs.name,
        &[
            "patch",
            "hpa",
            "api",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"minReplicas":8,"maxReplicas":8}}"#,
        ],
    );
    let spec = |h: HorizontalPodAutoscaler| serde_json::to_value(h.spec).expect("json");
    assert_eq!(
        spec(hpas(ours).get("api").await.expect("get")),
        spec(hpas(&twins.theirs.name).get("api").await.expect("get")),
        "the same autoscaler as kubectl patch leaves"
    );
    // The workload's own count is the autoscaler's to change: untouched.
    assert_eq!(
        replicas_of(&cluster, ours, Kind::Deployment, "api").await,
        Some(3)
    );
    // --hpa without an autoscaler is refused.
    let (lone, _) = cluster.with_deployment("lone", "solo").await;
    let e = cluster::scale(
        &cluster.client,
        &lone.name,
        Kind::Deployment,
        "solo",
        3,
        true,
        false,
    )
    .await
    .expect_err("no autoscaler");
    assert!(
        e.to_string()
            .contains("no HorizontalPodAutoscaler targets it"),
        "{e}"
    );
}

/// Through `pitcrew exec` in a protected environment: scaling to 0 waits for confirmation,
/// then runs; the outcome names the scale back, which runs too; the trail has both counts.
#[tokio::test]
async fn scaling_to_zero_asks_first_and_offers_the_scale_back() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, _) = cluster.with_deployment("zero", "checkout").await;
    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    let (dir, _) = TestConfig::new("p, U01DEV, prod, *, *, *, *, *, allow\n")
        .pagerduty(&pd.uri())
        .cluster(&cluster.kubeconfig)
        .set("rollout", "timeout", "60s")
        .protected("prod", &ns.name, 0)
        .write();
    let config = dir.path().join("pitcrew.toml");
    let secrets = [("PAGERDUTY_TOKEN", fakes::PD_TOKEN)];
    let run = |text: &str, yes: bool| {
        crate::common::cli::exec(&config, &secrets, "U01DEV", None, yes, text)
    };
    let text = "scale checkout -e prod --replicas 0 --reason Q1OPEN";
    let (code, out) = run(text, false);
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("→ would scale deployment/checkout from 2 to 0 replicas"),
        "the dry run is shown: {out}"
    );
    assert_eq!(
        replicas_of(&cluster, &ns.name, Kind::Deployment, "checkout").await,
        Some(2)
    );
    let (code, out) = run(text, true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("scaled deployment/checkout from 2 to 0 replicas")
            && out.contains("scale back with `scale deployment/checkout -e prod --replicas 2`"),
        "{out}"
    );
    assert_eq!(
        replicas_of(&cluster, &ns.name, Kind::Deployment, "checkout").await,
        Some(0)
    );
    let (code, out) = run(
        "scale deployment/checkout -e prod --replicas 2 --reason Q1OPEN",
        true,
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        replicas_of(&cluster, &ns.name, Kind::Deployment, "checkout").await,
        Some(2)
    );
    let (_, text) = crate::common::cli::pitcrew(
        &config,
        &secrets,
        &[
            "audit",
            "query",
            "--action",
            "scale",
            "--outcome",
            "succeeded",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains(r#"\"scale\":{\"from\":2,\"to\":0}"#),
        "{text}"
    );
}
