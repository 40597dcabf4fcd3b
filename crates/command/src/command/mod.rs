//! The command language: text in, a typed [`Command`] out, or a [`ParseError`] that says what
//! to type instead.
//!
//! Architecture invariant: parsing is pure. No I/O, no clock, no configuration: the same text
//! always gives the same result, which is what makes it testable with hundreds of cases and
//! property tests. Whether an environment or a workload *exists* is decided later (resolve).
//!
//! Each command lives in its own file with its flags, usage, parser and canonical printing
//! (`Display`): printing a command and parsing the text again gives the same command.

mod action;
mod args;
mod audit;
mod can_i;
mod error;
mod freeze;
mod gitops;
mod help;
mod lexer;
mod pause;
mod promote;
mod reason;
mod restart;
mod rollback;
mod scale;
mod status;
mod steps;
mod target;

use std::fmt;

use serde::Serialize;

pub use action::Action;
pub use audit::{Audit, Since};
pub use can_i::CanI;
pub use error::ParseError;
pub use freeze::{Freeze, Unfreeze, Until};
pub use gitops::{Gitops, GitopsOp, LONGEST as GITOPS_LONGEST};
pub use help::Help;
pub use lexer::{MAX_CHARS, Token};
pub use pause::Pause;
pub use promote::{Promote, Subject};
pub use reason::{Justification, Reason};
pub use restart::Restart;
pub use rollback::Rollback;
pub use scale::Scale;
pub use status::{History, Status};
pub use steps::{Step, StepVerb};
pub use target::{Kind, Target};

use crate::names::{EnvName, NamespaceName};
use crate::suggest::suggestion_suffix;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    Restart(Restart),
    Rollback(Rollback),
    Promote(Promote),
    Scale(Scale),
    /// `pause` and `resume` (`Pause::resume`).
    Pause(Pause),
    /// `gitops suspend|resume`.
    Gitops(Gitops),
    /// `advance`, `abort` and `retry` of an Argo Rollout.
    Step(Step),
    Freeze(Freeze),
    Unfreeze(Unfreeze),
    Status(Status),
    History(History),
    CanI(CanI),
    Audit(Audit),
    Help(Help),
}

/// Parses the text of a slash command (with or without a leading `/pitcrew`).
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let tokens = lexer::tokenize(text)?;
    let Some((first, rest)) = tokens.split_first() else {
        return Err(ParseError::Empty);
    };
    // Phones capitalise the first word; command names are not case-sensitive.
    let name = if first.quoted {
        return Err(unknown_command(&first.text));
    } else {
        CommandName::parse(&first.text)?
    };
    Ok(match name {
        CommandName::Restart => Command::Restart(Restart::parse(rest)?),
        CommandName::Rollback => Command::Rollback(Rollback::parse(rest)?),
        CommandName::Promote => Command::Promote(Promote::parse(rest)?),
        CommandName::Scale => Command::Scale(Scale::parse(rest)?),
        CommandName::Pause => Command::Pause(Pause::parse(rest, false)?),
        CommandName::Resume => Command::Pause(Pause::parse(rest, true)?),
        CommandName::Gitops => Command::Gitops(Gitops::parse(rest)?),
        CommandName::Advance => {
            Command::Step(Step::parse(rest, StepVerb::Advance { full: false })?)
        }
        CommandName::Abort => Command::Step(Step::parse(rest, StepVerb::Abort)?),
        CommandName::Retry => Command::Step(Step::parse(rest, StepVerb::Retry)?),
        CommandName::Freeze => Command::Freeze(Freeze::parse(rest)?),
        CommandName::Unfreeze => Command::Unfreeze(Unfreeze::parse(rest)?),
        CommandName::Status => Command::Status(Status::parse(rest)?),
        CommandName::History => Command::History(History::parse(rest)?),
        CommandName::CanI => Command::CanI(CanI::parse(rest)?),
        CommandName::Audit => Command::Audit(Audit::parse(rest)?),
        CommandName::Help => Command::Help(Help::parse(rest)?),
    })
}

impl Command {
    /// The action a changing command performs (restart, rollback, promote); `None` for the
    /// read-only ones.
    pub fn change_action(&self) -> Option<Action> {
        match self {
            Command::Restart(_) => Some(Action::Restart),
            Command::Rollback(_) => Some(Action::Rollback),
            Command::Promote(_) => Some(Action::Promote),
            Command::Scale(_) => Some(Action::Scale),
            Command::Pause(p) if p.resume => Some(Action::Resume),
            Command::Pause(_) => Some(Action::Pause),
            Command::Gitops(_) => Some(Action::Gitops),
            Command::Step(s) => Some(match s.verb {
                StepVerb::Advance { .. } => Action::Advance,
                StepVerb::Abort => Action::Abort,
                StepVerb::Retry => Action::Retry,
            }),
            _ => None,
        }
    }

