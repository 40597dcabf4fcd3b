//! The test Kubernetes cluster: a client, a namespace per test, kubectl as the oracle, and
//! waiting for rollouts the way `kubectl rollout status` decides they are done.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

use super::{Part, require_env, unique_suffix};

/// The revision annotation the Deployment controller puts on ReplicaSets (and Deployments).
pub const REVISION: &str = "deployment.kubernetes.io/revision";

pub struct TestCluster {
    pub client: Client,
    pub kubeconfig: String,
    pub kubectl: String,
}

impl TestCluster {
    /// Connects to the cluster that `scripts/test.sh` started. `None` only when cluster tests
    /// are explicitly skipped outside CI.
    pub async fn connect() -> Option<TestCluster> {
        let kubeconfig = require_env(Part::Cluster, "KUBECONFIG")?;
        let kubectl = require_env(Part::Cluster, "PITCREW_TEST_KUBECTL")?;
        pitcrew::install_crypto_provider();
        let client = client_from(&kubeconfig)
            .await
            .expect("a kube client from KUBECONFIG");
        Some(TestCluster {
            client,
            kubeconfig,
            kubectl,
        })
    }

    /// A new namespace `<prefix>-<unique>`, deleted when the returned value is dropped.
    pub async fn namespace(&self, prefix: &str) -> TestNamespace {
        let name = format!("{prefix}-{}", unique_suffix());
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &ns)
            .await
            .expect("create a test namespace");
        TestNamespace {
            name,
            kubeconfig: self.kubeconfig.clone(),
        }
    }

    /// Runs the real kubectl against the test cluster, in `namespace`.
    pub fn kubectl(&self, namespace: &str, args: &[&str]) -> Output {
        let out = self.kubectl_output(namespace, args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// kubectl's output whether or not it succeeded (for refusals that are the oracle).
    pub fn kubectl_output(&self, namespace: &str, args: &[&str]) -> Output {
        Command::new(&self.kubectl)
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--namespace")
            .arg(namespace)
            .args(args)
            .output()
            .expect("run kubectl")
    }
}

/// A namespace that exists for one test. Deletion starts on drop (from a separate thread
/// with its own client, so it also happens when the test panics) and is not awaited:
/// the namespace controller finishes it in the background.
pub struct TestNamespace {
    pub name: String,
    kubeconfig: String,
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let kubeconfig = self.kubeconfig.clone();
        let deleter = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = client_from(&kubeconfig).await {
                    let api: Api<Namespace> = Api::all(client);
                    let _ = api.delete(&name, &DeleteParams::background()).await;
                }
            });
        });
        let _ = deleter.join();
    }
}

async fn client_from(kubeconfig: &str) -> Result<Client, Box<dyn std::error::Error>> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

/// Waits until a workload's rollout is complete, by the rules `kubectl rollout status` uses for
/// its kind (see [`rollout_complete`]). Panics with the last status on timeout.
pub async fn wait_for_rollout<K>(client: &Client, ns: &str, name: &str, timeout: Duration) -> K
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + RolloutStatus
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let start = Instant::now();
    loop {
        let obj = api.get(name).await.expect("get workload");
        if obj.rollout_complete() {
            return obj;
        }
        assert!(
            start.elapsed() < timeout,
            "{ns}/{name} did not finish rolling out within {timeout:?}: {obj:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_for_deployment(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Deployment {
    wait_for_rollout::<Deployment>(client, ns, name, timeout).await
}

/// "Is the rollout done?", as kubectl's `rollout status` decides it for each kind
/// (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go). The harness's own copy, so tests
/// that check pitcrew's verdict never compare it with itself.
pub trait RolloutStatus {
    fn rollout_complete(&self) -> bool;
}

impl RolloutStatus for Deployment {
    fn rollout_complete(&self) -> bool {
        let (Some(spec), Some(status)) = (&self.spec, &self.status) else {
            return false;
        };
        let desired = spec.replicas.unwrap_or(1);
        status.observed_generation.unwrap_or(0) >= self.metadata.generation.unwrap_or(0)
            && status.updated_replicas.unwrap_or(0) == desired
            && status.replicas.unwrap_or(0) == desired
            && status.available_replicas.unwrap_or(0) == desired
    }
}

impl RolloutStatus for StatefulSet {
    fn rollout_complete(&self) -> bool {
        let (Some(spec), Some(status)) = (&self.spec, &self.status) else {
            return false;
        };
        let desired = spec.replicas.unwrap_or(1);
        status.observed_generation.unwrap_or(0) >= self.metadata.generation.unwrap_or(0)
            && status.ready_replicas.unwrap_or(0) == desired
            && status.updated_replicas.unwrap_or(0) == desired
            && status.current_revision.is_some()
            && status.current_revision == status.update_revision
    }
}

impl RolloutStatus for DaemonSet {
    fn rollout_complete(&self) -> bool {
        let Some(status) = &self.status else {
            return false;
        };
        status.observed_generation.unwrap_or(0) >= self.metadata.generation.unwrap_or(0)
            && status.desired_number_scheduled > 0
            && status.updated_number_scheduled.unwrap_or(0) == status.desired_number_scheduled
            && status.number_available.unwrap_or(0) == status.desired_number_scheduled
    }
}

/// The Deployment's ReplicaSets (by selector and owner reference), oldest revision first.
pub async fn replica_sets(client: &Client, ns: &str, deployment: &Deployment) -> Vec<ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let uid = deployment.metadata.uid.clone().expect("deployment uid");
    let mut list: Vec<ReplicaSet> = api
        .list(&ListParams::default())
        .await
        .expect("list replicasets")
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect();
    list.sort_by_key(revision_of);
    list
}

