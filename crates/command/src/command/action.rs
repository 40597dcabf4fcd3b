//! What the policy governs: each changing and read-only command's action, plus `approve`,
//! `break-glass` and `review`. The policy accepts exactly these names.

use std::fmt;

use serde::Serialize;

use super::ParseError;

/// What the policy governs: the actions of commands, plus `approve` and `break-glass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Restart,
    Rollback,
    Promote,
    Scale,
    Pause,
    Resume,
    /// `gitops suspend|resume` of an Argo CD Application or a Flux object.
    Gitops,
    /// An Argo Rollout's steps: `advance`, `abort`, `retry`.
    Advance,
    Abort,
    Retry,
    Freeze,
    Unfreeze,
    Status,
    History,
    Audit,
    Approve,
    BreakGlass,
    /// Reviewing a break-glass command after the fact (`pitcrew audit review`).
    Review,
}

impl Action {
    pub const ALL: [Action; 18] = [
        Action::Restart,
        Action::Rollback,
        Action::Promote,
        Action::Scale,
        Action::Pause,
        Action::Resume,
        Action::Gitops,
        Action::Advance,
        Action::Abort,
        Action::Retry,
        Action::Freeze,
        Action::Unfreeze,
        Action::Status,
        Action::History,
        Action::Audit,
        Action::Approve,
        Action::BreakGlass,
        Action::Review,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Restart => "restart",
            Action::Rollback => "rollback",
            Action::Promote => "promote",
            Action::Scale => "scale",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Gitops => "gitops",
            Action::Advance => "advance",
            Action::Abort => "abort",
            Action::Retry => "retry",
            Action::Freeze => "freeze",
            Action::Unfreeze => "unfreeze",
            Action::Status => "status",
            Action::History => "history",
            Action::Audit => "audit",
            Action::Approve => "approve",
            Action::BreakGlass => "break-glass",
            Action::Review => "review",
        }
    }

    pub fn parse(typed: &str) -> Result<Action, ParseError> {
        super::one_named(typed, Action::ALL, Action::as_str, "action", "action")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
