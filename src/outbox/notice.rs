//! What the outbox delivers, typed: the workflow says *what* happened, and each delivering side
//! words it for its audience (`chat/` for Slack, with mrkdwn escaping; `justify/` for PagerDuty
//! notes and Jira comments, as plain text). Stored as JSON in the `body` column.

use serde::{Deserialize, Serialize};

/// A message a transport showed (a Slack channel and message ts), to change it later: the
/// waiting request's message says it expired, in place of its buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

/// One thing to tell someone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "kebab-case")]
pub enum Notice {
    /// A change's outcome, for the incident or issue that justified it.
    Outcome {
        actor: String,
        /// The command's canonical text.
        command: String,
        /// ` in prod (cluster/namespace)`, or empty when unknown.
        place: String,
        phase: String,
        /// The first line of the outcome's message.
        summary: String,
        correlation: String,
    },
    /// A `--break-glass` change, for the announce channel.
    BreakGlass {
        actor: String,
        env: String,
        command: String,
        text: String,
        correlation: String,
    },
    /// A command reconciliation closed as interrupted, for the channel it came from.
    Interrupted {
        actor: String,
        command: String,
        found: String,
        correlation: String,
    },
    /// A request for confirmation or approval that ran out of time; nothing was done.
    Expired {
        actor: String,
        command: String,
        request: String,
        correlation: String,
        /// The message that showed the request, changed in place when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<MessageRef>,
    },
    /// An environment frozen or unfrozen from chat, for the environment's channels.
    Freeze {
        actor: String,
        env: String,
        /// `frozen until 2026-12-27 09:00 CET (08:00 UTC): CHG-77`, or `unfrozen (…)`.
        summary: String,
        correlation: String,
    },
    /// A break-glass command nobody reviewed after `waited`, for the announce channel.
    ReviewReminder {
        actor: String,
        env: String,
        command: String,
        waited: String,
        correlation: String,
    },
    /// A GitOps suspension pitcrew ended at its deadline (or could not), for the channel it
    /// was asked in.
    GitopsResumed {
        /// Who suspended it.
        actor: String,
        env: String,
        /// `application/checkout in argocd`.
        object: String,
        /// What happened: `resumed …`, or why it could not be.
        summary: String,
        correlation: String,
    },
    /// Text as it is: items stored before notices were typed, and tools that queue text.
    Text { text: String },
}

impl Notice {
    /// The stored form.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored body: a typed notice, or (rows written before notices were typed) plain text.
    pub fn from_body(body: &str) -> Notice {
        serde_json::from_str(body).unwrap_or_else(|_| Notice::Text {
            text: body.to_string(),
        })
    }

    /// The audit correlation id it is about, if any.
    pub fn correlation(&self) -> Option<&str> {
        match self {
            Notice::Outcome { correlation, .. }
            | Notice::BreakGlass { correlation, .. }
            | Notice::Interrupted { correlation, .. }
            | Notice::Expired { correlation, .. }
            | Notice::Freeze { correlation, .. }
            | Notice::ReviewReminder { correlation, .. }
            | Notice::GitopsResumed { correlation, .. } => Some(correlation),
            Notice::Text { .. } => None,
        }
    }

    /// Plain text, without any markup: PagerDuty notes, Jira comments, logs. It always contains
    /// the correlation id, which is how a retry finds an earlier post.
    pub fn plain_text(&self) -> String {
        match self {
            Notice::Outcome {
                actor,
                command,
                place,
                phase,
                summary,
                correlation,
            } => format!(
                "pitcrew: {actor} ran `{command}`{place}: {phase}.\n{summary}\nAudit id {correlation} (pitcrew audit show {correlation})."
            ),
            Notice::BreakGlass {
                actor,
                env,
                command,
                text,
                correlation,
            } => format!(
                "BREAK-GLASS by {actor} in {env}: `{command}` — \"{text}\" (audit id {correlation}). Follow up: attach the incident or ticket."
            ),
            Notice::Interrupted {
                actor,
                command,
                found,
                correlation,
            } => format!(
                "pitcrew lost track of `{command}` by {actor}: the replica following it stopped. Recorded as interrupted; found now: {found}. Check with `status` (audit id {correlation})."
            ),
            Notice::Expired {
                actor,
                command,
                request,
                correlation,
                ..
            } => format!(
                "`{command}` by {actor} expired before it was confirmed or approved (request {request}); nothing was done. Run it again if it is still needed (audit id {correlation})."
            ),
            Notice::Freeze {
                actor,
                env,
                summary,
                correlation,
            } => format!("{env} {summary} — by {actor} (audit id {correlation})."),
            Notice::ReviewReminder {
                actor,
                env,
                command,
                waited,
                correlation,
            } => format!(
                "The BREAK-GLASS `{command}` by {actor} in {env} has waited {waited} for its review: `pitcrew audit review {correlation} --as REVIEWER --note \"…\"`."
            ),
            Notice::GitopsResumed {
                actor,
                env,
                object,
                summary,
                correlation,
            } => format!(
                "The suspension of {object} in {env} by {actor} reached its deadline: {summary} (audit id {correlation})."
            ),
            Notice::Text { text } => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_notice_reads_back_and_old_text_rows_stay_text() {
        let n = Notice::Interrupted {
            actor: "U1".into(),
            command: "restart deploy/a -e prod".into(),
            found: "1/1 ready".into(),
            correlation: "c-1".into(),
        };
        assert_eq!(Notice::from_body(&n.to_body()), n);
        assert_eq!(
            Notice::from_body("pitcrew: U1 ran `x`"),
            Notice::Text {
                text: "pitcrew: U1 ran `x`".into()
            }
        );
        assert!(n.plain_text().contains("c-1"));
    }
}