/// The revision number of a ReplicaSet or Deployment (0 when absent).
pub fn revision_of<K: kube::Resource>(obj: &K) -> i64 {
    obj.meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

impl TestCluster {
    /// A fresh namespace with a rolled-out Deployment `name` (one revision), and its API.
    pub async fn with_deployment(
        &self,
        prefix: &str,
        name: &str,
    ) -> (TestNamespace, Api<Deployment>) {
        self.with_workload(prefix, name, super::fixtures::Workload::new(name))
            .await
    }

    /// A fresh namespace with `workload` as a rolled-out Deployment (one revision), and its
    /// API. `name` is the workload's name.
    pub async fn with_workload(
        &self,
        prefix: &str,
        name: &str,
        workload: super::fixtures::Workload,
    ) -> (TestNamespace, Api<Deployment>) {
        let ns = self.namespace(prefix).await;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &ns.name);
        api.create(&PostParams::default(), &workload.deployment())
            .await
            .expect("create the deployment");
        wait_for_deployment(&self.client, &ns.name, name, Duration::from_secs(60)).await;
        (ns, api)
    }
}

/// A directory holding pitcrew's model, the given policy and a config (`pitcrew.toml`) whose
/// `[policy]` points at them; `config` is the rest of the configuration.
pub fn pitcrew_dir(
    policy: &str,
    config: impl AsRef<str>,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model.conf"),
        dir.path().join("model.conf"),
    )
    .expect("model");
    std::fs::write(dir.path().join("policy.csv"), policy).expect("policy");
    let path = dir.path().join("pitcrew.toml");
    std::fs::write(
        &path,
        format!(
            "[policy]\nmodel = \"model.conf\"\npolicy = \"policy.csv\"\n{}",
            config.as_ref()
        ),
    )
    .expect("config");
    (dir, path)
}

/// Writes a kubeconfig whose API server (127.0.0.1:9) is never reachable, for tests of
/// things that must not need the cluster (pitcrew connects lazily).
pub fn unreachable_kubeconfig(path: &std::path::Path) {
    std::fs::write(
        path,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:9\"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n",
    )
    .expect("kubeconfig");
}

/// Waits until the Deployment's revision is no longer `before`: the controller has turned a
/// template change into a revision. Tests that change templates back to back need it, or two
/// quick changes fold into one revision.
pub async fn wait_for_revision_after(api: &Api<Deployment>, name: &str, before: i64) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = revision_of(&api.get(name).await.expect("get the deployment"));
        if now != before {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: the controller made no new revision after {before} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Deployment whose next rollout can never finish: revision 1 runs, and its new template
/// asks for a node that does not exist, so new pods stay Pending and never become ready.
pub async fn stuck_deployment(
    cluster: &TestCluster,
    ns: &TestNamespace,
    name: &str,
    progress_deadline: Option<i32>,
) {
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns.name);
    let mut fixture = super::fixtures::Workload::new(name);
    if let Some(seconds) = progress_deadline {
        fixture = fixture.progress_deadline(seconds);
    }
    api.create(&PostParams::default(), &fixture.deployment())
        .await
        .expect("create");
    wait_for_deployment(&cluster.client, &ns.name, name, Duration::from_secs(60)).await;
    let patch = serde_json::json!({"spec": {"template": {"spec": {"nodeSelector": {"pitcrew.test/node": "none"}}}}});
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Strategic(&patch),
    )
    .await
    .expect("patch");
    // The stuck template is revision 2 before the test acts on it.
    wait_for_revision_after(&api, name, 1).await;
}
