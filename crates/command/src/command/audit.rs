//! `audit [--since 24h] [--env ENV] [--actor @user] [--action A] [--target T] [--outcome O]`:
//! a short summary of the audit trail, for the roles the policy allows.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::args::{self, Flag, quote};
use super::{Action, ParseError, Phase, Target, Token};
use crate::names::{EnvName, SlackUserId};

/// The start of the period asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Since {
    /// A duration back from now (`24h`, `7d`).
    Ago { seconds: u64 },
    /// A point in time (RFC 3339).
    At { time: DateTime<Utc> },
}

impl Since {
    pub fn parse(typed: &str) -> Result<Since, ParseError> {
        if let Ok(t) = DateTime::parse_from_rfc3339(typed) {
            return Ok(Since::At {
                time: t.with_timezone(&Utc),
            });
        }
        match humantime::parse_duration(typed) {
            Ok(d) if d.as_secs() > 0 => Ok(Since::Ago {
                seconds: d.as_secs(),
            }),
            _ => Err(ParseError::InvalidValue {
                flag: "--since",
                reason: format!(
                    "`{typed}` is neither a duration (`24h`, `7d`) nor a time (`2026-11-23T09:00:00Z`)"
                ),
            }),
        }
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Since::Ago { seconds } => f.write_str(&quote(
                &humantime::format_duration(Duration::from_secs(*seconds)).to_string(),
            )),
            Since::At { time } => {
                f.write_str(&time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Audit {
    /// `audit report`: the change report's summary and counts rather than the commands.
    pub report: bool,
    pub since: Option<Since>,
    pub env: Option<EnvName>,
    pub actor: Option<SlackUserId>,
    pub action: Option<Action>,
    pub target: Option<Target>,
    pub outcome: Option<Phase>,
}

const SINCE: Flag = Flag {
    long: "--since",
    short: None,
    example: Some("--since 24h"),
};
const ENV: Flag = Flag {
    long: "--env",
    short: Some("-e"),
    example: Some("--env prod"),
};
const ACTOR: Flag = Flag {
    long: "--actor",
    short: None,
    example: Some("--actor @alice"),
};
const ACTION: Flag = Flag {
    long: "--action",
    short: None,
    example: Some("--action restart"),
};
const TARGET: Flag = Flag {
    long: "--target",
    short: None,
    example: Some("--target deploy/checkout"),
};
const OUTCOME: Flag = Flag {
    long: "--outcome",
    short: None,
    example: Some("--outcome failed"),
};

impl Audit {
    pub const NAME: &'static str = "audit";
    pub const USAGE: &'static str = "audit [report] [--since 24h] [--env ENV] [--actor @user] [--action A] [--target T] [--outcome O]";
    pub const SUMMARY: &'static str = "summarise who did what, where and with which result";
    pub(crate) const FLAGS: &'static [Flag] = &[SINCE, ENV, ACTOR, ACTION, TARGET, OUTCOME];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        let report = match args.positionals.as_slice() {
            [] => false,
            [word] if word.eq_ignore_ascii_case("report") => true,
            [extra] | [_, extra, ..] => {
                return Err(ParseError::Unexpected {
                    command: Self::NAME,
                    arg: extra.clone(),
                    usage: Self::USAGE,
                });
            }
        };
        Ok(Audit {
            report,
            since: args.value(SINCE).map(Since::parse).transpose()?,
            env: args.value(ENV).map(EnvName::parse).transpose()?,
            actor: args.value(ACTOR).map(parse_actor).transpose()?,
            action: args.value(ACTION).map(Action::parse).transpose()?,
            target: args.value(TARGET).map(Target::parse_any).transpose()?,
            outcome: args.value(OUTCOME).map(Phase::parse).transpose()?,
        })
    }
}

/// `@U123`, `U123` or Slack's `<@U123|alice>` (already reduced to `@U123` by the lexer).
/// A display name (`@alice`) is refused: names can be changed, ids cannot.
fn parse_actor(typed: &str) -> Result<SlackUserId, ParseError> {
    let id = typed.strip_prefix('@').unwrap_or(typed);
    SlackUserId::parse(id).map_err(|_| ParseError::InvalidValue {
        flag: "--actor",
        reason: format!("`{typed}` is not a Slack user; pick the person from Slack's @-mention list so their user id is sent"),
    })
}

impl fmt::Display for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAME)?;
        if self.report {
            f.write_str(" report")?;
        }
        if let Some(s) = &self.since {
            write!(f, " --since {s}")?;
        }
        if let Some(e) = &self.env {
            write!(f, " --env {e}")?;
        }
        if let Some(a) = &self.actor {
            write!(f, " --actor @{a}")?;
        }
        if let Some(a) = &self.action {
            write!(f, " --action {a}")?;
        }
        if let Some(t) = &self.target {
            write!(f, " --target {t}")?;
        }
        if let Some(o) = &self.outcome {
            write!(f, " --outcome {o}")?;
        }
        Ok(())
    }
}
