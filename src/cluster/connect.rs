//! One kube client per configured cluster, built from a kubeconfig (file + context) or the
//! pod's ServiceAccount, with timeouts so that a dead API server fails a command quickly.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::Error;
use crate::config::{ClusterConnection, Config};
use crate::names::ClusterName;

/// Connect and per-request write timeouts. Reads keep kube's default (long enough for watches).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a cluster's API server could not be reached, in words for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// Each cluster's API server version, or why it could not be reached, by cluster name.
pub type Reachability = BTreeMap<String, Result<String, Unreachable>>;

/// Who a request acts as when pitcrew impersonates the requester: the `Impersonate-User` and
/// `Impersonate-Group` headers of every request of the action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Impersonation {
    pub user: String,
    pub groups: Vec<String>,
}

impl std::fmt::Display for Impersonation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.groups.is_empty() {
            write!(f, "{} (no groups)", self.user)
        } else {
            write!(f, "{} (groups {})", self.user, self.groups.join(", "))
        }
    }
}

/// The clients of every configured cluster, by name.
#[derive(Clone)]
pub struct Clusters {
    clients: BTreeMap<ClusterName, Client>,
    /// Each cluster's connection settings, to build the clients that impersonate.
    configs: BTreeMap<ClusterName, kube::Config>,
    outside: Option<crate::metrics::Outside>,
    /// One client per (cluster, identity), built on first use and kept: never one per request.
    impersonating: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(ClusterName, Impersonation), Client>>,
    >,
}

impl Clusters {
    /// Builds a client for each cluster. No request is sent: a cluster that is down is
    /// reported when a command needs it, not at start. Requests are timed in `outside` when
    /// given (`/metrics`, service `kubernetes`).
    pub async fn connect(
        config: &Config,
        outside: Option<&crate::metrics::Outside>,
    ) -> Result<Clusters, Error> {
        crate::install_crypto_provider();
        let mut clients = BTreeMap::new();
        let mut configs = BTreeMap::new();
        for (name, connection) in &config.clusters {
            let kube_config = kube_config_for(name, connection).await?;
            let client = client_observed(kube_config.clone(), outside.cloned()).map_err(|e| {
                Error::Connect {
                    cluster: name.to_string(),
                    reason: e.to_string(),
                }
            })?;
            clients.insert(name.clone(), client);
            configs.insert(name.clone(), kube_config);
        }
        Ok(Clusters {
            clients,
            configs,
            outside: outside.cloned(),
            impersonating: Default::default(),
        })
    }

    /// Clusters from clients built elsewhere (benchmarks compare client settings with this).
    /// They cannot impersonate (no connection settings to build from).
    pub fn from_clients(clients: BTreeMap<ClusterName, Client>) -> Clusters {
        Clusters {
            clients,
            configs: BTreeMap::new(),
            outside: None,
            impersonating: Default::default(),
        }
    }

    /// The client for `cluster`, acting as `who` when given: pitcrew's own identity with
    /// `Impersonate-User`/`Impersonate-Group` headers, so the cluster's RBAC decides for
    /// `who`.
    pub fn client_as(
        &self,
        cluster: &ClusterName,
        who: Option<&Impersonation>,
    ) -> Result<Client, Error> {
        let Some(who) = who else {
            return self.client(cluster).cloned();
        };
        let key = (cluster.clone(), who.clone());
        let mut cache = self.impersonating.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let Some(base) = self.configs.get(cluster) else {
            return Err(Error::Connect {
                cluster: cluster.to_string(),
                reason: "no connection settings to impersonate with".into(),
            });
        };
        let mut config = base.clone();
        config.auth_info.impersonate = Some(who.user.clone());
        config.auth_info.impersonate_groups = (!who.groups.is_empty()).then(|| who.groups.clone());
        let client = client_observed(config, self.outside.clone()).map_err(|e| Error::Connect {
            cluster: cluster.to_string(),
            reason: e.to_string(),
        })?;
        cache.insert(key, client.clone());
        Ok(client)
    }

