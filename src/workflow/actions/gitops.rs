//! `gitops suspend|resume`: pause an Argo CD Application's automated sync (or a Flux object's
//! reconciliation) during an incident, with a deadline kept in the database, at which `serve`
//! resumes it (`workflow::gitops_deadline`); or resume it earlier by hand.
//!
//! Suspending records the suspension before the object is patched (so a deadline exists for
//! every suspension pitcrew made) and forgets it if the patch fails. Resuming puts back what
//! was there when pitcrew suspended it (Argo CD's `automated` block, prune and selfHeal
//! included). Nothing here is followed: no pod changes.

use chrono::Utc;
use futures::future::BoxFuture;

use super::{ActError, Asked, ChangeAction, Scope};
use crate::cluster::{self, Change, Followed};
use crate::command::{Action, Gitops, GitopsOp, Phase};
use crate::gitops::{NewSuspension, Suspensions};
use crate::workflow::{Context, Outcome};

pub(in crate::workflow) struct GitopsAction<'c>(pub &'c Gitops);

/// The suspensions' table cannot be read or written: nothing was changed.
fn unavailable(e: sqlx::Error) -> ActError {
    ActError::Mismatch(format!(
        "the database does not answer ({e}); nothing was changed, try again in a minute"
    ))
}

impl GitopsAction<'_> {
    fn store(ctx: &Context) -> Result<Suspensions, ActError> {
        ctx.db.clone().map(Suspensions::new).ok_or_else(|| {
            ActError::Mismatch(
                "pitcrew keeps the deadline of a GitOps suspension in its database, and this run has none; use the server (`/pitcrew gitops …` in Slack) or `pitcrew exec` with a database configured. Nothing was changed".into(),
            )
        })
    }

    async fn suspend(
        &self,
        ctx: &Context,
        scope: &Scope<'_>,
        seconds: u64,
        dry_run: bool,
    ) -> Result<Change, ActError> {
        let at = super::location(scope, &self.0.target);
        let store = Self::store(ctx)?;
        if let Some(open) = store
            .open_for(&scope.place.env, at.kind, &at.namespace, &at.name)
            .await
            .map_err(unavailable)?
        {
            return Err(ActError::Mismatch(format!(
                "{} is already suspended by pitcrew until {} ({}, by <@{}>); `gitops resume {} -e {}` first to set a new deadline",
                self.0.target,
                crate::freeze::show(open.until, scope.place.environment.timezone),
                open.id,
                open.suspended_by,
                self.0.target,
                scope.place.env
            )));
        }
        let seen = ctx.clusters.gitops_read(&at).await?;
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 2));
        let by = scope.by.as_ref();
        let by_text = by
            .map(|b| format!("{} ({})", b.actor, b.correlation))
            .unwrap_or_default();
        if dry_run || !seen.active {
            return Ok(ctx
                .clusters
                .gitops_suspend(&at, &seen, until, &by_text, dry_run)
                .await?);
        }
        let recorded = store
            .record(&NewSuspension {
                env: &scope.place.env,
                cluster: scope.place.cluster.as_str(),
                namespace: &at.namespace,
                kind: at.kind,
                name: &at.name,
                now,
                until,
                suspended_by: by.map(|b| b.actor.as_str()).unwrap_or_default(),
                correlation: by.map(|b| b.correlation.as_str()).unwrap_or_default(),
                channel: by.and_then(|b| b.channel.as_deref()),
                restore: &seen.restore,
            })
            .await
            .map_err(unavailable)?;
        match ctx
            .clusters
            .gitops_suspend(&at, &seen, until, &by_text, false)
            .await
        {
            Ok(change) => Ok(change),
            Err(e) => {
                if let Err(forget) = store.forget(&recorded.id).await {
                    // The deadline sweep will find the object reconciling and leave it.
                    tracing::warn!(suspension = %recorded.id, error = %forget, "cannot forget a suspension whose patch failed");
                }
                Err(e.into())
            }
        }
    }

    async fn resume(
        &self,
        ctx: &Context,
        scope: &Scope<'_>,
        dry_run: bool,
    ) -> Result<Change, ActError> {
        let at = super::location(scope, &self.0.target);
        let open = match &ctx.db {
            Some(db) => Suspensions::new(db.clone())
                .open_for(&scope.place.env, at.kind, &at.namespace, &at.name)
                .await
                .map_err(unavailable)?,
            None => None,
        };
        let restore = open
            .as_ref()
            .map(|s| s.restore.clone())
            .unwrap_or(serde_json::Value::Null);
        let change = ctx.clusters.gitops_resume(&at, &restore, dry_run).await?;
        if let (false, Some(open), Some(db), Some(by)) = (dry_run, &open, &ctx.db, &scope.by) {
            let marked = Suspensions::new(db.clone())
                .resumed(&open.id, &by.actor, &by.correlation, Utc::now())
                .await;
            if let Err(e) = marked {
                // The deadline sweep will find it reconciling and only mark it.
                tracing::warn!(suspension = %open.id, error = %e, "cannot mark a suspension resumed");
            }
        }
        Ok(change)
    }
}

