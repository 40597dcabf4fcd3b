//! `restart` and `rollback`: every gate, then the change, the rollout followed, the outcome.

use super::*;

impl Run<'_> {
    /// The change a `restart` or `rollback` makes (or, with `dry_run`, would make).
    pub(super) async fn act(
        &self,
        command: &Command,
        client: &cluster::Client,
        ns: &str,
        target: &Target,
        dry_run: bool,
    ) -> Result<Change, cluster::Error> {
        let name = target.name.as_str();
        match command {
            Command::Restart(_) => {
                cluster::restart(client, ns, target.kind, name, Utc::now(), dry_run).await
            }
            Command::Rollback(r) => {
                let to = r
                    .to_revision
                    .map(|n| i64::try_from(n.get()).unwrap_or(i64::MAX));
                cluster::rollback(client, ns, target.kind, name, to, dry_run).await
            }
            _ => unreachable_command(),
        }
    }

    pub(super) async fn mutate(
        &self,
        action: Action,
        target: &Target,
        scope: &command::Scope,
        justification: &Option<Justification>,
        dry_run: bool,
        command: &Command,
    ) -> Outcome {
        let place = match self.place(scope) {
            Ok(p) => p,
            Err(o) => return o,
        };
        self.set_subject(action, Some(&place), target, justification);
        let requested = serde_json::json!({"command": command, "env": place.env, "cluster": place.cluster, "namespace": place.namespace});
        if let Err(e) = self.audit(Phase::Requested, requested).await {
            return unavailable_audit(e);
        }
        let decision = match self.authorize(action, &place, target) {
            Ok(d) => d,
            Err(o) => {
                let _ = self
                    .audit(Phase::Denied, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        let verification = match self.justify(justification, &place, target).await {
            Ok(v) => v,
            Err(o) => return o,
        };
        if let Err(e) = self
            .audit(
                Phase::Approved,
                serde_json::json!({"decision": decision, "justification": verification, "approval": self.request.approval}),
            )
            .await
        {
            return unavailable_audit(e);
        }
        let client = match self.client(&place) {
            Ok(c) => c,
            Err(o) => return o,
        };
        if place.environment.protected && !dry_run {
            // Show what would change before anyone confirms or approves, and bind their
            // answer to it: if the workload moves meanwhile, the approval no longer applies.
            let planned = self
                .act(command, client, place.namespace.as_str(), target, true)
                .await;
            match planned {
                Ok(change) if change.unchanged => {
                    // Nothing to do: nobody is asked to confirm or approve a no-op.
                    let o = unchanged_outcome(&change);
                    let _ = self
                        .audit(
                            Phase::Unchanged,
                            serde_json::json!({"change": change, "outcome": &o}),
                        )
                        .await;
                    return o;
                }
                Ok(change) => {
                    *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = format!(
                        "{}/{} {:?}->{:?} {:?} {}",
                        change.kind,
                        change.name,
                        change.before.revision,
                        change.after.revision,
                        change.to_revision,
                        change.image_changes().join(",")
                    );
                    if !self.request.confirmed
                        || (place.environment.approvals > 0
                            && self.request.approval.as_ref().is_none_or(|a| a.needed == 0))
                    {
                        (self.report)(Event::Planned { change });
                    }
                }
                Err(e) => {
                    let o = cluster_outcome(e);
                    let _ = self
                        .audit(Phase::Failed, serde_json::json!({"outcome": &o}))
                        .await;
                    return o;
                }
            }
        }
        if let Err(o) = self.confirmed(&place.env, place.environment, dry_run).await {
            return o;
        }
        let ns = place.namespace.as_str();
        let lock = match self
            .lock(&place.cluster, Some(ns), target, &place.env)
            .await
        {
            Ok(guard) => guard,
            Err(o) => return o,
        };
        // The last gate before Kubernetes: no durable `started`, no action.
        if let Err(e) = self
            .audit(Phase::Started, serde_json::json!({"dry_run": dry_run}))
            .await
        {
            return unavailable_audit(e);
        }
        let name = target.name.as_str();
        let acted = self.act(command, client, ns, target, dry_run).await;
        let change = match acted {
            Ok(c) => c,
            Err(e) => {
                let o = cluster_outcome(e);
                self.audit_outcome(&lock, Phase::Failed, serde_json::json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        if change.unchanged {
            let o = unchanged_outcome(&change);
            self.audit_outcome(
                &lock,
                Phase::Unchanged,
                serde_json::json!({"change": change, "outcome": &o}),
            )
            .await;
            return o;
        }
        (self.report)(Event::Planned {
            change: change.clone(),
        });
        if dry_run {
            let o = Outcome::Done {
                message: format!("dry run: {}; nothing was changed", describe(&change)),
            };
            self.audit_outcome(
                &lock,
                Phase::Succeeded,
                serde_json::json!({"change": change, "dry_run": true}),
            )
            .await;
            return o;
        }
        let started = std::time::Instant::now();
        let report = self.report;
        let followed = cluster::follow(
            client,
            ns,
            target.kind,
            name,
            self.ctx.config.rollout.timeout,
            self.ctx.cancelled(),
            |state| {
                report(Event::Progress {
                    state: state.clone(),
                })
            },
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let (phase, outcome) = match followed {
            Ok(Followed::Complete { state }) => (
                Phase::Succeeded,
                Outcome::Done {
                    message: format!("{}; {} ({seconds:.1} s)", describe(&change), state.message),
                },
            ),
            Ok(Followed::Failed { state }) => (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!(
                        "{}, but the rollout failed: {}; {UNDO_HINT}rollback {target} -e {}{}`",
                        describe(&change),
                        state.failed.unwrap_or(state.message),
                        place.env,
                        change
                            .before
                            .revision
                            .map(|r| format!(" --to-revision {r}"))
                            .unwrap_or_default()
                    ),
                },
            ),
            Ok(Followed::TimedOut {
                state,
                after_seconds,
            }) => (
                Phase::Failed,
                Outcome::ActionFailed {
                    message: format!(
                        "{}, but the rollout did not finish within {after_seconds} s{}; check `status {target} -e {}`",
                        describe(&change),
                        state
                            .map(|s| format!(" ({})", s.message))
                            .unwrap_or_default(),
                        place.env
                    ),
                },
            ),
            Ok(Followed::Cancelled { .. }) => (
                Phase::Interrupted,
                Outcome::ActionFailed {
                    message: format!(
                        "{}; stopped following the rollout, which goes on in the cluster; check `status {target} -e {}`",
                        describe(&change),
                        place.env
                    ),
                },
            ),
            Err(e) => (Phase::Failed, cluster_outcome(e)),
        };
        self.audit_outcome(
            &lock,
            phase,
            serde_json::json!({"change": change, "outcome": &outcome}),
        )
        .await;
        self.write_back(&verification, phase, &outcome).await;
        outcome
    }
}

/// A change with nothing to do (kubectl's "skipped rollback"): done, exit 0, in kubectl's words.
pub(super) fn unchanged_outcome(change: &Change) -> Outcome {
    Outcome::Done {
        message: format!("{}; nothing was changed", describe(change)),
    }
}

pub(super) fn unreachable_command() -> Result<Change, cluster::Error> {
    Err(cluster::Error::Malformed {
        what: "a non-mutating command reached the action step".into(),
    })
}
