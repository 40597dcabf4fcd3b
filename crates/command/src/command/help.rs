//! `help [command]`: the list of commands, or one command's usage.

use std::fmt;

use serde::Serialize;

use super::{CommandName, ParseError, Token};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Help {
    pub topic: Option<CommandName>,
}

impl Help {
    pub const NAME: &'static str = "help";
    pub const USAGE: &'static str = "help [command]";
    pub const SUMMARY: &'static str = "show the commands, or how to use one";

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        match tokens {
            [] => Ok(Help { topic: None }),
            [topic] => Ok(Help {
                topic: Some(CommandName::parse(&topic.text)?),
            }),
            [_, extra, ..] => Err(ParseError::Unexpected {
                command: Self::NAME,
                arg: extra.text.clone(),
                usage: Self::USAGE,
            }),
        }
    }

    /// The help text for people.
    pub fn text(&self) -> String {
        match self.topic {
            Some(name) => format!("usage: /pitcrew {}\n{}", name.usage(), name.summary()),
            None => {
                let mut s = String::from("pitcrew commands:\n");
                for name in CommandName::ALL {
                    s.push_str(&format!("  {:<9} {}\n", name.as_str(), name.summary()));
                }
                s.push_str(
                    "Targets are KIND/NAME (deploy, sts, ds, rollout) or a bare Deployment name; gitops \
                     takes app/NAME, ks/NAME or hr/NAME. --reason takes a PagerDuty incident or a Jira issue. `help COMMAND` shows its flags.",
                );
                s
            }
        }
    }
}

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.topic {
            Some(t) => write!(f, "{} {t}", Self::NAME),
            None => f.write_str(Self::NAME),
        }
    }
}
