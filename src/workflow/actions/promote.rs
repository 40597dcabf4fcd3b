//! `promote`: the images one environment runs, into the same-named workloads of another.
//! Authorized as `status` on every source namespace and `promote` on every destination
//! namespace; one change per workload whose images differ.

use futures::future::BoxFuture;

use super::{ActError, Asked, ChangeAction, Scope};
use crate::cluster::{self, Change, Followed};
use crate::command::{Action, Phase, Promote};
use crate::resolve::{self, Place};
use crate::workflow::{Context, Outcome, describe};

pub(in crate::workflow) struct PromoteAction<'c>(pub &'c Promote);

impl ChangeAction for PromoteAction<'_> {
    fn action(&self) -> Action {
        Action::Promote
    }

    fn asked(&self) -> Asked<'_> {
        Asked {
            target: self.0.target(),
            justification: self.0.justification.as_ref(),
            dry_run: self.0.dry_run,
        }
    }

    fn many_workloads(&self) -> bool {
        true
    }

    fn scope<'c>(&self, ctx: &'c Context) -> Result<Scope<'c>, Outcome> {
        let config = &ctx.config;
        let bad = |e: resolve::ResolveError| Outcome::BadInput {
            message: e.to_string(),
        };
        let (from_env, from) = resolve::environment(config, Some(&self.0.from)).map_err(bad)?;
        let (to_env, to) = resolve::environment(config, Some(&self.0.to)).map_err(bad)?;
        let Some(first_ns) = to.namespaces.first() else {
            return Err(Outcome::BadInput {
                message: format!("environment `{to_env}` has no namespace"),
            });
        };
        let places = |env: &crate::names::EnvName, environment: &'c crate::config::Environment| {
            environment
                .namespaces
                .iter()
                .map(|ns| Place {
                    env: env.clone(),
                    environment,
                    cluster: environment.cluster.clone(),
                    namespace: ns.clone(),
                })
                .collect::<Vec<_>>()
        };
        let mut checks: Vec<(Action, Place<'c>)> = places(&from_env, from)
            .into_iter()
            .map(|p| (Action::Status, p))
            .collect();
        checks.extend(
            places(&to_env, to)
                .into_iter()
                .map(|p| (Action::Promote, p)),
        );
        let mut requested = serde_json::Map::new();
        requested.insert("from".into(), serde_json::json!(from_env));
        Ok(Scope {
            place: Place {
                env: to_env,
                environment: to,
                cluster: to.cluster.clone(),
                namespace: first_ns.clone(),
            },
            one_namespace: false,
            checks,
            clusters: vec![from.cluster.clone(), to.cluster.clone()],
            requested,
            as_user: None,
            source_as_user: None,
            by: None,
        })
    }

    fn act<'a>(
        &'a self,
        ctx: &'a Context,
        scope: &'a Scope<'a>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<Change>, ActError>> {
        Box::pin(async move {
            let Some(from) = scope.source() else {
                return Ok(Vec::new());
            };
            let namespaces = |e: &crate::config::Environment| {
                e.namespaces.iter().map(|n| n.to_string()).collect()
            };
            let promotion = cluster::Promotion {
                from: (from.cluster.clone(), namespaces(from.environment)),
                to: (
                    scope.place.cluster.clone(),
                    namespaces(scope.place.environment),
                ),
                kinds: self.0.kinds(),
                name: self.0.target().name.to_string(),
                gitops: cluster::GitopsAllowed {
                    all: scope.place.environment.allow_gitops,
                    suspended: super::suspended_managers(ctx, &scope.place.env).await,
                },
                as_user: scope.as_user.clone(),
                from_as_user: scope.source_as_user.clone(),
                cause: scope.by.as_ref().map(super::Requester::cause),
            };
            match ctx.clusters.promote(&promotion, dry_run).await? {
                Ok(changes) => Ok(changes),
                Err(mismatch) => Err(ActError::Mismatch(format!(
                    "cannot promote {} from {} to {}: {}",
                    promotion.name,
                    from.env,
                    scope.place.env,
                    mismatch.problems.join("; ")
                ))),
            }
        })
    }

    fn nothing_to_do(&self, scope: &Scope<'_>) -> String {
        format!(
            "{} already runs the images {} runs; nothing to promote",
            scope.place.env, self.0.from
        )
    }

    fn finished(
        &self,
        scope: &Scope<'_>,
        followed: &[(Change, Result<Followed, cluster::Error>)],
        _seconds: f64,
    ) -> (Phase, Outcome) {
        let name = self.0.target().name;
        let mut stopped = false;
        let failures: Vec<String> = followed
            .iter()
            .filter_map(|(change, result)| match result {
                Ok(Followed::Complete { .. }) => None,
                Ok(Followed::Failed { state }) => Some(format!(
                    "{}/{}: {}",
                    change.kind,
                    change.name,
                    state.failed.clone().unwrap_or(state.message.clone())
                )),
                Ok(Followed::TimedOut { after_seconds, .. }) => Some(format!(
                    "{}/{}: the rollout did not finish within {after_seconds} s",
                    change.kind, change.name
                )),
                Ok(Followed::Cancelled { .. }) => {
                    stopped = true;
                    None
                }
                Err(e) => Some(e.to_string()),
            })
            .collect();
        if failures.is_empty() && stopped {
            // Shut down while following: the rollouts go on in the cluster.
            return (
                Phase::Interrupted,
                Outcome::failed(format!(
                    "promoted {name} to {}; stopped following the rollout, which goes on in the cluster; check `status {} -e {}`",
                    scope.place.env,
                    self.0.target(),
                    scope.place.env
                )),
            );
        }
        if failures.is_empty() {
            let summary: Vec<String> = followed.iter().map(|(c, _)| describe(c)).collect();
            (
                Phase::Succeeded,
                Outcome::Done {
                    message: format!(
                        "promoted {name} from {} to {}: {}",
                        self.0.from,
                        scope.place.env,
                        summary.join("; ")
                    ),
                },
            )
        } else {
            (
                Phase::Failed,
                Outcome::failed(format!(
                    "promoted {name} to {}, but: {}",
                    scope.place.env,
                    failures.join("; ")
                )),
            )
        }
    }
}
