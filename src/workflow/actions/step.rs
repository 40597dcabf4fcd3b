//! `advance`, `abort`, `retry`: an Argo Rollout moved through its steps, as
//! `kubectl argo rollouts promote [--full]`, `abort` and `retry` do. Followed like a restart:
//! until the Rollout is Healthy, Degraded, or waits at its next pause.

use futures::future::BoxFuture;

use super::{ActError, Asked, ChangeAction, Scope};
use crate::cluster::{self, Change, Followed};
use crate::command::{Action, Phase, Step, StepVerb};
use crate::workflow::{Context, Outcome};

pub(in crate::workflow) struct StepAction<'c>(pub &'c Step);

impl ChangeAction for StepAction<'_> {
    fn action(&self) -> Action {
        match self.0.verb {
            StepVerb::Advance { .. } => Action::Advance,
            StepVerb::Abort => Action::Abort,
            StepVerb::Retry => Action::Retry,
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
            let change = ctx.clusters.rollout_step(&at, self.0.verb, dry_run).await?;
            Ok(vec![change])
        })
    }

    fn follows(&self) -> bool {
        // An abort ends Degraded ("RolloutAborted") by design: nothing to wait for.
        self.0.verb != StepVerb::Abort
    }

    fn afterwards(&self, scope: &Scope<'_>) -> Option<String> {
        Some(format!(
            "it goes back to the stable version; `retry {} -e {}` starts the update again",
            self.0.target, scope.place.env
        ))
    }

    fn nothing_to_do(&self, _: &Scope<'_>) -> String {
        format!("{} needs no {}", self.0.target, self.0.name())
    }

    fn finished(
        &self,
        scope: &Scope<'_>,
        followed: &[(Change, Result<Followed, cluster::Error>)],
        seconds: f64,
    ) -> (Phase, Outcome) {
        let target = &self.0.target;
        // A failed step is undone by aborting it (back to the stable version).
        super::one_workload_finished(scope, target, followed, seconds, |_| {
            crate::command::Command::Step(Step {
                verb: StepVerb::Abort,
                justification: None,
                dry_run: false,
                ..self.0.clone()
            })
        })
    }
}
