//! The Helm chart (deploy/helm/pitcrew) with a real helm (v4, built from the Go module proxy by
//! scripts/testenv/helm.sh): `helm lint --strict`; deploy/ is exactly what the chart renders;
//! values that must be refused are refused with the key named; and `helm install` then `helm
//! upgrade` on the test cluster, with PostgreSQL and with SQLite values — the pods rolled by a
//! changed configuration and not by a changed policy, and pitcrew working with nothing but the
//! ServiceAccount and RoleBindings the release made.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::cluster::TestCluster;
use crate::common::{Part, require_env};

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/pitcrew")
}

struct Helm {
    bin: String,
    kubeconfig: Option<String>,
}

impl Helm {
    fn new(cluster: Option<&TestCluster>) -> Option<Helm> {
        Some(Helm {
            bin: require_env(Part::Cluster, "PITCREW_TEST_HELM")?,
            kubeconfig: cluster.map(|c| c.kubeconfig.clone()),
        })
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        // Its own caches and configuration, none of the user's.
        let home = std::env::temp_dir().join("pitcrew-test-helm-home");
        cmd.env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .args(args);
        if let Some(k) = &self.kubeconfig {
            cmd.env("KUBECONFIG", k);
        }
        cmd.output().expect("run helm")
    }

    /// Runs helm and returns stdout; panics with its output when it fails.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs helm expecting a refusal; returns what it said.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "helm {args:?} was accepted:\n{said}");
        said
    }
}

#[test]
fn the_chart_lints_and_deploy_is_what_it_renders() {
    let Some(helm) = Helm::new(None) else {
        return;
    };
    let chart = chart();
    let chart = chart.to_str().expect("utf-8");
    helm.ok(&["lint", "--strict", chart]);
    for set in [
        "database.type=sqlite,replicas=1",
        "slack.mode=socket,config.toml=[server]\nmode = \"socket\"\n",
        "ingress.enabled=true,ingress.host=pitcrew.example.com,metrics.monitor.enabled=true",
    ] {
        helm.ok(&["lint", "--strict", chart, "--set", set]);
    }

    // The chart installs this version of pitcrew (its image tag defaults to appVersion).
    let chart_yaml =
        std::fs::read_to_string(Path::new(chart).join("Chart.yaml")).expect("Chart.yaml");
    let app_version = format!("appVersion: \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        chart_yaml.lines().any(|l| l == app_version),
        "Chart.yaml's appVersion is not pitcrew's version ({app_version})"
    );
    // It packages (what `helm push` to an OCI registry takes).
    let packaged = tempfile::tempdir().expect("tempdir");
    helm.ok(&[
        "package",
        chart,
        "--destination",
        packaged.path().to_str().expect("utf-8"),
    ]);
    assert!(packaged.path().join("pitcrew-0.1.0.tgz").is_file());

    // deploy/*.yaml are the chart rendered with deploy/helm/example-values.yaml, byte for byte.
    let out = tempfile::tempdir().expect("tempdir");
    let values = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/example-values.yaml");
    helm.ok(&[
        "template",
        "pitcrew",
        chart,
        "--namespace",
        "pitcrew",
        "-f",
        values.to_str().expect("utf-8"),
        "--output-dir",
        out.path().to_str().expect("utf-8"),
    ]);
    let rendered = out.path().join("pitcrew/templates");
    let mut files: Vec<_> = std::fs::read_dir(&rendered)
        .expect("rendered")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "config.yaml",
            "deployment.yaml",
            "impersonation.yaml",
            "network.yaml",
            "rbac.yaml"
        ]
    );
    for f in files {
        let want = std::fs::read_to_string(rendered.join(&f)).expect("rendered file");
        let have = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy")
                .join(&f),
        )
        .unwrap_or_default();
        let body = have.split_once('\n').map(|(_, b)| b).unwrap_or_default();
        assert!(
            body == want,
            "deploy/{f} is not what the chart renders: run scripts/render-deploy.sh"
        );
    }

    // The configuration change rolls the pods, the policy change does not.
    let checksum = |set: &str| {
        let text = helm.ok(&["template", "pitcrew", chart, "--set", set]);
        text.lines()
            .find_map(|l| l.trim().strip_prefix("checksum/config: "))
            .map(str::to_string)
            .expect("a checksum/config annotation")
    };
    let base = checksum("logLevel=info");
    assert_eq!(
        base,
        checksum("policy.csv=p\\, U1\\, *\\, *\\, *\\, *\\, status\\, *\\, allow")
    );
    assert_ne!(
        base,
        checksum("config.toml=[server]\nmode = \"http\"\nshutdown_grace = \"10s\"\n")
    );
}

