//! `promote` across two namespaces standing for two environments: images (and only images)
//! travel from the source to the destination; mismatches and GitOps-managed targets are
//! refused with every difference listed.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::EnvVar;
use kube::Api;
use kube::api::PostParams;

use crate::common::cluster::{TestCluster, wait_for_deployment, wait_for_rollout};
use crate::common::fixtures::Workload;
use crate::exec::{exec, setup_with};

fn with_env(mut d: Deployment, value: &str) -> Deployment {
    if let Some(c) = d
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|p| p.containers.first_mut())
    {
        c.env = Some(vec![EnvVar {
            name: "WHERE".into(),
            value: Some(value.into()),
            ..EnvVar::default()
        }]);
    }
    d
}

fn images(d: &Deployment) -> Vec<(String, String)> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn promote_copies_images_and_nothing_else() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let dev = cluster.namespace("dev").await;
    let stg = cluster.namespace("stg").await;
    let c = &cluster.client;
    let pp = PostParams::default();
    let src = Workload::new("checkout")
        .image("registry.invalid/checkout:2.0")
        .container("proxy", "registry.invalid/proxy:1.5")
        .replicas(3);
    let dst = Workload::new("checkout")
        .image("registry.invalid/checkout:1.0")
        .container("proxy", "registry.invalid/proxy:1.4")
        .replicas(1);
    Api::<Deployment>::namespaced(c.clone(), &dev.name)
        .create(&pp, &with_env(src.deployment(), "dev"))
        .await
        .expect("create");
    Api::<Deployment>::namespaced(c.clone(), &stg.name)
        .create(&pp, &with_env(dst.deployment(), "staging"))
        .await
        .expect("create");
    Api::<StatefulSet>::namespaced(c.clone(), &dev.name)
        .create(
            &pp,
            &Workload::new("checkout")
                .image("registry.invalid/db:16")
                .statefulset(),
        )
        .await
        .expect("create");
    Api::<StatefulSet>::namespaced(c.clone(), &stg.name)
        .create(
            &pp,
            &Workload::new("checkout")
                .image("registry.invalid/db:15")
                .statefulset(),
        )
        .await
        .expect("create");
    for ns in [&dev.name, &stg.name] {
        wait_for_deployment(c, ns, "checkout", Duration::from_secs(60)).await;
        wait_for_rollout::<StatefulSet>(c, ns, "checkout", Duration::from_secs(60)).await;
    }
    let setup = setup_with(
        &cluster,
        &[("dev", &dev.name, false), ("staging", &stg.name, false)],
        "60s",
    );
    let api = Api::<Deployment>::namespaced(c.clone(), &stg.name);

    let (code, out) = exec(&setup, "promote checkout --from dev --to staging --dry-run");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("would set the images of deployment/checkout"),
        "{out}"
    );
    assert!(
        out.contains("app: registry.invalid/checkout:1.0 → registry.invalid/checkout:2.0"),
        "{out}"
    );
    assert!(
        out.contains("proxy: registry.invalid/proxy:1.4 → registry.invalid/proxy:1.5"),
        "{out}"
    );
    assert!(
        out.contains("would set the images of statefulset/checkout"),
        "{out}"
    );
    assert_eq!(
        images(&api.get("checkout").await.expect("get"))[0].1,
        "registry.invalid/checkout:1.0",
        "dry run"
    );

    let (code, out) = exec(&setup, "promote checkout --from dev --to staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("promoted checkout from dev to staging"),
        "{out}"
    );
    let d = wait_for_deployment(c, &stg.name, "checkout", Duration::from_secs(60)).await;
    let got = images(&d);
    // The source pods report no digest on kwok's fake kubelets, so images travel as tags.
    assert_eq!(
        got,
        vec![
            (
                "app".to_string(),
                "registry.invalid/checkout:2.0".to_string()
            ),
            (
                "proxy".to_string(),
                "registry.invalid/proxy:1.5".to_string()
            )
        ]
    );
    let spec = d.spec.expect("spec");
    assert_eq!(spec.replicas, Some(1), "replicas are not copied");
    let env = spec.template.spec.expect("pod spec").containers[0]
        .env
        .clone()
        .expect("env");
    assert_eq!(
        env[0].value.as_deref(),
        Some("staging"),
        "environment variables are not copied"
    );
    let sts =
        wait_for_rollout::<StatefulSet>(c, &stg.name, "checkout", Duration::from_secs(60)).await;
    let sts_image = sts
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers[0].image.clone());
    assert_eq!(sts_image, Some(Some("registry.invalid/db:16".to_string())));

    let (code, out) = exec(&setup, "promote checkout --from dev --to staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("staging already runs the images dev runs; nothing to promote"),
        "{out}"
    );

    let (code, out) = exec(
        &setup,
        "promote deploy/checkout --from staging --to dev --dry-run",
    );
    assert_eq!(code, 0, "promote back to dev, one kind only: {out}");
    assert!(!out.contains("statefulset"), "{out}");
}

#[tokio::test]
async fn promote_refuses_mismatches_and_gitops_targets_listing_every_difference() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let dev = cluster.namespace("dev").await;
    let stg = cluster.namespace("stg").await;
    let c = &cluster.client;
    let pp = PostParams::default();
    Api::<Deployment>::namespaced(c.clone(), &dev.name)
        .create(
            &pp,
            &Workload::new("cart").container("proxy", "p:1").deployment(),
        )
        .await
        .expect("create");
    Api::<Deployment>::namespaced(c.clone(), &stg.name)
        .create(&pp, &Workload::new("cart").deployment())
        .await
        .expect("create");
    Api::<Deployment>::namespaced(c.clone(), &dev.name)
        .create(&pp, &Workload::new("search").image("s:2").deployment())
        .await
        .expect("create");
    Api::<StatefulSet>::namespaced(c.clone(), &dev.name)
        .create(&pp, &Workload::new("search").statefulset())
        .await
        .expect("create");
    Api::<Deployment>::namespaced(c.clone(), &stg.name)
        .create(
            &pp,
            &Workload::new("search")
                .annotation(
                    "argocd.argoproj.io/tracking-id",
                    "shop:apps/Deployment:stg/search",
                )
                .deployment(),
        )
        .await
        .expect("create");
    let setup = setup_with(
        &cluster,
        &[("dev", &dev.name, false), ("staging", &stg.name, false)],
        "60s",
    );

    let (code, out) = exec(&setup, "promote cart --from dev --to staging");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "deployment/cart has containers [app, proxy] in the source but [app] in the destination"
        ),
        "{out}"
    );

    let (code, out) = exec(&setup, "promote search --from dev --to staging");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "deployment/search in the destination is managed by GitOps (application/shop)"
        ),
        "{out}"
    );
    assert!(
        out.contains("`gitops suspend application/shop --for 1h …`"),
        "says how to go ahead: {out}"
    );
    assert!(
        out.contains("statefulset/search exists in the source but not in the destination"),
        "both problems at once: {out}"
    );

    let (code, out) = exec(&setup, "promote nothing-here --from dev --to staging");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no workload named `nothing-here` in either environment"),
        "{out}"
    );
    let (code, out) = exec(&setup, "promote cart --from dev --to prod");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("there is no environment `prod`"), "{out}");
}
