//! `restart <target> [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]`
//!
//! Like `kubectl rollout restart`: a new pod template annotation makes the controller replace
//! every pod, one batch at a time, under the workload's own rollout strategy.

use std::fmt;

use serde::Serialize;

use super::args::{self, Args, Flag};
use super::{Justification, ParseError, Scope, Target, Token, fmt_tail};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restart {
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
    pub justification: Option<Justification>,
    pub dry_run: bool,
}

impl Restart {
    pub const NAME: &'static str = "restart";
    pub const USAGE: &'static str =
        "restart <target> [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const SUMMARY: &'static str =
        "replace every pod of a workload, as `kubectl rollout restart` does";
    pub(crate) const FLAGS: &'static [Flag] = args::ONE_WORKLOAD;

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        Self::from_args(&args)
    }

    fn from_args(args: &Args) -> Result<Self, ParseError> {
        Ok(Restart {
            target: super::one_target(Self::NAME, Self::USAGE, args)?,
            scope: Scope::from_args(args)?,
            justification: super::justification(args)?,
            dry_run: args.switch(args::DRY_RUN),
        })
    }
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", Self::NAME, self.target, self.scope)?;
        fmt_tail(f, &self.justification, self.dry_run)
    }
}
