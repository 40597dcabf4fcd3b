//! `advance rollout/NAME [--full]`, `abort rollout/NAME`, `retry rollout/NAME`: moving an Argo
//! Rollout through its canary or blue-green steps, as `kubectl argo rollouts promote [--full]`,
//! `abort` and `retry` do. (`advance` rather than `promote`: pitcrew's `promote` copies images
//! between environments.)

use std::fmt;

use serde::Serialize;

use super::args::{self, Args, Flag};
use super::{Justification, Kind, ParseError, Scope, Target, Token, fmt_tail};

/// What is asked of the Rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepVerb {
    /// To its next step (past a pause), or with `full` to the end, skipping the rest.
    Advance { full: bool },
    /// Back to the stable version, stopping the update.
    Abort,
    /// An aborted update started again.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub verb: StepVerb,
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
    pub justification: Option<Justification>,
    pub dry_run: bool,
}

const FULL: Flag = Flag {
    long: "--full",
    short: None,
    example: None,
};

pub(crate) const FLAGS: &[Flag] = args::ONE_WORKLOAD;
pub(crate) const ADVANCE_FLAGS: &[Flag] = &[
    args::ENV,
    args::NAMESPACE,
    FULL,
    args::REASON,
    args::BREAK_GLASS,
    args::DRY_RUN,
];

impl Step {
    pub const ADVANCE: &'static str = "advance";
    pub const ABORT: &'static str = "abort";
    pub const RETRY: &'static str = "retry";
    pub const ADVANCE_USAGE: &'static str = "advance <rollout> [--full] [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const ABORT_USAGE: &'static str =
        "abort <rollout> [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const RETRY_USAGE: &'static str =
        "retry <rollout> [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const ADVANCE_SUMMARY: &'static str = "move an Argo Rollout past its pause to the next step (--full: to the end), as `kubectl argo rollouts promote` does";
    pub const ABORT_SUMMARY: &'static str = "stop an Argo Rollout's update and go back to the stable version, as `kubectl argo rollouts abort` does";
    pub const RETRY_SUMMARY: &'static str =
        "start an aborted Argo Rollout's update again, as `kubectl argo rollouts retry` does";

    pub fn parse(tokens: &[Token], verb: StepVerb) -> Result<Self, ParseError> {
        let (name, usage, flags) = match verb {
            StepVerb::Advance { .. } => (Self::ADVANCE, Self::ADVANCE_USAGE, ADVANCE_FLAGS),
            StepVerb::Abort => (Self::ABORT, Self::ABORT_USAGE, FLAGS),
            StepVerb::Retry => (Self::RETRY, Self::RETRY_USAGE, FLAGS),
        };
        let args = args::parse(name, usage, flags, tokens)?;
        Self::from_args(&args, name, usage, verb)
    }

    fn from_args(
        args: &Args,
        name: &'static str,
        usage: &'static str,
        verb: StepVerb,
    ) -> Result<Self, ParseError> {
        let typed = super::one_positional(
            name,
            usage,
            "an Argo Rollout, e.g. `rollout/checkout`",
            args,
        )?;
        // A bare name here is a Rollout: these verbs exist for nothing else.
        let target = if typed.contains('/') {
            Target::parse(typed)?
        } else {
            Target {
                kind: Kind::Rollout,
                name: crate::names::WorkloadName::parse(typed)?,
            }
        };
        if target.kind != Kind::Rollout {
            return Err(ParseError::InvalidValue {
                flag: "target",
                reason: format!(
                    "`{name}` moves an Argo Rollout through its steps; {} has none (`{name} rollout/NAME`)",
                    target
                ),
            });
        }
        let verb = match verb {
            StepVerb::Advance { .. } => StepVerb::Advance {
                full: args.switch(FULL),
            },
            other => other,
        };
        Ok(Step {
            verb,
            target,
            scope: Scope::from_args(args)?,
            justification: super::justification(args)?,
            dry_run: args.switch(args::DRY_RUN),
        })
    }

    pub fn name(&self) -> &'static str {
        match self.verb {
            StepVerb::Advance { .. } => Self::ADVANCE,
            StepVerb::Abort => Self::ABORT,
            StepVerb::Retry => Self::RETRY,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", self.name(), self.target, self.scope)?;
        if self.verb == (StepVerb::Advance { full: true }) {
            f.write_str(" --full")?;
        }
        fmt_tail(f, &self.justification, self.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use crate::command::{Command, parse};

    #[test]
    fn steps_take_rollouts_and_round_trip() {
        for (typed, canonical) in [
            ("advance web -e prod", "advance rollout/web -e prod"),
            (
                "Advance ro/web --full --reason CHG-1",
                "advance rollout/web --full --reason CHG-1",
            ),
            (
                "abort rollouts.argoproj.io/web --dry-run",
                "abort rollout/web --dry-run",
            ),
            ("retry rollout/web -n shop", "retry rollout/web -n shop"),
        ] {
            let c = parse(typed).unwrap();
            assert_eq!(c.to_string(), canonical);
            assert_eq!(parse(canonical).unwrap(), c);
        }
        let Err(e) = parse("advance deploy/web") else {
            panic!("a Deployment has no steps");
        };
        assert!(e.to_string().contains("has none"), "{e}");
        assert!(parse("abort web --full").is_err());
        assert!(parse("scale rollout/web --replicas 2").is_err());
        let Ok(Command::Pause(p)) = parse("pause rollout/web") else {
            panic!("a Rollout is paused like a Deployment");
        };
        assert_eq!(p.to_string(), "pause rollout/web");
    }
}
