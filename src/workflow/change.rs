//! The gate sequence every changing command goes through, written once:
//!
//! resolve → `requested` → authorize → freeze gate → justify → `approved` → plan (a server-side dry run, in
//! protected environments) → confirm / approve → lock → `started` → act → follow → outcome →
//! write-back.
//!
//! What differs between actions (where they act, what the policy must allow, the cluster
//! calls, the wording of the outcome) comes from their [`ChangeAction`].

use serde_json::json;

use super::actions::{ActError, ChangeAction, Scope};
use super::plan::{Plan, PlannedChange};
use super::*;

impl Run<'_> {
    pub(super) async fn change(&self, a: &dyn ChangeAction) -> Outcome {
        let mut scope = match a.scope(self.ctx) {
            Ok(s) => s,
            Err(o) => return o,
        };
        let asked = a.asked();
        let (target, dry_run) = (asked.target, asked.dry_run);
        scope.by = Some(super::actions::Requester {
            actor: self.request.actor.to_string(),
            correlation: self.correlation.clone(),
            channel: self.request.channel.as_ref().map(|c| c.to_string()),
            command: self.request.command.to_string(),
        });
        self.set_subject(a.action(), &scope, &target, asked.justification);
        let mut requested = serde_json::Map::new();
        requested.insert("command".into(), json!(&self.request.command));
        requested.extend(scope.requested.clone());
        if let Err(e) = self
            .audit(Phase::Requested, serde_json::Value::Object(requested))
            .await
        {
            return unavailable_audit(e);
        }
        let mut decisions = Vec::new();
        for (action, place) in &scope.checks {
            match self.authorize(*action, place, Some(&target)) {
                Ok(d) => decisions.push(d),
                Err(o) => {
                    let _ = self.audit(Phase::Denied, json!({"outcome": &o})).await;
                    return o;
                }
            }
        }
        // The cluster's RBAC decides too: the requester's Kubernetes identity, or a refusal
        // before any request reaches the cluster. A promote also reads its source
        // environment, as the requester where that one impersonates (its places are the ones
        // checked for `status`).
        let source = scope.source().cloned();
        let identities = async {
            let source_as = match &source {
                Some(place) => self.acting_as(place).await?,
                None => None,
            };
            Ok::<_, Outcome>((self.acting_as(&scope.place).await?, source_as))
        };
        match identities.await {
            Ok((dest, source_as)) => {
                scope.as_user = dest;
                scope.source_as_user = source_as;
            }
            Err(o) => {
                let _ = self.audit(Phase::Denied, json!({"outcome": &o})).await;
                return o;
            }
        }
        // A freeze refuses every change but a break-glass, before anyone is asked anything.
        let overridden = match self
            .frozen(&scope.place, asked.justification, dry_run)
            .await
        {
            Ok(o) => o,
            Err(o) => {
                let _ = self.audit(Phase::Denied, json!({"outcome": &o})).await;
                return o;
            }
        };
        let verification = match self
            .justify(asked.justification, &scope.place, &target)
            .await
        {
            Ok(v) => v,
            Err(o) => return o,
        };
        let decision = match decisions.as_slice() {
            [one] => json!({"decision": one}),
            many => json!({"decisions": many}),
        };
        let mut approved = json!({
            "justification": verification,
            "approval": self.request.approval,
            "freeze_overridden": overridden,
        });
        if let (Some(a), Some(d)) = (approved.as_object_mut(), decision.as_object()) {
            a.extend(d.clone());
        }
        if let Err(e) = self.audit(Phase::Approved, approved).await {
            return unavailable_audit(e);
        }
        for cluster in &scope.clusters {
            if let Err(e) = self.ctx.clusters.connected(cluster) {
                return Outcome::Unavailable {
                    message: e.to_string(),
                };
            }
        }
        if scope.place.environment.protected
            && !dry_run
            && let Err(o) = self.plan(a, &scope).await
        {
            return o;
        }
        if let Err(o) = self
            .confirmed(&scope.place.env, scope.place.environment, dry_run)
            .await
        {
            return o;
        }
        let namespace = scope.one_namespace.then(|| scope.place.namespace.as_str());
        let lock = match self
            .lock(&scope.place.cluster, namespace, &target, &scope.place.env)
            .await
        {
            Ok(guard) => guard,
            Err(o) => return o,
        };
        // The last gate before Kubernetes: no durable `started`, no action.
        if let Err(e) = self
            .audit(
                Phase::Started,
                json!({
                    "dry_run": dry_run,
                    "confirmed": self.request.confirmed,
                    "identity": scope.as_user,
                    "approval_waived": self
                        .waived
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone()
                        .map(|entry| json!({
                            "rule": "requester on call at or below requester_on_call_level",
                            "on_call": entry,
                        })),
                }),
            )
            .await
        {
            return unavailable_audit(e);
        }
        let changes = match a.act(self.ctx, &scope, dry_run).await {
            Ok(c) => c,
            Err(e) => {
                let (phase, o) = act_failed(e, scope.as_user.as_ref());
                self.audit_outcome(&lock, phase, json!({"outcome": &o}))
                    .await;
                return o;
            }
        };
        let recorded = |changes: &[Change]| match (a.many_workloads(), changes) {
            (false, [one]) => json!(one),
            _ => json!(changes),
        };
        let key = if a.many_workloads() {
            "changes"
        } else {
            "change"
        };
        if let [only] = changes.as_slice()
            && only.unchanged
        {
            let o = unchanged_outcome(only);
            self.audit_outcome(&lock, Phase::Unchanged, json!({key: only, "outcome": &o}))
                .await;
            return o;
        }
        if changes.is_empty() {
            let o = Outcome::Done {
                message: a.nothing_to_do(&scope),
            };
            self.audit_outcome(&lock, Phase::Succeeded, json!({"outcome": &o}))
                .await;
            return o;
        }
        for change in &changes {
            (self.report)(Event::Planned {
                change: change.clone(),
            });
        }
        if dry_run {
            let summary: Vec<String> = changes.iter().map(describe).collect();
            let o = Outcome::Done {
                message: format!("dry run: {}; nothing was changed", summary.join("; ")),
            };
            self.audit_outcome(
                &lock,
                Phase::Succeeded,
                json!({key: recorded(&changes), "dry_run": true}),
            )
            .await;
            return o;
        }
        let gitops = self.gitops_notes(&scope, &changes).await;
        if !a.follows() {
            let (phase, mut outcome) = a.finished_at_once(&scope, &changes);
            gitops.iter().for_each(|n| outcome.add_note(n));
            self.audit_outcome(
                &lock,
                phase,
                json!({key: recorded(&changes), "outcome": &outcome}),
            )
            .await;
            self.write_back(&verification, phase, &outcome).await;
            return outcome;
        }
        let started = std::time::Instant::now();
        let mut followed = Vec::new();
        for change in changes {
            let result = self.follow(&scope, &change).await;
            followed.push((change, result));
        }
        let seconds = started.elapsed().as_secs_f64();
        let (phase, mut outcome) = a.finished(&scope, &followed, seconds);
        gitops.iter().for_each(|n| outcome.add_note(n));
        let changes: Vec<Change> = followed.into_iter().map(|(c, _)| c).collect();
        self.audit_outcome(
            &lock,
            phase,
            json!({key: recorded(&changes), "outcome": &outcome}),
        )
        .await;
        self.write_back(&verification, phase, &outcome).await;
        outcome
    }

    /// What the people changing a GitOps-managed workload should know: until when its
    /// manager's reconciliation is suspended, or that it may undo the change.
    async fn gitops_notes(&self, scope: &Scope<'_>, changes: &[Change]) -> Vec<String> {
        let mut notes = Vec::new();
        let managers: Vec<&cluster::GitopsRef> = changes
            .iter()
            .filter_map(|c| c.managed_by.as_ref())
            .collect();
        if managers.is_empty() {
            return notes;
        }
        let open = match &self.ctx.db {
            Some(db) => crate::gitops::Suspensions::new(db.clone())
                .open_in(&scope.place.env)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let zone = scope.place.environment.timezone;
        for m in managers {
            let note = match open.iter().find(|s| s.kind == m.kind && s.name == m.name) {
                Some(s) => format!(
                    "{}/{}'s reconciliation is suspended until {} ({}): pitcrew resumes it then, and what Git holds comes back unless this change is in Git by then",
                    m.kind,
                    m.name,
                    crate::freeze::show(s.until, zone),
                    s.id
                ),
                None => format!(
                    "managed by GitOps ({m}), which may undo this at its next sync unless Git has it; `gitops suspend {}/{} -e {} --for 1h …` holds it off",
                    m.kind, m.name, scope.place.env
                ),
            };
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        notes
    }

    /// Protected environments: what the change would do (a server-side dry run), shown before
    /// anyone confirms or approves and bound to their answer: if the workload moves
    /// meanwhile, the answer no longer applies.
    async fn plan(&self, a: &dyn ChangeAction, scope: &Scope<'_>) -> Result<(), Outcome> {
        let changes = match a.act(self.ctx, scope, true).await {
            Ok(c) => c,
            Err(e) => {
                let (phase, o) = act_failed(e, scope.as_user.as_ref());
                let _ = self.audit(phase, json!({"outcome": &o})).await;
                return Err(o);
            }
        };
        if let [only] = changes.as_slice()
            && only.unchanged
        {
            // Nothing to do: nobody is asked to confirm or approve a no-op.
            let o = unchanged_outcome(only);
            let _ = self
                .audit(Phase::Unchanged, json!({"change": only, "outcome": &o}))
                .await;
            return Err(o);
        }
        if changes.is_empty() {
            let o = Outcome::Done {
                message: a.nothing_to_do(scope),
            };
            let _ = self.audit(Phase::Unchanged, json!({"outcome": &o})).await;
            return Err(o);
        }
        let subject = self.subject();
        *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = Some(Plan {
            command: self.request.text(),
            requester: self.request.actor.to_string(),
            channel: self.request.channel.as_ref().map(|c| c.to_string()),
            env: scope.place.env.to_string(),
            cluster: scope.place.cluster.to_string(),
            namespace: subject.namespace.map(|n| n.to_string()),
            changes: changes.iter().map(PlannedChange::from).collect(),
        });
        // Shown to whoever will confirm or approve it (a run carrying that answer has shown
        // it already).
        let approving = scope.place.environment.approvals > 0
            && self.request.approval.as_ref().is_none_or(|a| a.needed == 0);
        if !self.request.confirmed || approving {
            for change in changes {
                (self.report)(Event::Planned { change });
            }
        }
        Ok(())
    }

    /// Follows one change's rollout, reporting its progress.
    async fn follow(&self, scope: &Scope<'_>, change: &Change) -> Result<Followed, cluster::Error> {
        let at = cluster::Location {
            cluster: scope.place.cluster.clone(),
            namespace: change.namespace.clone(),
            kind: change.kind,
            name: change.name.clone(),
            as_user: scope.as_user.clone(),
            cause: None,
        };
        let report = self.report;
        let progress = move |state: &RolloutState| {
            report(Event::Progress {
                state: state.clone(),
            })
        };
        self.ctx
            .clusters
            .follow(
                &at,
                self.ctx.config.rollout.timeout,
                Box::pin(self.ctx.cancelled()),
                &progress,
            )
            .await
    }
}

/// A change with nothing to do (kubectl's "skipped rollback"): done, exit 0, in kubectl's words.
fn unchanged_outcome(change: &Change) -> Outcome {
    Outcome::Done {
        message: format!("{}; nothing was changed", describe(change)),
    }
}

/// Acting failed: a cluster error is recorded `failed`, or `denied` when it is the requester's
/// own Kubernetes rights refusing (impersonation); a mismatch changed nothing and is recorded
/// `cancelled`.
fn act_failed(e: ActError, as_user: Option<&cluster::Impersonation>) -> (Phase, Outcome) {
    match e {
        ActError::Cluster(e) => {
            let o = cluster_outcome_as(&e, as_user);
            let phase = match o {
                Outcome::Refused { .. } => Phase::Denied,
                _ => Phase::Failed,
            };
            (phase, o)
        }
        ActError::Mismatch(message) => (Phase::Cancelled, Outcome::BadInput { message }),
    }
}