    /// Asks every cluster's API server for its version, all at once, each within `timeout`:
    /// the version it runs, or why it could not be reached. For `/readyz`.
    pub async fn reachability(&self, timeout: Duration) -> Reachability {
        let probes = self.clients.iter().map(|(name, client)| async move {
            let answer = match tokio::time::timeout(timeout, client.apiserver_version()).await {
                Ok(Ok(info)) => Ok(info.git_version),
                Ok(Err(e)) => Err(Unreachable(format!("the API server does not answer: {e}"))),
                Err(_) => Err(Unreachable(format!(
                    "the API server did not answer within {} s",
                    timeout.as_secs_f64()
                ))),
            };
            (name.to_string(), answer)
        });
        futures::future::join_all(probes)
            .await
            .into_iter()
            .collect()
    }

    pub fn client(&self, cluster: &ClusterName) -> Result<&Client, Error> {
        self.clients.get(cluster).ok_or_else(|| Error::Connect {
            cluster: cluster.to_string(),
            reason: "it is not in the configuration".into(),
        })
    }
}

/// A cluster's connection settings, with pitcrew's timeouts.
async fn kube_config_for(
    name: &ClusterName,
    connection: &ClusterConnection,
) -> Result<kube::Config, Error> {
    let fail = |reason: String| Error::Connect {
        cluster: name.to_string(),
        reason,
    };
    let mut config = match connection {
        ClusterConnection::Kubeconfig { path, context } => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| fail(format!("cannot read kubeconfig {}: {e}", path.display())))?;
            let options = KubeConfigOptions {
                context: context.clone(),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| fail(format!("kubeconfig {}: {e}", path.display())))?
        }
        ClusterConnection::InCluster => kube::Config::incluster().map_err(|e| {
            fail(format!(
                "not running in a cluster with a service account: {e}"
            ))
        })?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.write_timeout = Some(WRITE_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    Ok(config)
}

/// A kube client like `Client::try_from(config)` builds, but whose TCP connections set
/// `TCP_NODELAY`. Without it, the first request after a second of idleness (the normal case
/// for a chat bot) sends its body behind Nagle's algorithm and waits for the API server's
/// delayed ACK: measured here, a restart's command-to-patch went from ~5 ms to ~50 ms after a
/// 1 s pause (see BENCHMARKS.md).
pub fn client_with_nodelay(config: kube::Config) -> Result<Client, kube::Error> {
    client_observed(config, None)
}

/// What a Kubernetes API answer means for `/metrics`.
fn outcome_of(status: Option<u16>) -> &'static str {
    match status {
        None => "network",
        Some(200..=299) => "ok",
        Some(401) => "unauthorized",
        Some(403) => "forbidden",
        Some(404) => "not_found",
        Some(409) => "conflict",
        Some(429) => "rate_limited",
        Some(400..=499) => "client_error",
        Some(_) => "server_error",
    }
}

/// [`client_with_nodelay`], timing each request to its answer's headers in `outside` (a
/// watch's headers come at once, so long watches do not skew it).
fn client_observed(
    config: kube::Config,
    outside: Option<crate::metrics::Outside>,
) -> Result<Client, kube::Error> {
    use hyper_util::client::legacy::connect::HttpConnector;
    use kube::client::ConfigExt;

    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = config.rustls_https_connector_with_connector(http)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let http_client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(
            |e: hyper_util::client::legacy::Error| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(e)
            },
        )
        .map_future(move |answer| {
            let (outside, started) = (outside.clone(), std::time::Instant::now());
            async move {
                let answer: Result<axum::http::Response<_>, _> = answer.await;
                if let Some(outside) = outside {
                    let status = answer.as_ref().ok().map(|r| r.status().as_u16());
                    outside.observe("kubernetes", outcome_of(status), started.elapsed());
                }
                answer
            }
        })
        .service(http_client);
    Ok(Client::new(service, config.default_namespace))
}