#[test]
fn values_that_must_be_refused_are_refused_with_the_key_named() {
    let Some(helm) = Helm::new(None) else {
        return;
    };
    let chart = chart();
    let chart = chart.to_str().expect("utf-8");
    for (set, says) in [
        (
            "database.type=sqlite,replicas=2",
            "replicas must be 1 (got 2)",
        ),
        ("secrets.SLACK_BOT_TOKEN=xoxb-1-2-3", "SLACK_BOT_TOKEN"),
        ("database.postgres.url=postgres://u:p@db/pitcrew", "url"),
        ("replica=3", "replica"),
        ("replicas=two", "replicas"),
        ("database.type=mysql", "database/type"),
        (
            "config.toml=[server]\nmode = \"http\"\n[slack]\nbot_token = \"xoxb-123-456\"\n",
            "config.toml holds a secret",
        ),
        (
            "config.toml=[server]\nmode = \"socket\"\n",
            "[server] mode = \"socket\" but slack.mode is \"http\"",
        ),
        (
            "slack.mode=socket,ingress.enabled=true,ingress.host=x,config.toml=[server]\nmode = \"socket\"\n",
            "needs no Ingress",
        ),
        ("config.toml=[server\n", "not valid TOML"),
        ("rbac.namespaces[0]=Not_A_Namespace", "rbac/namespaces/0"),
    ] {
        let said = helm.refused(&["template", "pitcrew", chart, "--set", set]);
        assert!(
            said.contains(says),
            "--set {set}: {says:?} missing in:\n{said}"
        );
    }
}

