//! `rollback`: `kubectl rollout undo [--to-revision N]` of one workload.

use futures::future::BoxFuture;

use super::{ActError, Asked, ChangeAction, Scope};
use crate::cluster::{self, Change, Followed};
use crate::command::{Action, Phase, Rollback};
use crate::workflow::{Context, Outcome};

pub(in crate::workflow) struct RollbackAction<'c>(pub &'c Rollback);

impl ChangeAction for RollbackAction<'_> {
    fn action(&self) -> Action {
        Action::Rollback
    }

    fn asked(&self) -> Asked<'_> {
        Asked::of(&self.0.target, &self.0.justification, self.0.dry_run)
    }

    fn scope<'c>(&self, ctx: &'c Context) -> Result<Scope<'c>, Outcome> {
        super::one_workload(ctx, Action::Rollback, &self.0.scope)
    }

    fn act<'a>(
        &'a self,
        ctx: &'a Context,
        scope: &'a Scope<'a>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<Change>, ActError>> {
        Box::pin(async move {
            let at = super::location(scope, &self.0.target);
            let to = self
                .0
                .to_revision
                .map(|n| i64::try_from(n.get()).unwrap_or(i64::MAX));
            let change = ctx.clusters.rollback(&at, to, dry_run).await?;
            Ok(vec![change])
        })
    }

    fn nothing_to_do(&self, _: &Scope<'_>) -> String {
        format!("{} has nothing to roll back", self.0.target)
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
