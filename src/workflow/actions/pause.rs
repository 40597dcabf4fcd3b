//! `pause` and `resume`: `kubectl rollout pause|resume` of one Deployment. A pause changes no
//! pod, so there is no rollout to follow; a resume releases what waited (a new template rolls
//! out), which is followed like a restart.

use futures::future::BoxFuture;

use super::{ActError, Asked, ChangeAction, Scope};
use crate::cluster::{self, Change, Followed};
use crate::command::{Action, Pause, Phase};
use crate::workflow::{Context, Outcome};

pub(in crate::workflow) struct PauseAction<'c>(pub &'c Pause);

impl ChangeAction for PauseAction<'_> {
    fn action(&self) -> Action {
        if self.0.resume {
            Action::Resume
        } else {
            Action::Pause
        }
    }

    fn asked(&self) -> Asked<'_> {
        Asked::of(&self.0.target, &self.0.justification, self.0.dry_run)
    }

    fn scope<'c>(&self, ctx: &'c Context) -> Result<Scope<'c>, Outcome> {
        super::one_workload(ctx, self.action(), &self.0.scope)
    }

    fn act<'a>(
        &'a self,
        ctx: &'a Context,
        scope: &'a Scope<'a>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<Change>, ActError>> {
        Box::pin(async move {
            let at = super::location(scope, &self.0.target);
            let change = ctx
                .clusters
                .set_paused(&at, !self.0.resume, dry_run)
                .await?;
            Ok(vec![change])
        })
    }

    fn follows(&self) -> bool {
        // A paused Deployment has no rollout to wait for.
        self.0.resume
    }

    fn nothing_to_do(&self, _: &Scope<'_>) -> String {
        format!("{} needs no {}", self.0.target, self.0.name())
    }

    fn afterwards(&self, scope: &Scope<'_>) -> Option<String> {
        Some(format!(
            "its pods keep running, and template changes wait until `resume {} -e {}`",
            self.0.target, scope.place.env
        ))
    }

    fn finished(
        &self,
        scope: &Scope<'_>,
        followed: &[(Change, Result<Followed, cluster::Error>)],
        seconds: f64,
    ) -> (Phase, Outcome) {
        let target = &self.0.target;
        super::one_workload_finished(scope, target, followed, seconds, |before| {
            super::undo_rollback(target, scope, self.0.scope.namespace.clone(), before)
        })
    }
}
