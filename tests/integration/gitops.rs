//! `gitops suspend|resume` on the real cluster, with Argo CD's and Flux's CRDs installed (from
//! their Go modules, by the test environment; no controllers): the objects are left as
//! `argocd app set --sync-policy none` / `flux suspend` leave them and restored exactly; a
//! GitOps-managed workload may be promoted only while its Application is suspended, and says
//! until when; the deadline is resumed by exactly one of two replicas, on both back-ends.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};

use crate::common::app::TestConfig;
use crate::common::cluster::TestCluster;
use crate::common::databases::TestDb;
use crate::common::fakes;
use crate::common::fixtures::Workload;

const POLICY: &str = "\
g2, C01INCIDENT, channels:incident
p, role:oncall, *, *, *, *, restart, channels:incident, allow
p, role:oncall, *, *, *, *, status, *, allow
p, role:commander, *, *, *, *, gitops, channels:incident, allow
p, role:commander, *, *, *, *, promote, channels:incident, allow
g, role:commander, role:oncall
g, U01ALICE, role:oncall
g, U02CAROL, role:commander
";

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn applications(cluster: &TestCluster, ns: &str) -> Api<DynamicObject> {
    let r = resource("argoproj.io", "v1alpha1", "Application", "applications");
    Api::namespaced_with(cluster.client.clone(), ns, &r)
}

fn kustomizations(cluster: &TestCluster, ns: &str) -> Api<DynamicObject> {
    let r = resource(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
    );
    Api::namespaced_with(cluster.client.clone(), ns, &r)
}

/// An Application of `name` whose sync policy is `sync_policy`.
async fn application(api: &Api<DynamicObject>, name: &str, sync_policy: serde_json::Value) {
    let obj: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "source": {"repoURL": "https://git.example.com/shop.git", "path": name, "targetRevision": "main"},
            "syncPolicy": sync_policy,
        }
    }))
    .expect("an Application");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create the Application");
}

async fn spec(api: &Api<DynamicObject>, name: &str) -> serde_json::Value {
    api.get(name).await.expect("get").data["spec"].clone()
}

async fn annotations(api: &Api<DynamicObject>, name: &str) -> Vec<String> {
    api.get(name)
        .await
        .expect("get")
        .metadata
        .annotations
        .unwrap_or_default()
        .into_keys()
        .collect()
}

