//! `promote <app|target> --from ENV --to ENV [--reason REF | --break-glass TEXT] [--dry-run]`
//!
//! Copies the images that run in one environment into the same-named workloads of another.
//! Nothing else is copied: environment-specific settings stay where they are.

use std::fmt;

use serde::Serialize;

use super::args::{self, Args, Flag};
use super::{Justification, Kind, ParseError, Target, Token, fmt_tail};
use crate::names::{EnvName, WorkloadName};

/// What to promote: every workload of an app, or one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Subject {
    /// A bare name: every Deployment, StatefulSet and DaemonSet of that name.
    App { name: WorkloadName },
    /// `KIND/NAME`: that workload only.
    Workload { target: Target },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promote {
    pub subject: Subject,
    pub from: EnvName,
    pub to: EnvName,
    pub justification: Option<Justification>,
    pub dry_run: bool,
}

const FROM: Flag = Flag {
    long: "--from",
    short: None,
    example: Some("--from staging"),
};
const TO: Flag = Flag {
    long: "--to",
    short: None,
    example: Some("--to prod"),
};

impl Promote {
    pub const NAME: &'static str = "promote";
    pub const USAGE: &'static str =
        "promote <app|target> --from ENV --to ENV [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const SUMMARY: &'static str = "run in one environment the images another environment runs";
    pub(crate) const FLAGS: &'static [Flag] =
        &[FROM, TO, args::REASON, args::BREAK_GLASS, args::DRY_RUN];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        Self::from_args(&args)
    }

    fn from_args(args: &Args) -> Result<Self, ParseError> {
        let typed = super::one_positional(
            Self::NAME,
            Self::USAGE,
            "an app or a target, e.g. `checkout`",
            args,
        )?;
        let subject = if typed.contains('/') {
            let target = Target::parse(typed)?;
            if target.kind == Kind::Rollout {
                return Err(ParseError::InvalidValue {
                    flag: "target",
                    reason: "an Argo Rollout is promoted through its own steps: `advance rollout/NAME` (or `--full`)".into(),
                });
            }
            Subject::Workload { target }
        } else {
            Subject::App {
                name: WorkloadName::parse(typed)?,
            }
        };
        let env = |flag: Flag, what: &'static str| -> Result<EnvName, ParseError> {
            match args.value(flag) {
                Some(v) => Ok(EnvName::parse(v)?),
                None => Err(ParseError::Missing {
                    command: Self::NAME,
                    what,
                    usage: Self::USAGE,
                }),
            }
        };
        let from = env(FROM, "`--from ENV`, the environment whose images to take")?;
        let to = env(TO, "`--to ENV`, the environment to change")?;
        if from == to {
            return Err(ParseError::InvalidValue {
                flag: "--to",
                reason: format!(
                    "promoting from `{from}` to itself changes nothing; name two environments"
                ),
            });
        }
        Ok(Promote {
            subject,
            from,
            to,
            justification: super::justification(args)?,
            dry_run: args.switch(args::DRY_RUN),
        })
    }

    /// The kinds this promote applies to.
    /// The workload it is about: the named one, or an app's Deployment (what the policy,
    /// the audit trail and the lock name).
    pub fn target(&self) -> Target {
        match &self.subject {
            Subject::App { name } => Target {
                kind: Kind::Deployment,
                name: name.clone(),
            },
            Subject::Workload { target } => target.clone(),
        }
    }

    pub fn kinds(&self) -> Vec<Kind> {
        match &self.subject {
            Subject::App { .. } => Kind::WORKLOADS.to_vec(),
            Subject::Workload { target } => vec![target.kind],
        }
    }
}

impl fmt::Display for Promote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Subject::App { name } => write!(f, "{} {name}", Self::NAME)?,
            Subject::Workload { target } => write!(f, "{} {target}", Self::NAME)?,
        }
        write!(f, " --from {} --to {}", self.from, self.to)?;
        fmt_tail(f, &self.justification, self.dry_run)
    }
}
