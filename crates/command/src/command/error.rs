//! Why command text was refused. Every message says what to type instead: these reach an
//! engineer in the middle of an incident, usually on a phone.

use crate::names::InvalidName;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the command is empty; try `help`")]
    Empty,

    #[error("the text is too long ({len} characters, at most {max}); shorten it")]
    TooLong { len: usize, max: usize },

    #[error(
        "the text contains an invisible or control character ({name}, U+{code:04X}) at position {position}; retype the command instead of pasting it"
    )]
    HiddenCharacter {
        name: &'static str,
        code: u32,
        position: usize,
    },

    #[error("`{markup}` cannot be used in a command{hint}")]
    Markup { markup: String, hint: String },

    #[error("a quote opened at position {position} is never closed; close it with `\"`")]
    UnterminatedQuote { position: usize },

    #[error("unknown command `{typed}`{suggestion}; commands: {known}")]
    UnknownCommand {
        typed: String,
        suggestion: String,
        known: String,
    },

    #[error("`{command}` has no flag `{flag}`{suggestion}; usage: {usage}")]
    UnknownFlag {
        command: &'static str,
        flag: String,
        suggestion: String,
        usage: &'static str,
    },

    #[error("`{flag}` needs a value, e.g. `{example}`")]
    MissingValue { flag: String, example: &'static str },

    #[error(
        "`{flag}` needs a value, but `{value}` looks like a flag; write the value right after `{flag}`"
    )]
    ValueLooksLikeFlag { flag: String, value: String },

    #[error("`{flag}` takes no value; remove `={value}`")]
    UnexpectedValue { flag: String, value: String },

    #[error("`{flag}` is given twice; keep one")]
    DuplicateFlag { flag: String },

    #[error("`{command}` needs {what}; usage: {usage}")]
    Missing {
        command: &'static str,
        what: &'static str,
        usage: &'static str,
    },

    #[error("unexpected `{arg}` after the {command} command; usage: {usage}")]
    Unexpected {
        command: &'static str,
        arg: String,
        usage: &'static str,
    },

    #[error("{0}{hint}", hint = lowercase_hint(&.0.value))]
    InvalidName(InvalidName),

    #[error(
        "`{typed}` is not a workload kind; use deployment (deploy), statefulset (sts) or daemonset (ds), e.g. `deploy/checkout` (`gitops` takes application (app), kustomization (ks) or helmrelease (hr))"
    )]
    UnknownKind { typed: String },

    #[error(
        "`{typed}` is not a PagerDuty incident or a Jira issue; give an incident link or id (e.g. `Q1ABCDEF2GHIJK`), or an issue key or link (e.g. `CHG-123`)"
    )]
    InvalidReason { typed: String },

    #[error("`{flag}`: {reason}")]
    InvalidValue { flag: &'static str, reason: String },

    #[error("`{first}` and `{second}` cannot be used together; {hint}")]
    Conflict {
        first: &'static str,
        second: &'static str,
        hint: &'static str,
    },
}

/// Phones capitalise the first letter of a word; say so when that is the only problem.
fn lowercase_hint(value: &str) -> String {
    let lower = value.to_lowercase();
    if lower != value && crate::names::WorkloadName::parse(&lower).is_ok() {
        format!("; names are lower-case: did you mean `{lower}`?")
    } else {
        String::new()
    }
}

impl From<InvalidName> for ParseError {
    fn from(e: InvalidName) -> Self {
        ParseError::InvalidName(e)
    }
}

impl ParseError {
    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::TooLong { .. } => "too_long",
            ParseError::HiddenCharacter { .. } => "hidden_character",
            ParseError::Markup { .. } => "markup",
            ParseError::UnterminatedQuote { .. } => "unterminated_quote",
            ParseError::UnknownCommand { .. } => "unknown_command",
            ParseError::UnknownFlag { .. } => "unknown_flag",
            ParseError::MissingValue { .. } => "missing_value",
            ParseError::ValueLooksLikeFlag { .. } => "value_looks_like_flag",
            ParseError::UnexpectedValue { .. } => "unexpected_value",
            ParseError::DuplicateFlag { .. } => "duplicate_flag",
            ParseError::Missing { .. } => "missing",
            ParseError::Unexpected { .. } => "unexpected",
            ParseError::InvalidName(_) => "invalid_name",
            ParseError::UnknownKind { .. } => "unknown_kind",
            ParseError::InvalidReason { .. } => "invalid_reason",
            ParseError::InvalidValue { .. } => "invalid_value",
            ParseError::Conflict { .. } => "conflict",
        }
    }
}
