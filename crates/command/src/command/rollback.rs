//! `rollback <target> [-e ENV] [-n NAMESPACE] [--to-revision N] [--reason REF | --break-glass TEXT] [--dry-run]`
//!
//! Like `kubectl rollout undo`: back to the previous revision, or to `--to-revision N`
//! (`--to-revision 0`, as in kubectl, is the previous revision).

use std::fmt;
use std::num::NonZeroU64;

use serde::Serialize;

use super::args::{self, Args, Flag};
use super::{Justification, ParseError, Scope, Target, Token, fmt_tail};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
    /// `None`: the revision before the current one.
    pub to_revision: Option<NonZeroU64>,
    pub justification: Option<Justification>,
    pub dry_run: bool,
}

const TO_REVISION: Flag = Flag {
    long: "--to-revision",
    short: None,
    example: Some("--to-revision 3"),
};

impl Rollback {
    pub const NAME: &'static str = "rollback";
    pub const USAGE: &'static str = "rollback <target> [-e ENV] [-n NAMESPACE] [--to-revision N] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const SUMMARY: &'static str =
        "go back to the previous (or a given) revision, as `kubectl rollout undo` does";
    pub(crate) const FLAGS: &'static [Flag] = &[
        args::ENV,
        args::NAMESPACE,
        TO_REVISION,
        args::REASON,
        args::BREAK_GLASS,
        args::DRY_RUN,
    ];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        Self::from_args(&args)
    }

    fn from_args(args: &Args) -> Result<Self, ParseError> {
        // kubectl's `--to-revision 0` means "the previous revision", as leaving it out does;
        // it is parsed to the same command (and printed as a plain `rollback`).
        let to_revision = match args.value(TO_REVISION) {
            None => None,
            Some(v) => v
                .parse::<u64>()
                .map(NonZeroU64::new)
                .map_err(|_| ParseError::InvalidValue {
                    flag: "--to-revision",
                    reason: format!("`{v}` is not a revision number; use a number from `history`, e.g. --to-revision 3 (0 means the previous revision)"),
                })?,
        };
        Ok(Rollback {
            target: super::one_target(Self::NAME, Self::USAGE, args)?,
            scope: Scope::from_args(args)?,
            to_revision,
            justification: super::justification(args)?,
            dry_run: args.switch(args::DRY_RUN),
        })
    }
}

impl fmt::Display for Rollback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", Self::NAME, self.target, self.scope)?;
        if let Some(r) = self.to_revision {
            write!(f, " --to-revision {r}")?;
        }
        fmt_tail(f, &self.justification, self.dry_run)
    }
}
