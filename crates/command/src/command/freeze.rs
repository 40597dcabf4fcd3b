//! `freeze ENV (--until TIME | --for DURATION) --reason TEXT` and `unfreeze ENV`: a change
//! freeze on a whole environment, set and lifted from chat. While an environment is frozen,
//! every changing command there is refused unless it carries `--break-glass`.
//!
//! The parser stays pure: `--for 2h` is kept as a duration and turned into an end time when
//! the command runs, not here.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::args::{self, Flag, quote};
use super::{ParseError, Token};
use crate::names::EnvName;

/// Until when a freeze holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Until {
    /// A point in time (UTC; typed with any offset).
    At { time: DateTime<Utc> },
    /// For this long from when the command runs.
    For { seconds: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freeze {
    pub env: EnvName,
    pub until: Until,
    /// Why: a change ticket, an incident, or words (recorded and announced, not verified:
    /// freezing only ever stops changes).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfreeze {
    pub env: EnvName,
}

const UNTIL: Flag = Flag {
    long: "--until",
    short: None,
    example: Some("--until 2026-12-27T08:00Z"),
};
const FOR: Flag = Flag {
    long: "--for",
    short: None,
    example: Some("--for 4h"),
};
const REASON: Flag = Flag {
    long: "--reason",
    short: None,
    example: Some("--reason \"CHG-77 year-end freeze\""),
};

/// The shortest and longest reason: a ticket key at least, a sentence at most.
const REASON_MIN: usize = 3;
const REASON_MAX: usize = 500;
/// A freeze longer than a year is a typing mistake (a configured recurring window is the tool
/// for standing freezes).
const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

impl Freeze {
    pub const NAME: &'static str = "freeze";
    pub const USAGE: &'static str = "freeze <env> (--until TIME | --for DURATION) --reason TEXT";
    pub const SUMMARY: &'static str =
        "stop every change in an environment until a time (only --break-glass passes)";
    pub(crate) const FLAGS: &'static [Flag] = &[UNTIL, FOR, REASON];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        let env = one_env(Self::NAME, Self::USAGE, &args.positionals)?;
        let until = match (args.value(UNTIL), args.value(FOR)) {
            (Some(_), Some(_)) => {
                return Err(ParseError::Conflict {
                    first: UNTIL.long,
                    second: FOR.long,
                    hint: "give an end time with --until, or a length from now with --for",
                });
            }
            (Some(t), None) => Until::At {
                time: parse_time(t)?,
            },
            (None, Some(d)) => Until::For {
                seconds: parse_duration(d)?,
            },
            (None, None) => {
                return Err(ParseError::Missing {
                    command: Self::NAME,
                    what: "until when: `--until 2026-12-27T08:00Z` or `--for 4h`",
                    usage: Self::USAGE,
                });
            }
        };
        let Some(reason) = args.value(REASON) else {
            return Err(ParseError::Missing {
                command: Self::NAME,
                what: "why, for the people it stops: `--reason \"CHG-77 year-end freeze\"`",
                usage: Self::USAGE,
            });
        };
        Ok(Freeze {
            env,
            until,
            reason: parse_reason(reason)?,
        })
    }
}

impl Unfreeze {
    pub const NAME: &'static str = "unfreeze";
    pub const USAGE: &'static str = "unfreeze <env>";
    pub const SUMMARY: &'static str = "lift the freezes set from chat on an environment";
    pub(crate) const FLAGS: &'static [Flag] = &[];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        Ok(Unfreeze {
            env: one_env(Self::NAME, Self::USAGE, &args.positionals)?,
        })
    }
}

fn one_env(
    command: &'static str,
    usage: &'static str,
    positionals: &[String],
) -> Result<EnvName, ParseError> {
    match positionals {
        [] => Err(ParseError::Missing {
            command,
            what: "an environment, e.g. `prod`",
            usage,
        }),
        [env] => Ok(EnvName::parse(env)?),
        [_, extra, ..] => Err(ParseError::Unexpected {
            command,
            arg: extra.clone(),
            usage,
        }),
    }
}

