//! Resolution: from what the user typed (`-e`, `-n`) to a configured environment, its cluster
//! and a namespace pitcrew may act on. Pure: only the configuration is consulted; whether the
//! workload exists is asked of the cluster afterwards.

use crate::config::{Config, Environment, suggestion_suffix};
use crate::names::{ClusterName, EnvName, NamespaceName};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("there is no environment `{typed}`{suggestion}; environments: {known}")]
    UnknownEnvironment {
        typed: String,
        suggestion: String,
        known: String,
    },
    #[error("say which environment with -e: {known}")]
    EnvironmentRequired { known: String },
    #[error(
        "namespace `{typed}` is not part of environment `{env}`{suggestion}; its namespaces: {allowed}"
    )]
    UnknownNamespace {
        typed: String,
        env: String,
        suggestion: String,
        allowed: String,
    },
    #[error("environment `{env}` has several namespaces; say which with -n: {allowed}")]
    NamespaceRequired { env: String, allowed: String },
}

/// Where a command acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place<'c> {
    pub env: EnvName,
    pub environment: &'c Environment,
    pub cluster: ClusterName,
    pub namespace: NamespaceName,
}

/// The environment for `-e` (or the only one, when there is one).
pub fn environment<'c>(
    config: &'c Config,
    env: Option<&EnvName>,
) -> Result<(EnvName, &'c Environment), ResolveError> {
    let known = || {
        config
            .environments
            .keys()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match env {
        Some(e) => config
            .environments
            .get_key_value(e)
            .map(|(k, v)| (k.clone(), v))
            .ok_or_else(|| ResolveError::UnknownEnvironment {
                typed: e.to_string(),
                suggestion: suggestion_suffix(
                    e.as_str(),
                    config.environments.keys().map(|k| k.as_str()),
                ),
                known: known(),
            }),
        None => {
            let mut all = config.environments.iter();
            match (all.next(), all.next()) {
                (Some((k, v)), None) => Ok((k.clone(), v)),
                _ => Err(ResolveError::EnvironmentRequired { known: known() }),
            }
        }
    }
}

/// The environment, its cluster and the namespace for `-e`/`-n`.
/// The place `namespace` names in `env`, or, where the environment has several namespaces and
/// none is named, its first one as the representative: for actions on the whole environment
/// (`freeze`) or spanning its namespaces (a promote's approval), which the policy still asks
/// about one place.
pub fn place_or_first<'c>(
    config: &'c Config,
    env: &EnvName,
    namespace: Option<&NamespaceName>,
) -> Result<Place<'c>, ResolveError> {
    place(config, Some(env), namespace).or_else(|e| {
        let first = config
            .environments
            .get(env)
            .and_then(|e| e.namespaces.first());
        match first {
            Some(ns) if namespace.is_none() => place(config, Some(env), Some(ns)),
            _ => Err(e),
        }
    })
}

pub fn place<'c>(
    config: &'c Config,
    env: Option<&EnvName>,
    namespace: Option<&NamespaceName>,
) -> Result<Place<'c>, ResolveError> {
    let (env, environment) = environment(config, env)?;
    let allowed = || {
        environment
            .namespaces
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let namespace = match namespace {
        Some(n) if environment.namespaces.contains(n) => n.clone(),
        Some(n) => {
            return Err(ResolveError::UnknownNamespace {
                typed: n.to_string(),
                env: env.to_string(),
                suggestion: suggestion_suffix(
                    n.as_str(),
                    environment.namespaces.iter().map(|n| n.as_str()),
                ),
                allowed: allowed(),
            });
        }
        None => match environment.namespaces.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(ResolveError::NamespaceRequired {
                    env: env.to_string(),
                    allowed: allowed(),
                });
            }
        },
    };
    Ok(Place {
        cluster: environment.cluster.clone(),
        env,
        environment,
        namespace,
    })
}

/// Where a GitOps object of `kind` lives: `-n` when it names the environment's Argo CD or
/// Flux namespace or one of its own (where HelmReleases often live), else the kind's home
/// (`[environments.ENV.gitops]`).
pub fn gitops_place<'c>(
    config: &'c Config,
    env: Option<&EnvName>,
    namespace: Option<&NamespaceName>,
    kind: crate::command::Kind,
) -> Result<Place<'c>, ResolveError> {
    let (env, environment) = environment(config, env)?;
    let g = &environment.gitops;
    let namespace = match namespace {
        None => g.home(kind).clone(),
        Some(n) if g.is_home(n) || environment.namespaces.contains(n) => n.clone(),
        Some(n) => {
            let mut allowed = vec![g.argocd_namespace.as_str(), g.flux_namespace.as_str()];
            allowed.extend(environment.namespaces.iter().map(|n| n.as_str()));
            return Err(ResolveError::UnknownNamespace {
                typed: n.to_string(),
                env: env.to_string(),
                suggestion: suggestion_suffix(n.as_str(), allowed.iter().copied()),
                allowed: allowed.join(", "),
            });
        }
    };
    Ok(Place {
        cluster: environment.cluster.clone(),
        env,
        environment,
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> (Config, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kc");
        std::fs::write(&kubeconfig, "").unwrap();
        for f in ["model.conf", "policy.csv"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let text = format!(
            r#"
[policy]
model = "model.conf"
policy = "policy.csv"
[clusters.main]
kubeconfig = "{}"
[environments.prod]
cluster = "main"
namespaces = ["shop", "payments"]
[environments.staging]
cluster = "main"
namespaces = ["shop-staging"]
"#,
            kubeconfig.display()
        );
        let c = Config::from_text(&dir.path().join("pitcrew.toml"), &text, &|_| None).unwrap();
        (c, dir)
    }

    fn env(s: &str) -> EnvName {
        EnvName::parse(s).unwrap()
    }
    fn ns(s: &str) -> NamespaceName {
        NamespaceName::parse(s).unwrap()
    }

    #[test]
    fn defaults_and_refusals() {
        let (c, _dir) = config();
        let p = place(&c, Some(&env("staging")), None).unwrap();
        assert_eq!(p.namespace.as_str(), "shop-staging");
        assert_eq!(p.cluster.as_str(), "main");
        let p = place(&c, Some(&env("prod")), Some(&ns("payments"))).unwrap();
        assert_eq!(p.namespace.as_str(), "payments");

        let e = place(&c, None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "say which environment with -e: prod, staging"
        );
        let e = place(&c, Some(&env("prd")), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "there is no environment `prd`; did you mean `prod`?; environments: prod, staging"
        );
        let e = place(&c, Some(&env("prod")), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment `prod` has several namespaces; say which with -n: shop, payments"
        );
        let e = place(&c, Some(&env("prod")), Some(&ns("shopp"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "namespace `shopp` is not part of environment `prod`; did you mean `shop`?; its namespaces: shop, payments"
        );
    }
}
