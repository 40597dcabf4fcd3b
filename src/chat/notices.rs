//! The outbox's Slack side: announcements (break-glass, interrupted commands) worded for a
//! channel, with what a user typed escaped, and delivered through the Web API.

use futures::future::BoxFuture;

use super::commands::escape;
use super::web::{PostError, SlackWeb};
use crate::outbox::{Deliver, Delivered, DeliveryError, Item, Kind, Notice};

/// A notice as a Slack message (mrkdwn). Everything that came from a person is escaped, so a
/// command or a break-glass text cannot become a mention or a link.
pub fn mrkdwn(notice: &Notice) -> String {
    match notice {
        Notice::BreakGlass {
            actor,
            env,
            command,
            text,
            correlation,
        } => format!(
            ":rotating_light: BREAK-GLASS by <@{actor}> in {env}: `{}` — \"{}\" (audit id {correlation}). Follow up: attach the incident or ticket.",
            escape(command),
            escape(text)
        ),
        Notice::Interrupted {
            actor,
            command,
            found,
            correlation,
        } => format!(
            ":warning: pitcrew lost track of `{}` by <@{actor}>: the replica following it stopped, so its message above stopped too. Recorded as interrupted; found now: {}. Check with `status` (audit id {correlation}).",
            escape(command),
            escape(found)
        ),
        Notice::Expired {
            actor,
            command,
            request,
            correlation,
            ..
        } => format!(
            ":hourglass: `{}` by <@{actor}> expired before it was confirmed or approved (request {request}); nothing was done. Run it again if it is still needed (audit id {correlation}).",
            escape(command)
        ),
        Notice::GitopsResumed {
            actor,
            env,
            object,
            summary,
            correlation,
        } => format!(
            ":arrows_counterclockwise: The suspension of {} in {env} by <@{actor}> reached its deadline: {} (audit id {correlation}).",
            escape(object),
            escape(summary)
        ),
        Notice::Freeze {
            actor,
            env,
            summary,
            correlation,
        } => format!(
            ":snowflake: {env} {} — by <@{actor}> (audit id {correlation}).",
            escape(summary)
        ),
        Notice::ReviewReminder {
            actor,
            env,
            command,
            waited,
            correlation,
        } => format!(
            ":mag: The BREAK-GLASS `{}` by <@{actor}> in {env} has waited {waited} for its after-the-fact review: `pitcrew audit review {correlation} --as REVIEWER --note \"…\"`.",
            escape(command)
        ),
        Notice::Outcome { .. } => escape(&notice.plain_text()),
        // Queued as text by pitcrew itself (rows from before notices were typed).
        Notice::Text { text } => text.clone(),
    }
}

impl Deliver for SlackWeb {
    fn delivers(&self, kind: Kind) -> bool {
        kind == Kind::SlackAnnounce
    }

    /// Announcements are at-least-once: finding an earlier one would need the channel's
    /// history (another scope) for a message whose repetition harms nobody.
    fn deliver<'a>(
        &'a self,
        kind: Kind,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            if kind != Kind::SlackAnnounce {
                return Err(DeliveryError::NoClient(kind.as_str().into()));
            }
            let notice = item.notice();
            let text = mrkdwn(&notice);
            let failed = |e: PostError| match e {
                PostError::RateLimited { .. } => DeliveryError::RateLimited,
                other => DeliveryError::Failed(other.to_string()),
            };
            // An expired request's own message says so, without its buttons (blocks replaced:
            // `chat.update` keeps the old blocks unless given new ones). If that message is
            // gone, the channel is told with a new one.
            if let Notice::Expired {
                message: Some(m), ..
            } = &notice
            {
                let blocks = serde_json::json!([
                    {"type": "section", "text": {"type": "mrkdwn", "text": text}}
                ]);
                match self.update(&m.channel, &m.ts, &text, Some(&blocks)).await {
                    Ok(()) => return Ok(Delivered::Posted),
                    Err(PostError::Refused(why)) => {
                        tracing::info!(error = %why, "the expired request's message cannot be changed; posting instead");
                    }
                    Err(e) => return Err(failed(e)),
                }
            }
            self.post(&item.target, &text)
                .await
                .map(|()| Delivered::Posted)
                .map_err(failed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_cannot_become_a_mention_in_an_announcement() {
        let n = Notice::BreakGlass {
            actor: "U01ALICE".into(),
            env: "prod".into(),
            command: "restart deploy/a -e prod --break-glass \"<!channel> x\"".into(),
            text: "<!channel> x".into(),
            correlation: "c-1".into(),
        };
        let text = mrkdwn(&n);
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("&lt;!channel&gt; x"), "{text}");
        assert!(text.contains("<@U01ALICE>"), "{text}");
    }
}
