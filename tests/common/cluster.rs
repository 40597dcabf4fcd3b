//! The test Kubernetes cluster: a client, a namespace per test, kubectl as the oracle, and
//! waiting for rollouts the way `kubectl rollout status` decides they are done.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
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
        let out = Command::new(&self.kubectl)
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--namespace")
            .arg(namespace)
            .args(args)
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
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

/// Waits until the Deployment's rollout is complete, with the rule `kubectl rollout status`
/// uses: the controller has seen the latest generation, and updated = available = desired
/// replicas with no old replicas left. Panics with the last status on timeout.
pub async fn wait_for_deployment(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let start = Instant::now();
    loop {
        let d = api.get(name).await.expect("get deployment");
        if deployment_complete(&d) {
            return d;
        }
        assert!(
            start.elapsed() < timeout,
            "deployment {ns}/{name} did not complete within {timeout:?}; status: {:?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn deployment_complete(d: &Deployment) -> bool {
    let (Some(spec), Some(status)) = (&d.spec, &d.status) else {
        return false;
    };
    let desired = spec.replicas.unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas.unwrap_or(0) == desired
        && status.replicas.unwrap_or(0) == desired
        && status.available_replicas.unwrap_or(0) == desired
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