/// RFC 3339 with a zone (`Z` or an offset); seconds may be left out (`2026-12-27T08:00Z`).
fn parse_time(typed: &str) -> Result<DateTime<Utc>, ParseError> {
    let with_seconds = match typed.get(16..17) {
        Some("Z" | "z" | "+" | "-") => format!("{}:00{}", &typed[..16], &typed[16..]),
        _ => typed.to_string(),
    };
    DateTime::parse_from_rfc3339(&with_seconds)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ParseError::InvalidValue {
            flag: "--until",
            reason: format!(
                "`{typed}` is not a time with its zone; write it like `2026-12-27T08:00Z` (UTC) or `2026-12-27T09:00+01:00`"
            ),
        })
}

fn parse_duration(typed: &str) -> Result<u64, ParseError> {
    args::duration(
        "--for",
        typed,
        LONGEST,
        "longer than a year; a standing freeze belongs in the configuration ([[environments.ENV.freezes]])",
        "like `4h` or `2d`",
    )
}

fn parse_reason(typed: &str) -> Result<String, ParseError> {
    let text = typed.split_whitespace().collect::<Vec<_>>().join(" ");
    let len = text.chars().count();
    if !(REASON_MIN..=REASON_MAX).contains(&len) {
        return Err(ParseError::InvalidValue {
            flag: "--reason",
            reason: format!(
                "between {REASON_MIN} and {REASON_MAX} characters ({len} given): a change ticket or a sentence, in quotes"
            ),
        });
    }
    Ok(text)
}

impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Until::At { time } => write!(
                f,
                "--until {}",
                time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            Until::For { seconds } => write!(
                f,
                "--for {}",
                quote(&humantime::format_duration(Duration::from_secs(*seconds)).to_string())
            ),
        }
    }
}

impl fmt::Display for Freeze {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} --reason {}",
            Self::NAME,
            self.env,
            self.until,
            quote(&self.reason)
        )
    }
}

impl fmt::Display for Unfreeze {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", Self::NAME, self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, parse};

    #[test]
    fn freezes_parse_and_print_back() {
        let Ok(Command::Freeze(f)) = parse("freeze prod --until 2026-12-27T08:00Z --reason CHG-77")
        else {
            panic!("not a freeze");
        };
        assert_eq!(f.env.as_str(), "prod");
        assert_eq!(
            f.until,
            Until::At {
                time: "2026-12-27T08:00:00Z".parse().unwrap()
            }
        );
        assert_eq!(
            f.to_string(),
            "freeze prod --until 2026-12-27T08:00:00Z --reason CHG-77"
        );
        let offset = parse("freeze prod --until 2026-12-27T09:00+01:00 --reason CHG-77").unwrap();
        assert_eq!(offset, Command::Freeze(f));
        let f = parse("freeze prod --for 90m --reason \"year end\"").unwrap();
        assert_eq!(
            f.to_string(),
            "freeze prod --for \"1h 30m\" --reason \"year end\""
        );
        assert_eq!(parse(&f.to_string()).unwrap(), f);
        assert_eq!(parse("unfreeze prod").unwrap().to_string(), "unfreeze prod");
    }

    #[test]
    fn freezes_refuse_what_would_surprise() {
        let refused = |text: &str, needle: &str| {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        };
        refused("freeze prod --reason CHG-77", "--until 2026-12-27T08:00Z");
        refused("freeze prod --for 2h", "--reason");
        refused(
            "freeze prod --until 2026-12-27T08:00 --reason CHG-77",
            "with its zone",
        );
        refused(
            "freeze prod --for 2h --until 2026-12-27T08:00Z --reason x12",
            "--for",
        );
        refused("freeze prod --for 2y --reason CHG-77", "longer than a year");
        refused("freeze prod --for 10s --reason CHG-77", "a minute or more");
        refused("freeze prod --for 2h --reason x", "between 3 and 500");
        refused("freeze --for 2h --reason CHG-77", "an environment");
        refused("unfreeze prod staging", "staging");
        refused("freeze Prod! --for 2h --reason CHG-77", "Prod!");
    }
}
