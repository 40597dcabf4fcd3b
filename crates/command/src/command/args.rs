//! Flags and positional arguments, shared by every command. Each command declares its flags
//! as a table of [`Flag`]s; this module does the parsing and the refusals.

use std::collections::BTreeMap;

use super::ParseError;
use super::lexer::Token;
use crate::suggest::suggestion_suffix;

/// One flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<&'static str>,
    /// An example value for messages, or `None` for a switch such as `--dry-run`.
    pub example: Option<&'static str>,
}

pub const ENV: Flag = Flag {
    long: "--env",
    short: Some("-e"),
    example: Some("-e prod"),
};
pub const NAMESPACE: Flag = Flag {
    long: "--namespace",
    short: Some("-n"),
    example: Some("-n shop"),
};
pub const REASON: Flag = Flag {
    long: "--reason",
    short: None,
    example: Some("--reason CHG-123"),
};
pub const BREAK_GLASS: Flag = Flag {
    long: "--break-glass",
    short: None,
    example: Some("--break-glass \"PagerDuty is down\""),
};
pub const DRY_RUN: Flag = Flag {
    long: "--dry-run",
    short: None,
    example: None,
};

/// The flags of a change to one workload that takes nothing else (restart, pause, resume,
/// abort, retry): where, why, and whether only to try it.
pub const ONE_WORKLOAD: &[Flag] = &[ENV, NAMESPACE, REASON, BREAK_GLASS, DRY_RUN];

/// A length typed after `flag` (`4h`, `2d`): a minute at least, `longest` at most, in
/// seconds. The refusals say why (`too_long`) and what to type (`like`).
pub fn duration(
    flag: &'static str,
    typed: &str,
    longest: std::time::Duration,
    too_long: &str,
    like: &str,
) -> Result<u64, ParseError> {
    match humantime::parse_duration(typed) {
        Ok(d) if d.as_secs() >= 60 && d <= longest => Ok(d.as_secs()),
        Ok(d) if d > longest => Err(ParseError::InvalidValue {
            flag,
            reason: format!("`{typed}` is {too_long}"),
        }),
        _ => Err(ParseError::InvalidValue {
            flag,
            reason: format!("`{typed}` is not a duration of a minute or more, {like}"),
        }),
    }
}

/// What a command line held, once flags are recognised.
#[derive(Debug, Default)]
pub struct Args {
    pub positionals: Vec<String>,
    /// By the flag's long name; `None` for a switch that was given.
    values: BTreeMap<&'static str, Option<String>>,
}

impl Args {
    pub fn value(&self, flag: Flag) -> Option<&str> {
        self.values.get(flag.long).and_then(|v| v.as_deref())
    }

    pub fn switch(&self, flag: Flag) -> bool {
        self.values.contains_key(flag.long)
    }
}

/// Whether an unquoted token is meant as a flag: `-x`, `--xyz`, but not a lone `-`.
fn looks_like_flag(t: &Token) -> bool {
    !t.quoted && t.text.starts_with('-') && t.text.len() > 1
}

/// Splits `tokens` into positionals and the command's `flags`, refusing unknown, duplicated
/// and value-less flags with messages that show the usage.
pub fn parse(
    command: &'static str,
    usage: &'static str,
    flags: &[Flag],
    tokens: &[Token],
) -> Result<Args, ParseError> {
    let mut args = Args::default();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        i += 1;
        if !looks_like_flag(token) {
            args.positionals.push(token.text.clone());
            continue;
        }
        let (name, inline) = match token.text.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (token.text.as_str(), None),
        };
        let Some(flag) = flags
            .iter()
            .find(|f| f.long == name || f.short == Some(name))
        else {
            let known = flags
                .iter()
                .flat_map(|f| std::iter::once(f.long).chain(f.short));
            return Err(ParseError::UnknownFlag {
                command,
                flag: name.to_string(),
                suggestion: suggestion_suffix(name, known),
                usage,
            });
        };
        if args.values.contains_key(flag.long) {
            return Err(ParseError::DuplicateFlag {
                flag: name.to_string(),
            });
        }
        let value = match (flag.example, inline) {
            (None, None) => None,
            (None, Some(v)) => {
                return Err(ParseError::UnexpectedValue {
                    flag: name.to_string(),
                    value: v,
                });
            }
            (Some(_), Some(v)) if !v.is_empty() => Some(v),
            (Some(example), _) => match tokens.get(i) {
                None => {
                    return Err(ParseError::MissingValue {
                        flag: name.to_string(),
                        example,
                    });
                }
                Some(next) if looks_like_flag(next) => {
                    return Err(ParseError::ValueLooksLikeFlag {
                        flag: name.to_string(),
                        value: next.text.clone(),
                    });
                }
                Some(next) => {
                    i += 1;
                    Some(next.text.clone())
                }
            },
        };
        args.values.insert(flag.long, value);
    }
    Ok(args)
}

/// Quotes a value for the canonical text when it needs it, so that the text parses back to
/// the same value. `<`, `>` and `&` are written as Slack writes them (`&lt;` …), because a raw
/// `<` would be read as Slack markup.
pub fn quote(value: &str) -> String {
    let escaped = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let plain = !escaped.is_empty()
        && !escaped.contains([' ', '"', '\'', '\\'])
        && !escaped.starts_with(|c: char| c == '-' || !c.is_ascii());
    if plain {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
