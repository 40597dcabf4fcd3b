//! `status [target] [-e ENV] [-n NAMESPACE]` and `history <target> [-e ENV] [-n NAMESPACE]`:
//! read-only looks at a workload, or (`status` without a target) at an environment's change
//! freezes (still governed by the policy).

use std::fmt;

use serde::Serialize;

use super::args::{self, Flag};
use super::{ParseError, Scope, Target, Token};

/// `status`: rollout progress, conditions, replicas, images and revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `None`: the environment itself (its freezes).
    pub target: Option<Target>,
    #[serde(flatten)]
    pub scope: Scope,
}

/// `history`: the revisions with change cause, image and age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
}

pub(crate) const FLAGS: &[Flag] = &[args::ENV, args::NAMESPACE];

fn parse_read(
    name: &'static str,
    usage: &'static str,
    tokens: &[Token],
) -> Result<(Target, Scope), ParseError> {
    let args = args::parse(name, usage, FLAGS, tokens)?;
    Ok((
        super::one_target(name, usage, &args)?,
        Scope::from_args(&args)?,
    ))
}

impl Status {
    pub const NAME: &'static str = "status";
    pub const USAGE: &'static str = "status [target] [-e ENV] [-n NAMESPACE]";
    pub const SUMMARY: &'static str = "show rollout progress, replicas, images and revision; without a target, the environment's freezes";

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, FLAGS, tokens)?;
        let target = match args.positionals.as_slice() {
            [] => None,
            _ => Some(super::one_target(Self::NAME, Self::USAGE, &args)?),
        };
        Ok(Status {
            target,
            scope: Scope::from_args(&args)?,
        })
    }
}

impl History {
    pub const NAME: &'static str = "history";
    pub const USAGE: &'static str = "history <target> [-e ENV] [-n NAMESPACE]";
    pub const SUMMARY: &'static str = "list revisions with change cause, image and age";

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let (target, scope) = parse_read(Self::NAME, Self::USAGE, tokens)?;
        Ok(History { target, scope })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some(t) => write!(f, "{} {t}{}", Self::NAME, self.scope),
            None => write!(f, "{}{}", Self::NAME, self.scope),
        }
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", Self::NAME, self.target, self.scope)
    }
}
