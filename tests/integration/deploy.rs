//! `deploy/` against the real API server: every manifest is accepted by a server-side dry
//! run; the ConfigMap carries pitcrew's real model; and pitcrew does its whole job with only
//! the ServiceAccount and ClusterRole shipped there (a token from the TokenRequest API), and
//! says clearly what is missing when a permission is taken away.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, revision_of};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// kubectl against the test cluster, with `stdin`; returns the output whatever the status.
fn kubectl(cluster: &TestCluster, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(&cluster.kubectl)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let Some(text) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(text.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The objects of a manifest file as JSON (kubectl's own YAML reading, no server involved).
fn objects(cluster: &TestCluster, file: &str) -> Vec<Value> {
    let path = deploy_dir().join(file);
    let text = ok(
        kubectl(
            cluster,
            &[
                "create",
                "--dry-run=client",
                "-o",
                "json",
                "-f",
                path.to_str().expect("utf-8"),
            ],
            None,
        ),
        file,
    );
    // One JSON document per object, one after another (or a List).
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|v| v.expect("kubectl prints JSON"))
        .flat_map(|v| match v["kind"].as_str() {
            Some("List") => v["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![v],
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_manifests_are_accepted_by_the_api_server_and_carry_the_real_model() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    // The namespaces the manifests name; created for real (idempotent), the rest dry-run.
    for ns in [
        "pitcrew",
        "shop-staging",
        "shop-prod",
        "argocd",
        "flux-system",
    ] {
        let _ = kubectl(&cluster, &["create", "namespace", ns], None);
    }
    let out = kubectl(
        &cluster,
        &[
            "apply",
            "--dry-run=server",
            "-f",
            deploy_dir().to_str().expect("utf-8"),
        ],
        None,
    );
    let applied = ok(out, "kubectl apply --dry-run=server -f deploy/");
    for kind in [
        "serviceaccount/pitcrew",
        "clusterrole.rbac.authorization.k8s.io/pitcrew-workloads",
        "rolebinding.rbac.authorization.k8s.io/pitcrew-workloads",
        "clusterrole.rbac.authorization.k8s.io/pitcrew-impersonate",
        "clusterrolebinding.rbac.authorization.k8s.io/pitcrew-impersonate",
        "configmap/pitcrew-config",
        "configmap/pitcrew-policy",
        "deployment.apps/pitcrew",
        "service/pitcrew",
        "poddisruptionbudget.policy/pitcrew",
        "networkpolicy.networking.k8s.io/pitcrew",
    ] {
        assert!(applied.contains(kind), "{kind} missing from:\n{applied}");
    }

    let config = objects(&cluster, "config.yaml");
    let data_of = |name: &str| {
        config
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .map(|o| o["data"].clone())
            .unwrap_or_else(|| panic!("ConfigMap {name} in deploy/config.yaml"))
    };
    let (data, policy) = (data_of("pitcrew-config"), data_of("pitcrew-policy"));
    let model =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf"))
            .expect("model");
    assert_eq!(
        policy["model.conf"].as_str(),
        Some(model.as_str()),
        "the ConfigMap's model.conf is policies/model.conf"
    );

    let deployment = objects(&cluster, "deployment.yaml")
        .into_iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    let container = &spec["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    // The shipped configuration and policy are ones pitcrew accepts (with its secrets set,
    // as the Secret gives them).
    let dir = tempfile::tempdir().expect("tempdir");
    for (file, text) in [
        ("pitcrew.toml", &data["pitcrew.toml"]),
        ("policy.csv", &policy["policy.csv"]),
        ("model.conf", &policy["model.conf"]),
    ] {
        std::fs::write(dir.path().join(file), text.as_str().unwrap_or_default()).expect("write");
    }
    let (code, out) = crate::common::cli::pitcrew(
        &dir.path().join("pitcrew.toml"),
        &[
            ("SLACK_SIGNING_SECRET", "s"),
            ("SLACK_BOT_TOKEN", "xoxb-test"),
            ("PAGERDUTY_TOKEN", "pd"),
            ("JIRA_EMAIL", "bot@example.com"),
            ("JIRA_API_TOKEN", "jira"),
        ],
        &["config", "check"],
    );
    assert_eq!(
        code, 0,
        "pitcrew config check on the shipped configuration:\n{out}"
    );

    // Shutdown: the pod keeps serving while the Service forgets it (preStop), then drains for
    // shutdown_grace, then gives cancelled work FINAL_WAIT; the kubelet must not kill it first.
    let toml: toml::Table = data["pitcrew.toml"]
        .as_str()
        .expect("pitcrew.toml in the ConfigMap")
        .parse()
        .expect("pitcrew.toml is TOML");
    let grace = humantime::parse_duration(
        toml["server"]["shutdown_grace"]
            .as_str()
            .expect("[server].shutdown_grace is set"),
    )
    .expect("a duration");
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("a preStop sleep");
    assert!(pre_stop >= 3, "{pre_stop} s");
    let needed = pre_stop + grace.as_secs() + pitcrew::serve::FINAL_WAIT.as_secs();
    assert!(
        spec["terminationGracePeriodSeconds"].as_u64() >= Some(needed),
        "terminationGracePeriodSeconds {} < {needed} s",
        spec["terminationGracePeriodSeconds"]
    );
    assert!(
        container["readinessProbe"]["timeoutSeconds"].as_u64()
            > Some(pitcrew::serve::CLUSTER_PROBE_TIMEOUT.as_secs()),
        "the probe outwaits /readyz's cluster check"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(container["resources"]["limits"]["memory"].is_string());
}

/// A kubeconfig for the test cluster that authenticates as `token` instead of the admin.
pub(crate) fn kubeconfig_with_token(cluster: &TestCluster, token: &str, dir: &Path) -> PathBuf {
    let text = ok(
        kubectl(
            cluster,
            &["config", "view", "--raw", "--minify", "-o", "json"],
            None,
        ),
        "kubectl config view",
    );
    let mut config: Value = serde_json::from_str(&text).expect("kubeconfig json");
    config["users"] = json!([{"name": "pitcrew", "user": {"token": token}}]);
    if let Some(contexts) = config["contexts"].as_array_mut() {
        for c in contexts {
            c["context"]["user"] = "pitcrew".into();
        }
    }
    let path = dir.join("pitcrew-sa.kubeconfig");
    std::fs::write(&path, config.to_string()).expect("write kubeconfig");
    path
}

pub(crate) fn exec(config: &Path, text: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["exec", "--as", "U01DEV", "--config"])
        .arg(config)
        .arg("--")
        .arg(text)
        .output()
        .expect("run pitcrew exec");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitcrew_works_with_only_the_shipped_rbac_and_says_what_is_missing() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("rbac", "checkout").await;
    // The shipped ClusterRole's rules, under a name of this test's own (cluster-scoped
    // objects are shared by tests running at the same time).
    let shipped = objects(&cluster, "rbac.yaml");
    let rules_of = |name: &str| {
        shipped
            .iter()
            .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == name)
            .map(|r| r["rules"].clone())
            .unwrap_or_else(|| panic!("ClusterRole {name} in deploy/rbac.yaml"))
    };
    // The workloads' rules and the GitOps objects' rules, bound here together (the test's
    // Application lives beside the workload).
    let mut rules = rules_of("pitcrew-workloads");
    if let (Some(all), Some(gitops)) = (
        rules.as_array_mut(),
        rules_of("pitcrew-gitops").as_array().cloned(),
    ) {
        all.extend(gitops);
    }
    let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "checkout", "namespace": ns.name},
        "spec": {"project": "default",
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": ns.name},
                 "source": {"repoURL": "https://git.example.com/shop.git", "path": "checkout"},
                 "syncPolicy": {"automated": {"prune": true}}}});
    ok(
        kubectl(&cluster, &["create", "-f", "-"], Some(&app.to_string())),
        "create an Application",
    );
    let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": ns.name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "shop/web:1"}]}},
                 "strategy": {"canary": {}}}});
    ok(
        kubectl(&cluster, &["create", "-f", "-"], Some(&rollout.to_string())),
        "create a Rollout",
    );
    let role = format!("pitcrew-workloads-{}", ns.name);
    let cluster_role = |rules: &Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": role}, "rules": rules})
        .to_string()
    };
    ok(
        kubectl(&cluster, &["apply", "-f", "-"], Some(&cluster_role(&rules))),
        "apply the ClusterRole",
    );
    let binding = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "pitcrew", "namespace": ns.name}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "pitcrew-workloads", "namespace": ns.name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": "pitcrew", "namespace": ns.name}]}
    ]});
    ok(
        kubectl(&cluster, &["apply", "-f", "-"], Some(&binding.to_string())),
        "apply the ServiceAccount and RoleBinding",
    );
    let token = ok(
        kubectl(
            &cluster,
            &[
                "create",
                "token",
                "pitcrew",
                "-n",
                &ns.name,
                "--duration",
                "1h",
            ],
            None,
        ),
        "kubectl create token (TokenRequest)",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = kubeconfig_with_token(&cluster, token.trim(), dir.path());
    let (_cfg_dir, config) = TestConfig::new("p, U01DEV, staging, *, *, *, *, *, allow\n")
        .set("rollout", "timeout", "60s")
        .cluster(kubeconfig.display())
        .environment("staging", &ns.name)
        .write();

    // Everything pitcrew does, as the ServiceAccount.
    for (text, expect) in [
        ("status checkout -e staging", "replicas: 2 desired"),
        ("history checkout -e staging", "revision"),
        ("restart checkout -e staging --dry-run", "would restart"),
        ("restart checkout -e staging", "successfully rolled out"),
        ("rollback checkout -e staging", "successfully rolled out"),
        (
            "scale checkout -e staging --replicas 3",
            "successfully rolled out",
        ),
        ("pause checkout -e staging", "paused deployment/checkout"),
        ("resume checkout -e staging", "resumed deployment/checkout"),
        ("status rollout/web -e staging", "rollout/web in staging"),
        ("restart rollout/web -e staging", "restarted rollout/web"),
        (
            "abort rollout/web -e staging",
            "aborted the update of rollout/web",
        ),
        (
            &format!(
                "gitops suspend app/checkout -e staging -n {} --for 10m",
                ns.name
            ),
            "suspended the reconciliation of application/checkout",
        ),
        (
            &format!("gitops resume app/checkout -e staging -n {}", ns.name),
            "resumed the reconciliation of application/checkout",
        ),
    ] {
        let (code, out) = exec(&config, text);
        assert_eq!(code, 0, "`{text}` as the ServiceAccount:\n{out}");
        assert!(
            out.contains(expect),
            "`{text}`: {expect:?} missing in:\n{out}"
        );
    }
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 3);

    // Take `patch` away: the change is refused by Kubernetes and pitcrew says whose
    // permission is missing and where to grant it; nothing changed.
    let mut without_patch = rules.clone();
    if let Some(list) = without_patch.as_array_mut() {
        for rule in list.iter_mut() {
            if let Some(verbs) = rule["verbs"].as_array_mut() {
                verbs.retain(|v| v != "patch");
            }
        }
        // A rule left without verbs (the scale subresources) is no rule at all.
        list.retain(|rule| rule["verbs"].as_array().is_some_and(|v| !v.is_empty()));
    }
    ok(
        kubectl(
            &cluster,
            &["apply", "-f", "-"],
            Some(&cluster_role(&without_patch)),
        ),
        "apply the ClusterRole without patch",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (code, out) = loop {
        let (code, out) = exec(&config, "restart checkout -e staging");
        if code != 0 || std::time::Instant::now() > deadline {
            break (code, out);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(code, 1, "a refused change is a failed action:\n{out}");
    assert!(
        out.contains("pitcrew's Kubernetes account may not do this")
            && out.contains("deploy/rbac.yaml"),
        "{out}"
    );
    let _ = kubectl(&cluster, &["delete", "clusterrole", &role], None);
}