/// Installs the chart in a new namespace of the test cluster with `values`, acting in the
/// workload namespace `workloads`; checks it rolled out and that pitcrew works with the RBAC
/// it made; then upgrades the policy (no new pods) and the configuration (new pods).
async fn install_and_upgrade(cluster: &TestCluster, database: &str, values: &[&str]) {
    let helm = Helm::new(Some(cluster)).expect("helm");
    let (wl, api) = cluster.with_deployment("helm-wl", "checkout").await;
    let release_ns = cluster.namespace("helm").await;
    let ns = release_ns.name.as_str();
    let release = format!("pc-{database}-{}", crate::common::unique_suffix());
    let fullname = format!("{release}-pitcrew");
    let mut secret = vec![
        "create",
        "secret",
        "generic",
        "pitcrew-secrets",
        "--from-literal=SLACK_SIGNING_SECRET=s",
        "--from-literal=SLACK_BOT_TOKEN=xoxb-test",
    ];
    secret.push("--from-literal=DATABASE_URL=postgres://pitcrew@postgres.invalid/pitcrew");
    cluster.kubectl(ns, &secret);
    let chart = chart();
    let dir = tempfile::tempdir().expect("tempdir");
    let rbac = dir.path().join("rbac.yaml");
    let rbac_values = format!(
        "rbac:\n  namespaces: [{}]\n  gitopsNamespaces: []\n",
        wl.name
    );
    std::fs::write(&rbac, rbac_values).expect("write values");
    let mut args = vec![
        "install",
        &release,
        chart.to_str().expect("utf-8"),
        "--namespace",
        ns,
        "-f",
        rbac.to_str().expect("utf-8"),
        "--wait",
        "--timeout",
        "2m",
    ];
    for v in values {
        args.extend(["--set", v]);
    }
    helm.ok(&args);
    let get = |what: &str, jsonpath: &str| {
        String::from_utf8_lossy(
            &cluster
                .kubectl(ns, &["get", what, "-o", &format!("jsonpath={jsonpath}")])
                .stdout,
        )
        .into_owned()
    };
    let deployment = format!("deployment/{fullname}");
    let ready = get(&deployment, "{.status.readyReplicas}/{.spec.replicas}");
    let strategy = get(&deployment, "{.spec.strategy.type}");
    if database == "sqlite" {
        assert_eq!((ready.as_str(), strategy.as_str()), ("1/1", "Recreate"));
        assert_eq!(
            get(&format!("pvc/{fullname}-data"), "{.status.phase}"),
            "Bound"
        );
        let env = get(
            &deployment,
            "{.spec.template.spec.containers[0].env[2].value}",
        );
        assert_eq!(env, "sqlite:/var/lib/pitcrew/pitcrew.db");
    } else {
        assert_eq!(
            (ready.as_str(), strategy.as_str()),
            ("2/2", "RollingUpdate")
        );
        assert_eq!(get(&format!("pdb/{fullname}"), "{.spec.minAvailable}"), "1");
        let from = get(
            &deployment,
            "{.spec.template.spec.containers[0].env[2].valueFrom.secretKeyRef.name}",
        );
        assert_eq!(from, "pitcrew-secrets");
    }
    assert_eq!(
        get(
            &format!("service/{fullname}"),
            "{.spec.ports[0].targetPort}"
        ),
        "http"
    );

    // pitcrew with the release's own ServiceAccount: acts in the namespace it was given,
    // and is refused elsewhere.
    let token = String::from_utf8_lossy(
        &cluster
            .kubectl(ns, &["create", "token", &fullname, "--duration", "1h"])
            .stdout,
    )
    .trim()
    .to_string();
    let kubeconfig = crate::deploy::kubeconfig_with_token(cluster, &token, dir.path());
    let (other, _) = cluster.with_deployment("helm-other", "checkout").await;
    let (_cfg, config) =
        crate::common::app::TestConfig::new("p, U01DEV, *, *, *, *, *, *, allow\n")
            .set("rollout", "timeout", "60s")
            .cluster(kubeconfig.display())
            .environment("staging", &wl.name)
            .environment("other", &other.name)
            .write();
    for (text, expect) in [
        ("status checkout -e staging", "replicas: 2 desired"),
        ("restart checkout -e staging", "successfully rolled out"),
    ] {
        let (code, out) = crate::deploy::exec(&config, text);
        assert_eq!(code, 0, "`{text}` as the release's ServiceAccount:\n{out}");
        assert!(out.contains(expect), "`{text}`:\n{out}");
    }
    let (code, out) = crate::deploy::exec(&config, "restart checkout -e other");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("may not do this"), "{out}");
    assert_eq!(
        crate::common::cluster::revision_of(&api.get("checkout").await.expect("get")),
        2
    );

    // `helm upgrade --reuse-values --set-file KEY=FILE`, FILE holding `text`.
    let chart_path = chart.to_str().expect("utf-8");
    let upgrade = |key: &str, text: &str| {
        let file = dir.path().join(key);
        std::fs::write(&file, text).expect("write");
        let set_file = format!("{key}={}", file.display());
        helm.ok(&[
            "upgrade",
            &release,
            chart_path,
            "--namespace",
            ns,
            "--reuse-values",
            "--wait",
            "--timeout",
            "2m",
            "--set-file",
            &set_file,
        ]);
    };

    // A new policy: the ConfigMap changes, the pods stay (pitcrew reloads it).
    let generation = || get(&deployment, "{.metadata.generation}");
    let before = generation();
    upgrade(
        "policy.csv",
        "p, role:oncall, *, *, *, *, status, *, allow\n",
    );
    assert!(
        get(
            &format!("configmap/{fullname}-policy"),
            "{.data.policy\\.csv}"
        )
        .contains("role:oncall, *, *, *, *, status")
    );
    assert_eq!(
        generation(),
        before,
        "a policy change does not roll the pods"
    );

    // A new configuration: the pods roll.
    upgrade(
        "config.toml",
        "[server]\nmode = \"http\"\nshutdown_grace = \"20s\"\n",
    );
    assert_ne!(
        generation(),
        before,
        "a configuration change rolls the pods"
    );
    assert!(
        get(
            &format!("configmap/{fullname}-config"),
            "{.data.pitcrew\\.toml}"
        )
        .contains("shutdown_grace = \"20s\"")
    );

    // Refused values are refused by install too, before anything is made.
    let said = helm.refused(&[
        "install",
        "refused",
        chart.to_str().expect("utf-8"),
        "--namespace",
        ns,
        "--set",
        "database.type=sqlite,replicas=2",
    ]);
    assert!(said.contains("replicas must be 1"), "{said}");
    helm.ok(&["uninstall", &release, "--namespace", ns, "--wait"]);
    let left = cluster.kubectl_output(ns, &["get", &format!("clusterrole/{fullname}-workloads")]);
    assert!(!left.status.success(), "uninstall removes the ClusterRole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_and_upgrades_with_postgresql() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    install_and_upgrade(&cluster, "postgres", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_and_upgrades_with_sqlite_on_a_volume() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    // No provisioner here: a volume for the claim to bind, of a class of this test's own.
    let class = format!("pitcrew-test-{}", crate::common::unique_suffix());
    let pv = serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": class},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": class, "hostPath": {"path": format!("/tmp/{class}")}}});
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), pv.to_string()).expect("write");
    cluster.kubectl(
        "default",
        &["create", "-f", file.path().to_str().expect("utf-8")],
    );
    let storage = format!("database.sqlite.storageClassName={class}");
    install_and_upgrade(
        &cluster,
        "sqlite",
        &["database.type=sqlite,replicas=1", &storage],
    )
    .await;
    let _ = cluster.kubectl_output("default", &["delete", "pv", &class, "--wait=false"]);
}
