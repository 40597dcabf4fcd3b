//! `promote`: the images one environment runs, into the same-named workloads of another.

use super::*;

impl Run<'_> {
    /// `promote`: authorized as `status` on every source namespace and `promote` on every
    /// destination namespace, then one change per workload whose images differ.
    pub(super) async fn promote(&self, p: &command::Promote, command: &Command) -> Outcome {
        let config = &self.ctx.config;
        let (from, to) = match (
            resolve::environment(config, Some(&p.from)),
            resolve::environment(config, Some(&p.to)),
        ) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => {
                return Outcome::BadInput {
                    message: e.to_string(),
                };
            }
        };
        if from.1.cluster != to.1.cluster && self.ctx.clusters.client(&from.1.cluster).is_err() {
            return Outcome::Unavailable {
                message: format!(
                    "cluster `{}` of environment `{}` is not connected",
                    from.1.cluster, from.0
                ),
            };
        }
        let target = match &p.subject {
            command::Subject::App { name } => Target {
                kind: command::Kind::Deployment,
                name: name.clone(),
            },
            command::Subject::Workload { target } => target.clone(),
        };
        self.set_subject(Action::Promote, None, &target, &p.justification);
        {
            let mut subject = self.subject.lock().unwrap_or_else(|e| e.into_inner());
            subject.env = Some(to.0.clone());
            subject.cluster = Some(to.1.cluster.clone());
        }
        if let Err(e) = self
            .audit(
                Phase::Requested,
                serde_json::json!({"command": command, "from": from.0}),
            )
            .await
        {
            return unavailable_audit(e);
        }
        let checks = [(Action::Status, &from), (Action::Promote, &to)];
        let mut decisions = Vec::new();
        for (action, (env, environment)) in checks {
            for ns in &environment.namespaces {
                let place = Place {
                    env: env.clone(),
                    environment,
                    cluster: environment.cluster.clone(),
                    namespace: ns.clone(),
                };
                match self.authorize(action, &place, &target) {
                    Ok(d) => decisions.push(d),
                    Err(o) => {
                        let _ = self
                            .audit(Phase::Denied, serde_json::json!({"outcome": &o}))
                            .await;
                        return o;
                    }
                }
            }
        }
        let Some(first_ns) = to.1.namespaces.first() else {
            return Outcome::BadInput {
                message: format!("environment `{}` has no namespace", to.0),
            };
        };
        let to_place = Place {
            env: to.0.clone(),
            environment: to.1,
            cluster: to.1.cluster.clone(),
            namespace: first_ns.clone(),
        };
        let verification = match self.justify(&p.justification, &to_place, &target).await {
            Ok(v) => v,
            Err(o) => return o,
        };
        if let Err(e) = self
            .audit(
                Phase::Approved,
                serde_json::json!({"decisions": decisions, "justification": verification, "approval": self.request.approval}),
            )
            .await
        {
            return unavailable_audit(e);
        }
        if let Err(o) = self.confirmed(&to.0, to.1, p.dry_run).await {
            return o;
        }
        let (Ok(src_client), Ok(dst_client)) = (
            self.ctx.clusters.client(&from.1.cluster),
            self.ctx.clusters.client(&to.1.cluster),
        ) else {
            return Outcome::Unavailable {
                message: "a cluster of these environments is not connected".into(),
            };
        };
        let name = target.name.as_str();
        let lock = match self.lock(&to.1.cluster, None, &target, &to.0).await {
            Ok(guard) => guard,
            Err(o) => return o,
        };
        if let Err(e) = self
            .audit(Phase::Started, serde_json::json!({"dry_run": p.dry_run}))
            .await
        {
            return unavailable_audit(e);
        }
        let side = |client, env: &crate::config::Environment| cluster::Side {
            client,
            namespaces: env.namespaces.iter().map(|n| n.to_string()).collect(),
        };
        let planned = cluster::promote(
            &side(src_client, from.1),
            &side(dst_client, to.1),
            &p.kinds(),
            name,
            to.1.allow_gitops,
            p.dry_run,
        )
        .await;
        let changes = match planned {
            Ok(Ok(changes)) => changes,
            Ok(Err(mismatch)) => {
                let o = Outcome::BadInput {
                    message: format!(
                        "cannot promote {name} from {} to {}: {}",
                        from.0,
                        to.0,
                        mismatch.problems.join("; ")
                    ),
                };
                self.audit_outcome(&lock, Phase::Cancelled, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
            Err(e) => {
                let o = cluster_outcome(e);
                self.audit_outcome(&lock, Phase::Failed, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        if changes.is_empty() {
            let o = Outcome::Done {
                message: format!(
                    "{} already runs the images {} runs; nothing to promote",
                    to.0, from.0
                ),
            };
            self.audit_outcome(&lock, Phase::Succeeded, serde_json::json!({"outcome": &o}))
                .await;
            return o;
        }
        for change in &changes {
            (self.report)(Event::Planned {
                change: change.clone(),
            });
        }
        let summary: Vec<String> = changes.iter().map(describe).collect();
        if p.dry_run {
            let o = Outcome::Done {
                message: format!("dry run: {}; nothing was changed", summary.join("; ")),
            };
            self.audit_outcome(
                &lock,
                Phase::Succeeded,
                serde_json::json!({"changes": changes, "dry_run": true}),
            )
            .await;
            return o;
        }
        let mut failures = Vec::new();
        for change in &changes {
            let report = self.report;
            let followed = cluster::follow(
                dst_client,
                &change.namespace,
                change.kind,
                &change.name,
                config.rollout.timeout,
                self.ctx.cancelled(),
                |state| {
                    report(Event::Progress {
                        state: state.clone(),
                    })
                },
            )
            .await;
            match followed {
                Ok(Followed::Complete { .. }) => {}
                Ok(Followed::Failed { state }) => failures.push(format!(
                    "{}/{}: {}",
                    change.kind,
                    change.name,
                    state.failed.unwrap_or(state.message)
                )),
                Ok(other) => failures.push(format!("{}/{}: {other:?}", change.kind, change.name)),
                Err(e) => failures.push(e.to_string()),
            }
        }
        let (phase, o) = if failures.is_empty() {
            (
                Phase::Succeeded,
                Outcome::Done {
                    message: format!(
                        "promoted {name} from {} to {}: {}",
                        from.0,
                        to.0,
                        summary.join("; ")
                    ),
                },
            )
        } else {
            (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!("promoted {name} to {}, but: {}", to.0, failures.join("; ")),
                },
            )
        };
        self.audit_outcome(
            &lock,
            phase,
            serde_json::json!({"changes": changes, "outcome": &o}),
        )
        .await;
        self.write_back(&verification, phase, &o).await;
        o
    }
}
