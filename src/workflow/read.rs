//! The read-only commands: `status`, `history`, the chat `audit` summary and `can-i`.

use super::*;

impl Run<'_> {
    /// Resolve, authorize and connect for a read-only command. Where the environment
    /// impersonates, the reads act as the requester too: pitcrew shows nobody what their own
    /// Kubernetes rights would not.
    pub(super) async fn read_access(
        &self,
        action: Action,
        target: &Target,
        scope: &command::Scope,
    ) -> Result<(Place<'_>, cluster::Location), Outcome> {
        let place = self.place(scope)?;
        self.authorize(action, &place, Some(target))?;
        if let Err(e) = self.ctx.clusters.connected(&place.cluster) {
            return Err(Outcome::Unavailable {
                message: e.to_string(),
            });
        }
        let at = cluster::Location {
            cluster: place.cluster.clone(),
            namespace: place.namespace.to_string(),
            kind: target.kind,
            name: target.name.to_string(),
            as_user: self.acting_as(&place).await?,
            cause: None,
        };
        Ok((place, at))
    }

    /// The requester's Kubernetes identity where `place` impersonates (`None` elsewhere), or
    /// the refusal when they map to nobody.
    pub(super) async fn acting_as(
        &self,
        place: &Place<'_>,
    ) -> Result<Option<cluster::Impersonation>, Outcome> {
        if !place.environment.impersonate {
            return Ok(None);
        }
        let policy = self.ctx.policy.current();
        let directory = self.ctx.directory();
        identity::identity(
            &self.ctx.config,
            &policy,
            directory.as_deref(),
            &self.ctx.emails,
            &self.request.actor,
            place.environment,
        )
        .await
        .map(Some)
        .map_err(|why| Outcome::Refused {
            message: format!(
                "environment `{}` acts as each requester's own Kubernetes identity, and {why}; ask the platform team to map you. Nothing was done",
                place.env
            ),
        })
    }

    pub(super) async fn status(&self, target: &Target, scope: &command::Scope) -> Outcome {
        let (place, at) = match self.read_access(Action::Status, target, scope).await {
            Ok(x) => x,
            Err(o) => return o,
        };
        let ns = place.namespace.as_str();
        let (state, snapshot) = match self.ctx.clusters.status(&at).await {
            Ok(s) => s,
            Err(e) => return cluster_outcome_as(&e, at.as_user.as_ref()),
        };
        let mut lines = vec![
            format!("{target} in {} ({ns}): {}", place.env, state.message),
            format!(
                "replicas: {} desired, {} updated, {} ready, {} available",
                state.desired, state.updated, state.ready, state.available
            ),
        ];
        if let Some(r) = snapshot.revision {
            lines.push(format!("revision: {r}"));
        }
        lines.extend(self.freeze_lines(&place).await);
        // The Deployment controller marks a paused rollout in its Progressing condition.
        if state
            .conditions
            .iter()
            .any(|c| c.ends_with("(DeploymentPaused)"))
        {
            lines.push(format!(
                "rollout PAUSED: its pods keep running, template changes wait; `resume {target} -e {}` continues it",
                place.env
            ));
        }
        if !state.conditions.is_empty() {
            lines.push(format!("conditions: {}", state.conditions.join(", ")));
        }
        for (container, image) in &snapshot.images {
            lines.push(format!("image {container}: {image}"));
        }
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    /// `status -e ENV` without a workload: the environment's freezes, now and next.
    pub(super) async fn environment_status(&self, scope: &command::Scope) -> Outcome {
        let place = match self.place(scope) {
            Ok(p) => p,
            Err(o) => return o,
        };
        let decision = self.decide(Action::Status, &place, None);
        if !decision.allowed {
            return Outcome::Refused {
                message: format!(
                    "you may not see the status of {}: {}",
                    place.env, decision.explanation
                ),
            };
        }
        let mut lines = self.freeze_lines(&place).await;
        if lines.is_empty() {
            lines.push("no freeze now, and none planned".into());
        }
        lines.extend(self.suspension_lines(&place).await);
        lines.insert(0, format!("{}:", place.env));
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    /// The GitOps reconciliation pitcrew holds suspended here, each with its deadline.
    async fn suspension_lines(&self, place: &Place<'_>) -> Vec<String> {
        let Some(db) = &self.ctx.db else {
            return Vec::new();
        };
        match crate::gitops::Suspensions::new(db.clone())
            .open_in(&place.env)
            .await
        {
            Ok(open) => open
                .iter()
                .map(|s| {
                    format!(
                        "GitOps reconciliation of {}/{} ({}) suspended until {} by <@{}> ({}); pitcrew resumes it then",
                        s.kind,
                        s.name,
                        s.namespace,
                        crate::freeze::show(s.until, place.environment.timezone),
                        s.suspended_by,
                        s.id
                    )
                })
                .collect(),
            Err(e) => vec![format!(
                "GitOps suspensions cannot be read now ({e})"
            )],
        }
    }

    /// `N changes made outside pitcrew` in the environments asked about, or why not known.
    async fn drift_line(&self, a: &command::Audit, since: chrono::DateTime<Utc>) -> String {
        let mut found = 0;
        for (name, environment) in &self.ctx.config.environments {
            if a.env.as_ref().is_some_and(|e| e != name) {
                continue;
            }
            match super::drift(
                self.ctx.clusters.as_ref(),
                self.ctx.audit.as_ref(),
                environment,
                since,
            )
            .await
            {
                Ok((_, rows)) => found += rows.len(),
                Err(e) => return format!("changes made outside pitcrew: not known ({name}: {e})"),
            }
        }
        format!("{found} change(s) made outside pitcrew (`pitcrew audit drift` lists them)")
    }

    pub(super) async fn history(&self, target: &Target, scope: &command::Scope) -> Outcome {
        let (place, at) = match self.read_access(Action::History, target, scope).await {
            Ok(x) => x,
            Err(o) => return o,
        };
        let ns = place.namespace.as_str();
        let revisions = match self.ctx.clusters.history(&at).await {
            Ok(r) => r,
            Err(e) => return cluster_outcome_as(&e, at.as_user.as_ref()),
        };
        let now = Utc::now();
        let mut lines = vec![format!(
            "{target} in {} ({ns}): {} revisions",
            place.env,
            revisions.len()
        )];
        for r in revisions.iter().rev() {
            let images: Vec<String> = r.images.iter().map(|(_, i)| i.clone()).collect();
            let age = r
                .created
                .map(|c| {
                    humantime::format_duration(std::time::Duration::from_secs(
                        (now - c).num_seconds().max(0) as u64,
                    ))
                    .to_string()
                })
                .map(|a| format!(", {a} ago"))
                .unwrap_or_default();
            lines.push(format!(
                "{}{:>4}  {}  {}{age}",
                if r.current { "→" } else { " " },
                r.number,
                images.join(", "),
                r.change_cause.as_deref().unwrap_or("<no change cause>"),
            ));
        }
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    /// The chat `audit` command: a short summary of recent command outcomes, for users the
    /// policy grants `audit` (on the environment asked about, or on every one: `*`).
    pub(super) async fn audit_summary(&self, a: &command::Audit) -> Outcome {
        let request = crate::policy::Request {
            sub: self.request.actor.to_string(),
            env: a.env.as_ref().map_or("*".into(), |e| e.to_string()),
            cluster: "*".into(),
            ns: "*".into(),
            obj: a.target.as_ref().map_or("*".into(), |t| t.to_string()),
            act: Action::Audit.to_string(),
            chan: self
                .request
                .channel
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
        };
        let (verdict, explanation) = self.ctx.policy.current().explain(&request);
        if !verdict.allowed {
            let hint = if a.env.is_none() {
                "; if you may read one environment's trail, say which with --env"
            } else {
                ""
            };
            return Outcome::Refused {
                message: format!("you may not read the audit trail: {explanation}{hint}"),
            };
        }
        let since = match &a.since {
            Some(command::Since::At { time }) => *time,
            Some(command::Since::Ago { seconds }) => {
                Utc::now()
                    - chrono::Duration::seconds(i64::try_from(*seconds).unwrap_or(i64::MAX / 1000))
            }
            None => Utc::now() - chrono::Duration::hours(24),
        };
        let filter = crate::audit::Filter {
            since: Some(crate::db::stored_time(since)),
            actor: a.actor.as_ref().map(|u| u.to_string()),
            env: a.env.as_ref().map(|e| e.to_string()),
            kind: a.target.as_ref().map(|t| t.kind.to_string()),
            name: a.target.as_ref().map(|t| t.name.to_string()),
            action: a.action.map(|x| x.to_string()),
            phase: a.outcome.map(|p| p.to_string()),
            limit: Some(10_000),
            ..crate::audit::Filter::default()
        };
        let events = match self.ctx.audit.query(filter).await {
            Ok(e) => e,
            Err(e) => {
                return Outcome::Unavailable {
                    message: format!("cannot read the audit trail: {e}"),
                };
            }
        };
        if a.report {
            let drift = self.drift_line(a, since).await;
            return report_summary(a, since, &events, &explanation, drift);
        }
        // One line per command: its last event (the outcome, or how far it got).
        let mut last: Vec<&crate::audit::Record> = Vec::new();
        for e in &events {
            match last.iter().position(|l| l.correlation == e.correlation) {
                Some(i) => last[i] = e,
                None => last.push(e),
            }
        }
        const SHOWN: usize = 15;
        let mut lines = vec![format!(
            "{} command{} since {} ({}):",
            last.len(),
            if last.len() == 1 { "" } else { "s" },
            since.format("%Y-%m-%d %H:%M UTC"),
            explanation
        )];
        for e in last.iter().rev().take(SHOWN) {
            lines.push(format!(
                "{}  {}  {:<11}  {}  (audit id {})",
                e.at.get(..16).unwrap_or(&e.at).replace('T', " "),
                e.actor_id,
                e.phase,
                crate::audit::render::terminal_safe(&e.command_text),
                e.correlation
            ));
        }
        if last.len() > SHOWN {
            lines.push(format!(
                "… and {} more; operators can list them all with `pitcrew audit query`",
                last.len() - SHOWN
            ));
        }
        Outcome::Done {
            message: lines.join("\n"),
        }
    }

    pub(super) async fn can_i(&self, c: &command::CanI) -> Outcome {
        let place = match self.place(&c.scope) {
            Ok(p) => p,
            Err(o) => return o,
        };
        // The answer is the outcome itself: no `Authorized` event, which would say it twice.
        let d = self.decide(c.action, &place, Some(&c.target));
        let message = if d.allowed {
            format!("yes: {}", d.explanation)
        } else {
            format!(
                "no: you may not {} {} in {}: {}",
                c.action, c.target, place.env, d.explanation
            )
        };
        Outcome::Done { message }
    }
}

/// `audit report`: the change report's counts for the period, and the CLI command that writes
/// the report itself (chat is no place for a compliance document).
fn report_summary(
    a: &command::Audit,
    since: chrono::DateTime<Utc>,
    events: &[crate::audit::Record],
    explanation: &str,
    drift: String,
) -> Outcome {
    let now = Utc::now();
    let env = a.env.as_ref().map(|e| e.to_string());
    let report = crate::audit::report::build(
        events,
        &crate::db::stored_time(since),
        &crate::db::stored_time(now),
        env.as_deref(),
        &crate::db::stored_time(now),
    );
    let (changes, refused, unreviewed) = report.counts();
    let mut lines = vec![format!(
        "Change report{} from {} to {} ({explanation}):",
        env.as_deref()
            .map(|e| format!(" for {e}"))
            .unwrap_or_default(),
        since.format("%Y-%m-%d %H:%M UTC"),
        now.format("%Y-%m-%d %H:%M UTC"),
    )];
    lines.push(format!(
        "{changes} change{}, {refused} refused attempt{}, {unreviewed} break-glass change{} not reviewed",
        if changes == 1 { "" } else { "s" },
        if refused == 1 { "" } else { "s" },
        if unreviewed == 1 { "" } else { "s" },
    ));
    lines.push(drift);
    let self_approved = report
        .changes
        .iter()
        .filter(|c| c.approved_by_requester)
        .count();
    if self_approved > 0 {
        lines.push(format!(
            "⚠ {self_approved} change(s) approved by their own requester"
        ));
    }
    for c in &report.unreviewed {
        lines.push(format!(
            "  not reviewed: {} by {} at {} (audit id {})",
            crate::audit::render::terminal_safe(&c.command),
            c.requester,
            c.at.get(..16).unwrap_or(&c.at).replace('T', " "),
            c.correlation
        ));
    }
    lines.push(format!(
        "the report itself (HTML, CSV or JSON, with the chain verified): `pitcrew audit report --from {} --to {}{} --format html --out report.html`",
        since.format("%Y-%m-%dT%H:%M:%SZ"),
        now.format("%Y-%m-%dT%H:%M:%SZ"),
        env.map(|e| format!(" --env {e}")).unwrap_or_default()
    ));
    Outcome::Done {
        message: lines.join("\n"),
    }
}
