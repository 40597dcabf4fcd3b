//! What goes into the pipeline (`Request`) and comes out of it (`Event`s along the way, one
//! `Outcome` at the end, with its exit code).

use super::*;

/// A command as it arrives from any transport, parsed once at the edge: nothing downstream
/// parses text again.
#[derive(Debug, Clone)]
pub struct Request {
    pub actor: SlackUserId,
    pub channel: Option<SlackChannelId>,
    pub command: Command,
    /// The requester already confirmed (a button in Slack, `--yes` in a terminal).
    pub confirmed: bool,
    /// The approval this run carries out (set by `approve` once enough people approved).
    pub approval: Option<approvals::Approval>,
    /// Who, as Slack showed them (name) and where (workspace), for the audit trail.
    pub actor_name: Option<String>,
    pub team: Option<String>,
    /// The message the transport shows this command in (Slack's live message), if any: a
    /// request for confirmation or approval remembers it, so its expiry can be said there.
    pub message: Option<crate::outbox::MessageRef>,
}

impl Request {
    /// `command` from `actor`, not confirmed, outside any channel and workspace.
    pub fn new(actor: SlackUserId, command: Command) -> Request {
        Request {
            actor,
            channel: None,
            command,
            confirmed: false,
            approval: None,
            actor_name: None,
            team: None,
            message: None,
        }
    }

    /// The command's canonical text: what the audit trail, approvals and write-back record
    /// (`command::parse` of it gives the same command back).
    pub fn text(&self) -> String {
        self.command.to_string()
    }
}

/// What the user sees along the way; a transport renders these.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Understood {
        canonical: String,
    },
    Authorized {
        explanation: String,
    },
    Justification {
        verification: Verification,
    },
    Planned {
        change: Change,
    },
    Progress {
        state: RolloutState,
    },
    /// The environment is frozen and a `--break-glass` change goes ahead anyway.
    FreezeOverridden {
        freeze: String,
    },
    /// No approval is needed: the requester is on call at a low enough level.
    ApprovalWaived {
        why: String,
    },
}

/// A stored request waiting for a person: the requester's confirmation, or approvals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub id: String,
    /// `confirm` (the requester) or `approve` (other people holding `approve`).
    pub kind: &'static str,
}

/// How a command ended. Each has the process exit code `pitcrew exec` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Done (read-only answers, dry runs, completed rollouts). Exit 0.
    Done { message: String },
    /// Done, and undoable by another command (a scale: back to the count before), which a
    /// button in Slack offers. Exit 0; recorded like `done`.
    #[serde(rename = "done")]
    Changed {
        message: String,
        #[serde(skip)]
        undo: Box<Command>,
    },
    /// The action ran but failed (rollout failed or timed out, or the API refused it). Exit 1.
    ActionFailed {
        message: String,
        /// The command that undoes the change (a Roll back button in Slack runs it, as the
        /// person who clicks, through every check). Not part of the audit record.
        #[serde(skip)]
        undo: Option<Box<Command>>,
    },
    /// The command could not be understood or does not fit the target. Exit 2.
    BadInput { message: String },
    /// A protected environment's change waits for the requester's confirmation (a button in
    /// Slack, `--yes` in a terminal); nothing was done. Exit 6.
    NeedsConfirmation {
        message: String,
        /// The stored request a button (or `pitcrew approve`) acts on.
        pending: Option<Pending>,
    },
    /// Refused by policy. Exit 3.
    Refused { message: String },
    /// The justification was refused. Exit 4.
    Unjustified { message: String },
    /// Something pitcrew depends on is unavailable; nothing was done. Exit 5.
    Unavailable { message: String },
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done { .. } | Outcome::Changed { .. } => 0,
            Outcome::ActionFailed { .. } => 1,
            Outcome::BadInput { .. } => 2,
            Outcome::Refused { .. } => 3,
            Outcome::Unjustified { .. } => 4,
            Outcome::Unavailable { .. } => 5,
            Outcome::NeedsConfirmation { .. } => 6,
        }
    }

    /// A failure with nothing to undo.
    pub fn failed(message: String) -> Outcome {
        Outcome::ActionFailed {
            message,
            undo: None,
        }
    }

    /// The command that undoes the change (a failed one, or a scale), when there is one.
    pub fn undo(&self) -> Option<&Command> {
        match self {
            Outcome::ActionFailed { undo, .. } => undo.as_deref(),
            Outcome::Changed { undo, .. } => Some(undo),
            _ => None,
        }
    }

    /// Adds a sentence to the message of a change's outcome (done or failed).
    pub fn add_note(&mut self, note: &str) {
        if let Outcome::Done { message }
        | Outcome::Changed { message, .. }
        | Outcome::ActionFailed { message, .. } = self
        {
            message.push_str("; ");
            message.push_str(note);
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Outcome::Done { message }
            | Outcome::Changed { message, .. }
            | Outcome::ActionFailed { message, .. }
            | Outcome::BadInput { message }
            | Outcome::Refused { message }
            | Outcome::Unjustified { message }
            | Outcome::Unavailable { message }
            | Outcome::NeedsConfirmation { message, .. } => message,
        }
    }
}
