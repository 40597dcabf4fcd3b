//! Reminders of break-glass commands nobody reviewed: `serve` brings each one up in the
//! announce channel once it has waited `[audit].review_reminder_after`, through the outbox
//! (its marker makes it once across replicas and restarts).

use super::*;

/// Reminders are queued only within this window after they fall due: delivered outbox items
/// are pruned after 7 days (housekeeping), and a reminder queued again after that would be a
/// second one.
const WINDOW: chrono::Duration = chrono::Duration::days(6);

/// Queues a reminder for each break-glass command unreviewed for `review_reminder_after`;
/// returns how many were due (queued now or earlier).
pub async fn remind_unreviewed(ctx: &Context) -> Result<usize, crate::audit::Error> {
    let (Some(db), Some(outbox), Some(channel)) = (
        ctx.db.as_ref(),
        ctx.outbox(),
        ctx.config.slack.announce_channel.as_ref(),
    ) else {
        return Ok(0);
    };
    let after = chrono::Duration::from_std(ctx.config.audit.review_reminder_after)
        .unwrap_or(chrono::Duration::days(1));
    let now = Utc::now();
    let mut due = 0;
    for u in crate::audit::AuditStore::new(db.clone())
        .unreviewed_break_glass()
        .await?
    {
        let Ok(started) = chrono::DateTime::parse_from_rfc3339(&u.started_at) else {
            continue;
        };
        let waited = now - started.with_timezone(&Utc);
        if waited < after || waited > after + WINDOW {
            continue;
        }
        due += 1;
        let notice = Notice::ReviewReminder {
            actor: u.actor_id.clone(),
            env: u.env.clone().unwrap_or_default(),
            command: u.command_text.clone(),
            waited: humantime::format_duration(std::time::Duration::from_secs(
                (waited.num_minutes().max(0) as u64) * 60,
            ))
            .to_string(),
            correlation: u.correlation.clone(),
        };
        let marker = format!("{}/review-reminder", u.correlation);
        if let Err(e) = outbox
            .enqueue(
                OutboxKind::SlackAnnounce,
                channel.as_str(),
                &marker,
                &notice,
            )
            .await
        {
            tracing::warn!(error = %e, correlation = %u.correlation, "cannot queue the review reminder; retrying next round");
        }
    }
    Ok(due)
}