    /// Whether running it changes a workload (restart, rollback, promote), dry runs included:
    /// those are the commands that need a live message, confirmation and write-back.
    pub fn changes_workloads(&self) -> bool {
        self.change_action().is_some()
    }

    pub fn name(&self) -> CommandName {
        match self {
            Command::Restart(_) => CommandName::Restart,
            Command::Rollback(_) => CommandName::Rollback,
            Command::Promote(_) => CommandName::Promote,
            Command::Scale(_) => CommandName::Scale,
            Command::Pause(p) if p.resume => CommandName::Resume,
            Command::Pause(_) => CommandName::Pause,
            Command::Gitops(_) => CommandName::Gitops,
            Command::Step(s) => match s.verb {
                StepVerb::Advance { .. } => CommandName::Advance,
                StepVerb::Abort => CommandName::Abort,
                StepVerb::Retry => CommandName::Retry,
            },
            Command::Freeze(_) => CommandName::Freeze,
            Command::Unfreeze(_) => CommandName::Unfreeze,
            Command::Status(_) => CommandName::Status,
            Command::History(_) => CommandName::History,
            Command::CanI(_) => CommandName::CanI,
            Command::Audit(_) => CommandName::Audit,
            Command::Help(_) => CommandName::Help,
        }
    }
}

impl fmt::Display for Command {
    /// The canonical text: parsing it gives this command again.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Restart(c) => c.fmt(f),
            Command::Rollback(c) => c.fmt(f),
            Command::Promote(c) => c.fmt(f),
            Command::Scale(c) => c.fmt(f),
            Command::Pause(c) => c.fmt(f),
            Command::Gitops(c) => c.fmt(f),
            Command::Step(c) => c.fmt(f),
            Command::Freeze(c) => c.fmt(f),
            Command::Unfreeze(c) => c.fmt(f),
            Command::Status(c) => c.fmt(f),
            Command::History(c) => c.fmt(f),
            Command::CanI(c) => c.fmt(f),
            Command::Audit(c) => c.fmt(f),
            Command::Help(c) => c.fmt(f),
        }
    }
}

/// The command words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandName {
    Restart,
    Rollback,
    Promote,
    Scale,
    Pause,
    Resume,
    Advance,
    Abort,
    Retry,
    Gitops,
    Freeze,
    Unfreeze,
    Status,
    History,
    CanI,
    Audit,
    Help,
}

