//! `pause <target> …` and `resume <target> …`: `kubectl rollout pause|resume` of a Deployment.
//! A paused Deployment keeps running what it runs; changes to its template wait until it is
//! resumed (kubectl supports pausing only Deployments, and so does pitcrew).

use std::fmt;

use serde::Serialize;

use super::args::{self, Args, Flag};
use super::{Justification, Kind, ParseError, Scope, Target, Token, fmt_tail};

/// `pause` (`resume: false`) or `resume` (`resume: true`) of a Deployment's rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
    pub justification: Option<Justification>,
    pub dry_run: bool,
    /// `resume` rather than `pause`.
    pub resume: bool,
}

pub(crate) const FLAGS: &[Flag] = args::ONE_WORKLOAD;

impl Pause {
    pub const PAUSE: &'static str = "pause";
    pub const RESUME: &'static str = "resume";
    pub const PAUSE_USAGE: &'static str = "pause <deployment> [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const RESUME_USAGE: &'static str = "resume <deployment> [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const PAUSE_SUMMARY: &'static str =
        "pause a Deployment's rollout, as `kubectl rollout pause` does";
    pub const RESUME_SUMMARY: &'static str =
        "resume a paused Deployment's rollout, as `kubectl rollout resume` does";

    pub fn parse(tokens: &[Token], resume: bool) -> Result<Self, ParseError> {
        let (name, usage) = if resume {
            (Self::RESUME, Self::RESUME_USAGE)
        } else {
            (Self::PAUSE, Self::PAUSE_USAGE)
        };
        let args = args::parse(name, usage, FLAGS, tokens)?;
        Self::from_args(&args, name, usage, resume)
    }

    fn from_args(
        args: &Args,
        name: &'static str,
        usage: &'static str,
        resume: bool,
    ) -> Result<Self, ParseError> {
        let target = super::one_target(name, usage, args)?;
        if !matches!(target.kind, Kind::Deployment | Kind::Rollout) {
            return Err(ParseError::InvalidValue {
                flag: "target",
                reason: format!(
                    "only Deployments (and Argo Rollouts) can be paused and resumed, as with kubectl, not {}; `{name} deploy/NAME`",
                    target.kind
                ),
            });
        }
        Ok(Pause {
            target,
            scope: Scope::from_args(args)?,
            justification: super::justification(args)?,
            dry_run: args.switch(args::DRY_RUN),
            resume,
        })
    }

    pub fn name(&self) -> &'static str {
        if self.resume {
            Self::RESUME
        } else {
            Self::PAUSE
        }
    }
}

impl fmt::Display for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", self.name(), self.target, self.scope)?;
        fmt_tail(f, &self.justification, self.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use crate::command::{Command, parse};

    #[test]
    fn pause_and_resume_take_deployments_only() {
        let Ok(Command::Pause(p)) = parse("pause checkout -e prod --reason CHG-1") else {
            panic!("not a pause");
        };
        assert!(!p.resume);
        assert_eq!(
            p.to_string(),
            "pause deployment/checkout -e prod --reason CHG-1"
        );
        let r = parse("Resume deploy/checkout --dry-run").unwrap();
        assert_eq!(r.to_string(), "resume deployment/checkout --dry-run");
        assert_eq!(parse(&r.to_string()).unwrap(), r);
        let e = parse("pause sts/db").unwrap_err().to_string();
        assert!(
            e.contains("only Deployments (and Argo Rollouts) can be paused"),
            "{e}"
        );
    }
}