#[tokio::test]
async fn suspending_argo_cd_and_flux_leaves_their_objects_as_their_clis_do_and_lets_a_promote_through()
 {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let stg = cluster.namespace("gitops-stg").await;
    let prod = cluster.namespace("gitops-prod").await;
    let gns = cluster.namespace("gitops-argocd").await;
    let pp = PostParams::default();
    let deployments = |ns: &str| {
        Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(cluster.client.clone(), ns)
    };
    deployments(&stg.name)
        .create(
            &pp,
            &Workload::new("checkout")
                .image("shop/checkout:2")
                .deployment(),
        )
        .await
        .expect("create");
    deployments(&prod.name)
        .create(
            &pp,
            &Workload::new("checkout")
                .image("shop/checkout:1")
                .annotation(
                    "argocd.argoproj.io/tracking-id",
                    &format!("checkout:apps/Deployment:{}/checkout", prod.name),
                )
                .deployment(),
        )
        .await
        .expect("create");
    let apps = applications(&cluster, &gns.name);
    let policy = serde_json::json!({
        "automated": {"prune": true, "selfHeal": true},
        "syncOptions": ["CreateNamespace=true"],
    });
    application(&apps, "checkout", policy.clone()).await;
    application(
        &apps,
        "solo",
        serde_json::json!({"automated": {"selfHeal": true}}),
    )
    .await;
    application(
        &apps,
        "manual",
        serde_json::json!({"syncOptions": ["Validate=false"]}),
    )
    .await;
    let ks: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps"},
        "spec": {"interval": "5m", "prune": true, "path": "./apps",
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
    }))
    .expect("a Kustomization");
    let flux = kustomizations(&cluster, &gns.name);
    flux.create(&pp, &ks)
        .await
        .expect("create the Kustomization");

    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "PSHOP01", None)]).await;
    let (dir, config) = TestConfig::new(POLICY)
        .pagerduty(&pd.uri())
        .cluster(&cluster.kubeconfig)
        .environment("staging", &stg.name)
        .protected("prod", &prod.name, 0)
        .set(
            "environments.prod.gitops",
            "argocd_namespace",
            gns.name.as_str(),
        )
        .set(
            "environments.prod.gitops",
            "flux_namespace",
            gns.name.as_str(),
        )
        .set("environments.prod.gitops", "max_suspend", "4h")
        .write();
    let env = [("PAGERDUTY_TOKEN", fakes::PD_TOKEN)];
    let run = |user: &str, text: &str| {
        crate::common::cli::exec(&config, &env, user, Some("C01INCIDENT"), true, text)
    };

    // The right is `gitops`, which on-call alone does not hold.
    let (code, out) = run(
        "U01ALICE",
        "gitops suspend checkout -e prod --for 2h --reason Q1OPEN",
    );
    assert_eq!(code, 3, "{out}");
    // Longer than the environment allows: refused before anything is asked.
    let (code, out) = run(
        "U02CAROL",
        "gitops suspend checkout -e prod --for 5h --reason Q1OPEN",
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("at most 4h"), "{out}");

    // Before: the GitOps-managed workload is not promoted, and the way on is named.
    let (code, out) = run(
        "U02CAROL",
        "promote checkout --from staging --to prod --reason Q1OPEN",
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("managed by GitOps (application/checkout)"),
        "{out}"
    );
    assert!(out.contains("gitops suspend application/checkout"), "{out}");

    let (code, out) = run(
        "U02CAROL",
        "gitops suspend checkout -e prod --for 2h --reason Q1OPEN",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("suspended the reconciliation of application/checkout until"),
        "{out}"
    );
    assert!(out.contains("pitcrew resumes it at the deadline"), "{out}");
    // As `argocd app set --sync-policy none` leaves it: automated gone, the rest kept.
    let mut expected = spec(&apps, "solo").await;
    expected["syncPolicy"] = serde_json::json!({"syncOptions": ["CreateNamespace=true"]});
    expected["source"]["path"] = "checkout".into();
    assert_eq!(spec(&apps, "checkout").await, expected);
    let marks = annotations(&apps, "checkout").await;
    assert!(
        marks.contains(&"pitcrew.dev/reconciliation-suspended-until".to_string())
            && marks.contains(&"pitcrew.dev/reconciliation-suspended-by".to_string()),
        "{marks:?}"
    );

    // Suspended once is enough; the deadline is not moved silently.
    let (code, out) = run(
        "U02CAROL",
        "gitops suspend checkout -e prod --for 1h --reason Q1OPEN",
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("already suspended by pitcrew until"), "{out}");

    // Meanwhile the promote goes through, and says until when reconciliation waits.
    let (code, out) = run(
        "U02CAROL",
        "promote checkout --from staging --to prod --reason Q1OPEN",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("application/checkout's reconciliation is suspended until"),
        "{out}"
    );
    let (code, out) = run("U01ALICE", "status -e prod");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("GitOps reconciliation of application/checkout")
            && out.contains("suspended until"),
        "{out}"
    );

    // Resumed by hand: the automated block comes back exactly as it was.
    let (code, out) = run("U02CAROL", "gitops resume checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("resumed the reconciliation of application/checkout"),
        "{out}"
    );
    assert_eq!(spec(&apps, "checkout").await["syncPolicy"], policy);
    assert!(
        !annotations(&apps, "checkout")
            .await
            .iter()
            .any(|a| a.starts_with("pitcrew.dev/")),
        "pitcrew's marks are gone"
    );
    let (code, out) = run("U02CAROL", "gitops resume checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("already reconciles on its own: nothing to resume"),
        "{out}"
    );

    // A sync policy holding only `automated` goes away whole, as in argocd's CLI.
    let (code, out) = run(
        "U02CAROL",
        "gitops suspend app/solo -e prod --for 30m --reason Q1OPEN",
    );
    assert_eq!(code, 0, "{out}");
    assert!(spec(&apps, "solo").await.get("syncPolicy").is_none());
    // An Application pitcrew did not suspend: nothing to suspend, nothing it can restore.
    let (code, out) = run(
        "U02CAROL",
        "gitops suspend app/manual -e prod --for 30m --reason Q1OPEN",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing to suspend"), "{out}");
    let (code, out) = run(
        "U02CAROL",
        "gitops resume app/manual -e prod --reason Q1OPEN",
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("pitcrew holds no suspension of application/manual"),
        "{out}"
    );

    // Flux: spec.suspend set, then removed (flux resume's merge patch of an omitempty field).
    let (code, out) = run(
        "U02CAROL",
        "gitops suspend ks/apps -e prod --for 30m --reason Q1OPEN",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(spec(&flux, "apps").await["suspend"], true);
    let (code, out) = run("U02CAROL", "gitops resume ks/apps -e prod --reason Q1OPEN");
    assert_eq!(code, 0, "{out}");
    assert!(spec(&flux, "apps").await.get("suspend").is_none(), "{out}");

    // The trail holds each as a `gitops` command.
    let (code, out) = crate::common::cli::pitcrew(
        &config,
        &[],
        &["audit", "query", "--action", "gitops", "--format", "jsonl"],
    );
    assert_eq!(code, 0, "{out}");
    let succeeded = out
        .lines()
        .filter(|l| l.contains("\"phase\":\"succeeded\""))
        .count();
    assert_eq!(succeeded, 5, "{out}");
    drop(dir);
}

#[tokio::test]
async fn a_deadline_is_resumed_by_exactly_one_of_two_replicas() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    for t in TestDb::all().await {
        let label = t.label();
        let db = t.db().clone();
        db.migrate().await.expect("migrate");
        let gns = cluster.namespace("gitops-deadline").await;
        let apps = applications(&cluster, &gns.name);
        let before = serde_json::json!({"automated": {"prune": true, "selfHeal": true}});
        application(&apps, "checkout", before.clone()).await;
        let (_dir, path) = TestConfig::new(POLICY)
            .set("slack", "announce_channel", "C01ONCALL")
            .cluster(&cluster.kubeconfig)
            .environment("prod", &gns.name)
            .set(
                "environments.prod.gitops",
                "argocd_namespace",
                gns.name.as_str(),
            )
            .write();
        // A suspension made earlier (by another process) whose deadline has passed.
        let mut suspended = spec(&apps, "checkout").await;
        suspended
            .as_object_mut()
            .expect("spec")
            .remove("syncPolicy");
        apps.patch(
            "checkout",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"syncPolicy": null}})),
        )
        .await
        .expect("suspend by hand");
        let env = pitcrew::names::EnvName::parse("prod").expect("env");
        let now = chrono::Utc::now();
        pitcrew::gitops::Suspensions::new(db.clone())
            .record(&pitcrew::gitops::NewSuspension {
                env: &env,
                cluster: "main",
                namespace: &gns.name,
                kind: pitcrew::command::Kind::Application,
                name: "checkout",
                now: now - chrono::Duration::hours(2),
                until: now - chrono::Duration::seconds(1),
                suspended_by: "U02CAROL",
                correlation: "c-suspend",
                channel: Some("C01INCIDENT"),
                restore: &before["automated"],
            })
            .await
            .expect("record");

        let replica = || async {
            let config = pitcrew::config::Config::load(&path, &|_| None).expect("config");
            let clusters = pitcrew::cluster::Clusters::connect(&config, None)
                .await
                .expect("clusters");
            pitcrew::workflow::Context::build(
                config,
                pitcrew::workflow::Parts {
                    clusters: std::sync::Arc::new(clusters),
                    audit: Box::new(pitcrew::audit::AuditStore::new(db.clone())),
                    justifier: std::sync::Arc::new(pitcrew::justify::LiveJustifier::new(
                        None, None,
                    )),
                    deliverers: Vec::new(),
                    db: Some(db.clone()),
                },
                pitcrew::metrics::Metrics::new(),
            )
            .expect("context")
        };
        let (a, b) = (replica().await, replica().await);
        let (ra, rb) = tokio::join!(
            pitcrew::workflow::resume_due(&a),
            pitcrew::workflow::resume_due(&b)
        );
        assert_eq!(
            ra.expect("replica a") + rb.expect("replica b"),
            1,
            "{label}: one replica resumes it"
        );
        assert_eq!(
            spec(&apps, "checkout").await["syncPolicy"],
            before,
            "{label}"
        );
        // Later sweeps find nothing due.
        assert_eq!(
            pitcrew::workflow::resume_due(&a).await.expect("again"),
            0,
            "{label}"
        );
        let open = pitcrew::gitops::Suspensions::new(db.clone())
            .open_in(&env)
            .await
            .expect("open");
        assert!(open.is_empty(), "{label}: marked resumed");

        let trail = pitcrew::audit::AuditStore::new(db.clone())
            .query(&pitcrew::audit::Filter {
                action: Some("gitops".into()),
                ..Default::default()
            })
            .await
            .expect("query");
        let phases: Vec<(&str, &str)> = trail
            .iter()
            .map(|e| (e.phase.as_str(), e.actor_id.as_str()))
            .collect();
        assert_eq!(
            phases,
            [("started", "pitcrew"), ("succeeded", "pitcrew")],
            "{label}: recorded once, as pitcrew's own"
        );
        assert!(
            trail[1]
                .detail
                .contains("\"suspend_correlation\":\"c-suspend\""),
            "{label}: {}",
            trail[1].detail
        );
        let told = pitcrew::outbox::Outbox::new(db.clone())
            .items()
            .await
            .expect("outbox");
        assert_eq!(told.len(), 1, "{label}: the channel is told once");
        assert_eq!(
            told[0].target, "C01INCIDENT",
            "{label}: where it was suspended"
        );
        let said = pitcrew::outbox::Notice::from_body(&told[0].body).plain_text();
        assert!(
            said.contains("application/checkout")
                && said.contains("reached its deadline")
                && said.contains("resumed the reconciliation"),
            "{label}: {said}"
        );
        t.cleanup().await;
    }
}
