//! `can-i <action> <target> [-e ENV] [-n NAMESPACE]`: asks the policy, changes nothing, and
//! explains the decision (which rule matched).

use std::fmt;

use serde::Serialize;

use super::args::{self, Flag};
use super::{Action, ParseError, Scope, Target, Token};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanI {
    pub action: Action,
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
}

impl CanI {
    pub const NAME: &'static str = "can-i";
    pub const USAGE: &'static str = "can-i <action> <target> [-e ENV] [-n NAMESPACE]";
    pub const SUMMARY: &'static str = "ask whether you may do an action, and which rule decides";
    pub(crate) const FLAGS: &'static [Flag] = &[args::ENV, args::NAMESPACE];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        let (action, target) = match args.positionals.as_slice() {
            [] => {
                return Err(ParseError::Missing {
                    command: Self::NAME,
                    what: "an action and a target, e.g. `can-i restart deploy/checkout -e prod`",
                    usage: Self::USAGE,
                });
            }
            [_] => {
                return Err(ParseError::Missing {
                    command: Self::NAME,
                    what: "a target after the action, e.g. `deploy/checkout`",
                    usage: Self::USAGE,
                });
            }
            [action, target] => (Action::parse(action)?, Target::parse_any(target)?),
            [_, _, extra, ..] => {
                return Err(ParseError::Unexpected {
                    command: Self::NAME,
                    arg: extra.clone(),
                    usage: Self::USAGE,
                });
            }
        };
        Ok(CanI {
            action,
            target,
            scope: Scope::from_args(&args)?,
        })
    }
}

impl fmt::Display for CanI {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}{}",
            Self::NAME,
            self.action,
            self.target,
            self.scope
        )
    }
}