impl CommandName {
    pub const ALL: [CommandName; 17] = [
        CommandName::Restart,
        CommandName::Rollback,
        CommandName::Promote,
        CommandName::Scale,
        CommandName::Pause,
        CommandName::Resume,
        CommandName::Advance,
        CommandName::Abort,
        CommandName::Retry,
        CommandName::Gitops,
        CommandName::Freeze,
        CommandName::Unfreeze,
        CommandName::Status,
        CommandName::History,
        CommandName::CanI,
        CommandName::Audit,
        CommandName::Help,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Restart => Restart::NAME,
            CommandName::Rollback => Rollback::NAME,
            CommandName::Promote => Promote::NAME,
            CommandName::Scale => Scale::NAME,
            CommandName::Pause => Pause::PAUSE,
            CommandName::Resume => Pause::RESUME,
            CommandName::Gitops => Gitops::NAME,
            CommandName::Advance => Step::ADVANCE,
            CommandName::Abort => Step::ABORT,
            CommandName::Retry => Step::RETRY,
            CommandName::Freeze => Freeze::NAME,
            CommandName::Unfreeze => Unfreeze::NAME,
            CommandName::Status => Status::NAME,
            CommandName::History => History::NAME,
            CommandName::CanI => CanI::NAME,
            CommandName::Audit => Audit::NAME,
            CommandName::Help => Help::NAME,
        }
    }

    pub fn usage(self) -> &'static str {
        match self {
            CommandName::Restart => Restart::USAGE,
            CommandName::Rollback => Rollback::USAGE,
            CommandName::Promote => Promote::USAGE,
            CommandName::Scale => Scale::USAGE,
            CommandName::Pause => Pause::PAUSE_USAGE,
            CommandName::Resume => Pause::RESUME_USAGE,
            CommandName::Gitops => Gitops::USAGE,
            CommandName::Advance => Step::ADVANCE_USAGE,
            CommandName::Abort => Step::ABORT_USAGE,
            CommandName::Retry => Step::RETRY_USAGE,
            CommandName::Freeze => Freeze::USAGE,
            CommandName::Unfreeze => Unfreeze::USAGE,
            CommandName::Status => Status::USAGE,
            CommandName::History => History::USAGE,
            CommandName::CanI => CanI::USAGE,
            CommandName::Audit => Audit::USAGE,
            CommandName::Help => Help::USAGE,
        }
    }

    /// The flags the command takes (each must appear in its usage line).
    #[cfg(test)]
    fn flags(self) -> &'static [args::Flag] {
        match self {
            CommandName::Restart => Restart::FLAGS,
            CommandName::Rollback => Rollback::FLAGS,
            CommandName::Promote => Promote::FLAGS,
            CommandName::Scale => Scale::FLAGS,
            CommandName::Pause | CommandName::Resume => pause::FLAGS,
            CommandName::Gitops => gitops::FLAGS,
            CommandName::Advance => steps::ADVANCE_FLAGS,
            CommandName::Abort | CommandName::Retry => steps::FLAGS,
            CommandName::Freeze => Freeze::FLAGS,
            CommandName::Unfreeze => Unfreeze::FLAGS,
            CommandName::Status | CommandName::History => status::FLAGS,
            CommandName::CanI => CanI::FLAGS,
            CommandName::Audit => Audit::FLAGS,
            CommandName::Help => &[],
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            CommandName::Restart => Restart::SUMMARY,
            CommandName::Rollback => Rollback::SUMMARY,
            CommandName::Promote => Promote::SUMMARY,
            CommandName::Scale => Scale::SUMMARY,
            CommandName::Pause => Pause::PAUSE_SUMMARY,
            CommandName::Resume => Pause::RESUME_SUMMARY,
            CommandName::Gitops => Gitops::SUMMARY,
            CommandName::Advance => Step::ADVANCE_SUMMARY,
            CommandName::Abort => Step::ABORT_SUMMARY,
            CommandName::Retry => Step::RETRY_SUMMARY,
            CommandName::Freeze => Freeze::SUMMARY,
            CommandName::Unfreeze => Unfreeze::SUMMARY,
            CommandName::Status => Status::SUMMARY,
            CommandName::History => History::SUMMARY,
            CommandName::CanI => CanI::SUMMARY,
            CommandName::Audit => Audit::SUMMARY,
            CommandName::Help => Help::SUMMARY,
        }
    }

    pub fn parse(typed: &str) -> Result<CommandName, ParseError> {
        let lower = typed.to_lowercase();
        CommandName::ALL
            .into_iter()
            .find(|c| c.as_str() == lower)
            .ok_or_else(|| unknown_command(typed))
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one of `all` whose name is `typed` (any case); else a refusal for `flag` that suggests
/// the nearest and lists them all ("`x` is not an outcome; did you mean …; outcomes: …").
pub(crate) fn one_named<T: Copy, const N: usize>(
    typed: &str,
    all: [T; N],
    name: fn(T) -> &'static str,
    flag: &'static str,
    what: &str,
) -> Result<T, ParseError> {
    let lower = typed.to_lowercase();
    let names = all.map(name);
    all.into_iter()
        .find(|t| name(*t) == lower)
        .ok_or_else(|| ParseError::InvalidValue {
            flag,
            reason: format!(
                "`{typed}` is not an {what}{}; {what}s: {}",
                suggestion_suffix(typed, names),
                names.join(", ")
            ),
        })
}

fn unknown_command(typed: &str) -> ParseError {
    let names = CommandName::ALL.map(CommandName::as_str);
    ParseError::UnknownCommand {
        typed: typed.to_string(),
        suggestion: suggestion_suffix(typed, names),
        known: names.join(", "),
    }
}

/// The phases of a command in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Requested,
    Denied,
    Approved,
    Started,
    Succeeded,
    /// Ended with nothing to do and nothing changed (a rollback to the revision that already
    /// runs: kubectl's "skipped rollback").
    Unchanged,
    Failed,
    Interrupted,
    Cancelled,
    /// Stopped to wait for the requester's confirmation or someone's approval; the command
    /// goes on under the same correlation id when the button is pressed.
    Pending,
    /// One person's approval of a waiting request: its actor is the approver (the command's
    /// requester is the actor of its `requested` event), its detail the rule that let them.
    Approval,
    /// The after-the-fact review of a break-glass command: its actor is the reviewer, its
    /// detail their note.
    Reviewed,
}