impl ChangeAction for GitopsAction<'_> {
    fn action(&self) -> Action {
        Action::Gitops
    }

    fn asked(&self) -> Asked<'_> {
        Asked::of(&self.0.target, &self.0.justification, self.0.dry_run)
    }

    fn scope<'c>(&self, ctx: &'c Context) -> Result<Scope<'c>, Outcome> {
        let place = crate::resolve::gitops_place(
            &ctx.config,
            self.0.scope.env.as_ref(),
            self.0.scope.namespace.as_ref(),
            self.0.target.kind,
        )
        .map_err(|e| Outcome::BadInput {
            message: e.to_string(),
        })?;
        if let GitopsOp::Suspend { seconds } = self.0.op {
            let most = place.environment.gitops.max_suspend;
            if seconds > most.as_secs() {
                return Err(Outcome::BadInput {
                    message: format!(
                        "{} allows suspending reconciliation for at most {} ([environments.{}.gitops].max_suspend); ask for less, and suspend again later if the incident needs it",
                        place.env,
                        humantime::format_duration(most),
                        place.env
                    ),
                });
            }
        }
        Ok(super::scope_at(place, Action::Gitops))
    }

    fn act<'a>(
        &'a self,
        ctx: &'a Context,
        scope: &'a Scope<'a>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<Change>, ActError>> {
        Box::pin(async move {
            let change = match self.0.op {
                GitopsOp::Suspend { seconds } => self.suspend(ctx, scope, seconds, dry_run).await?,
                GitopsOp::Resume => self.resume(ctx, scope, dry_run).await?,
            };
            Ok(vec![change])
        })
    }

    fn follows(&self) -> bool {
        false
    }

    fn nothing_to_do(&self, _: &Scope<'_>) -> String {
        format!("{} needs no {}", self.0.target, self.0.verb())
    }

    fn afterwards(&self, scope: &Scope<'_>) -> Option<String> {
        Some(match self.0.op {
            GitopsOp::Suspend { .. } => format!(
                "workloads it manages may be changed until then; pitcrew resumes it at the deadline (or `gitops resume {} -e {}` earlier)",
                self.0.target, scope.place.env
            ),
            GitopsOp::Resume => "it reconciles from Git again: whatever Git holds is applied, undoing changes made meanwhile unless they were committed".into(),
        })
    }

    fn finished(
        &self,
        scope: &Scope<'_>,
        _followed: &[(Change, Result<Followed, cluster::Error>)],
        _seconds: f64,
    ) -> (Phase, Outcome) {
        // Never followed (`follows` is false); the changes end at once.
        self.finished_at_once(scope, &[])
    }
}
