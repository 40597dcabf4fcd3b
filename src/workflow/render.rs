//! The one renderer from the workflow's events and outcomes to lines of plain text, used by
//! every transport: Slack (HTTP, Socket Mode, buttons; `chat/` escapes the lines for mrkdwn
//! and composes Block Kit around them) and the terminal (`pitcrew exec`, `pitcrew approve`).

use super::{Event, Outcome, Verification, describe};

/// One line of a command's story.
pub fn event_line(event: &Event) -> String {
    match event {
        Event::Understood { canonical } => format!("» {canonical}"),
        Event::Authorized { explanation } => format!("✓ {explanation}"),
        Event::Justification { verification } => match verification {
            Verification::Verified { summary, .. } => format!("✓ justified: {summary}"),
            Verification::Unverified { reason } => format!("• {reason}"),
            Verification::Refused { message } => format!("✗ {message}"),
            Verification::BreakGlass { text, .. } => format!(
                "‼ BREAK-GLASS: \"{text}\" — no incident or ticket checked; this is announced and audited for follow-up"
            ),
        },
        Event::Planned { change } => format!("→ {}", describe(change)),
        Event::ApprovalWaived { why } => {
            format!("✓ no approval needed: {why} (recorded in the audit trail)")
        }
        Event::FreezeOverridden { freeze } => format!(
            "‼ FREEZE OVERRIDDEN: {freeze}; this break-glass change goes ahead anyway, announced and audited"
        ),
        Event::Progress { state } => format!(
            "… {} ({}/{} updated, {} ready, {} available)",
            state.message, state.updated, state.desired, state.ready, state.available
        ),
    }
}

/// The last line: how the command ended.
pub fn outcome_line(outcome: &Outcome) -> String {
    let mark = match outcome {
        Outcome::Done { .. } | Outcome::Changed { .. } => "✓",
        Outcome::ActionFailed { .. } => "✗ failed:",
        Outcome::NeedsConfirmation { .. } => "?",
        Outcome::BadInput { .. }
        | Outcome::Refused { .. }
        | Outcome::Unjustified { .. }
        | Outcome::Unavailable { .. } => "✗",
    };
    format!("{mark} {}", outcome.message())
}

/// Whether the channel sees the outcome (answers and changes) or only the person who asked
/// (refusals and mistakes, which are nobody else's business).
pub fn for_the_channel(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Done { .. }
            | Outcome::Changed { .. }
            | Outcome::ActionFailed { .. }
            | Outcome::NeedsConfirmation { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_says_how_it_ended_before_what_happened() {
        let refused = Outcome::Refused {
            message: "no rule grants it".into(),
        };
        assert_eq!(outcome_line(&refused), "✗ no rule grants it");
        assert!(!for_the_channel(&refused));
        let failed = Outcome::failed("the rollout failed".into());
        assert_eq!(outcome_line(&failed), "✗ failed: the rollout failed");
        assert!(for_the_channel(&failed));
        assert_eq!(
            event_line(&Event::Authorized {
                explanation: "allowed by policy.csv:3".into()
            }),
            "✓ allowed by policy.csv:3"
        );
    }
}
