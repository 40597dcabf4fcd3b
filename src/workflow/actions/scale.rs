//! `scale`: `kubectl scale --replicas` of a Deployment or StatefulSet, or with `--hpa` its
//! HorizontalPodAutoscaler's bounds. A new count is followed like a rollout (until the
//! replicas are there); the outcome offers the scale back to the count before.

use futures::future::BoxFuture;

use super::{ActError, Asked, ChangeAction, Scope};
use crate::cluster::{self, Change, Followed, Operation};
use crate::command::{Action, Command, Phase, Scale};
use crate::workflow::{Context, Outcome};

pub(in crate::workflow) struct ScaleAction<'c>(pub &'c Scale);

impl ScaleAction<'_> {
    /// The scale that undoes `change` (back to the count before), when it changed a count.
    fn undo(&self, change: &Change) -> Option<Box<Command>> {
        let Operation::Scale { from, .. } = &change.operation else {
            return None;
        };
        let replicas = u32::try_from(*from).ok()?;
        Some(Box::new(Command::Scale(Scale {
            replicas,
            hpa: false,
            justification: None,
            dry_run: false,
            ..self.0.clone()
        })))
    }
}

impl ChangeAction for ScaleAction<'_> {
    fn action(&self) -> Action {
        Action::Scale
    }

    fn asked(&self) -> Asked<'_> {
        Asked::of(&self.0.target, &self.0.justification, self.0.dry_run)
    }

    fn scope<'c>(&self, ctx: &'c Context) -> Result<Scope<'c>, Outcome> {
        super::one_workload(ctx, Action::Scale, &self.0.scope)
    }

    fn act<'a>(
        &'a self,
        ctx: &'a Context,
        scope: &'a Scope<'a>,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Vec<Change>, ActError>> {
        Box::pin(async move {
            let at = super::location(scope, &self.0.target);
            // Parsed as at most `MAX_REPLICAS`, which fits.
            let replicas = i32::try_from(self.0.replicas).unwrap_or(i32::MAX);
            let change = ctx
                .clusters
                .scale(&at, replicas, self.0.hpa, dry_run)
                .await?;
            Ok(vec![change])
        })
    }

    fn follows(&self) -> bool {
        // Moving an autoscaler's bounds leaves the scaling to it, on its own schedule.
        !self.0.hpa
    }

    fn nothing_to_do(&self, _: &Scope<'_>) -> String {
        format!("{} needs no scaling", self.0.target)
    }

    fn finished(
        &self,
        scope: &Scope<'_>,
        followed: &[(Change, Result<Followed, cluster::Error>)],
        seconds: f64,
    ) -> (Phase, Outcome) {
        let target = &self.0.target;
        // A count offers the scale back, when it took and when its rollout failed (a rollback
        // would not undo a count).
        let scale_back = followed.first().and_then(|(c, _)| self.undo(c));
        let (phase, outcome) = super::one_workload_finished(
            scope,
            target,
            followed,
            seconds,
            |before| match scale_back.clone() {
                Some(undo) => *undo,
                None => super::undo_rollback(target, scope, self.0.scope.namespace.clone(), before),
            },
        );
        let outcome = match (outcome, scale_back) {
            (Outcome::Done { message }, Some(undo)) => Outcome::Changed {
                message: format!("{message}; scale back with `{undo}`"),
                undo,
            },
            (other, _) => other,
        };
        (phase, outcome)
    }

    fn afterwards(&self, _: &Scope<'_>) -> Option<String> {
        Some(format!(
            "the autoscaler scales {} within its new bounds by its metrics",
            self.0.target
        ))
    }
}