impl Phase {
    pub const ALL: [Phase; 12] = [
        Phase::Requested,
        Phase::Denied,
        Phase::Approved,
        Phase::Started,
        Phase::Succeeded,
        Phase::Unchanged,
        Phase::Failed,
        Phase::Interrupted,
        Phase::Cancelled,
        Phase::Pending,
        Phase::Approval,
        Phase::Reviewed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Requested => "requested",
            Phase::Denied => "denied",
            Phase::Approved => "approved",
            Phase::Started => "started",
            Phase::Succeeded => "succeeded",
            Phase::Unchanged => "unchanged",
            Phase::Failed => "failed",
            Phase::Interrupted => "interrupted",
            Phase::Cancelled => "cancelled",
            Phase::Pending => "pending",
            Phase::Approval => "approval",
            Phase::Reviewed => "reviewed",
        }
    }

    pub fn parse(typed: &str) -> Result<Phase, ParseError> {
        one_named(typed, Phase::ALL, Phase::as_str, "--outcome", "outcome")
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `-e ENV` and `-n NAMESPACE`; both may be left to defaults that resolution fills in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub env: Option<EnvName>,
    pub namespace: Option<NamespaceName>,
}

impl Scope {
    fn from_args(args: &args::Args) -> Result<Scope, ParseError> {
        Ok(Scope {
            env: args.value(args::ENV).map(EnvName::parse).transpose()?,
            namespace: args
                .value(args::NAMESPACE)
                .map(NamespaceName::parse)
                .transpose()?,
        })
    }
}

impl fmt::Display for Scope {
    /// ` -e ENV -n NS`, each only when set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.env {
            write!(f, " -e {e}")?;
        }
        if let Some(n) = &self.namespace {
            write!(f, " -n {n}")?;
        }
        Ok(())
    }
}

/// The single positional argument of a command.
fn one_positional<'a>(
    command: &'static str,
    usage: &'static str,
    what: &'static str,
    args: &'a args::Args,
) -> Result<&'a str, ParseError> {
    match args.positionals.as_slice() {
        [] => Err(ParseError::Missing {
            command,
            what,
            usage,
        }),
        [one] => Ok(one),
        [_, extra, ..] => Err(ParseError::Unexpected {
            command,
            arg: extra.clone(),
            usage,
        }),
    }
}

fn one_target(
    command: &'static str,
    usage: &'static str,
    args: &args::Args,
) -> Result<Target, ParseError> {
    Target::parse(one_positional(
        command,
        usage,
        "a target, e.g. `deploy/checkout` or just `checkout`",
        args,
    )?)
}

fn justification(args: &args::Args) -> Result<Option<Justification>, ParseError> {
    match (args.value(args::REASON), args.value(args::BREAK_GLASS)) {
        (Some(_), Some(_)) => Err(ParseError::Conflict {
            first: "--reason",
            second: "--break-glass",
            hint: "give the incident or ticket with --reason; use --break-glass only when PagerDuty or Jira cannot be reached",
        }),
        (Some(r), None) => Ok(Some(Justification::Reason(Reason::parse(r)?))),
        (None, Some(text)) => Ok(Some(reason::break_glass(text)?)),
        (None, None) => Ok(None),
    }
}

/// How every changing command's canonical text ends: its justification, then `--dry-run`.
fn fmt_tail(f: &mut fmt::Formatter<'_>, j: &Option<Justification>, dry_run: bool) -> fmt::Result {
    match j {
        None => {}
        Some(Justification::Reason(r)) => write!(f, " --reason {}", args::quote(&r.to_string()))?,
        Some(Justification::BreakGlass { text }) => {
            write!(f, " --break-glass {}", args::quote(text))?
        }
    }
    if dry_run {
        f.write_str(" --dry-run")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `help COMMAND` prints the usage line: a flag the parser accepts but the usage leaves
    /// out (as `--break-glass` once was) is one nobody finds in the middle of an incident.
    #[test]
    fn every_accepted_flag_is_in_its_usage() {
        for name in CommandName::ALL {
            for flag in name.flags() {
                let usage = name.usage();
                let short = flag
                    .short
                    .is_some_and(|s| usage.contains(&format!("[{s} ")));
                assert!(
                    usage.contains(flag.long) || short,
                    "`help {name}` does not list {}: {}",
                    flag.long,
                    name.usage()
                );
            }
        }
    }
}
