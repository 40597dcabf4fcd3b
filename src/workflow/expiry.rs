//! Requests for confirmation or approval that nobody answered in time: closed, so that no
//! command stays `pending` in the trail forever. `serve` sweeps every lease period on every
//! replica; the conditional UPDATE from `pending` lets exactly one replica close (and record)
//! each request. The channel is told through the outbox.

use super::*;

/// A request closed because it expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expired {
    pub request: String,
    pub command_text: String,
    pub correlation: Option<String>,
}

/// Closes every pending request whose time ran out, recording each as `cancelled` (reason
/// `expired`) under its command's correlation id, once across replicas.
pub async fn close_expired(ctx: &Context) -> Result<Vec<Expired>, sqlx::Error> {
    let Some(db) = &ctx.db else {
        return Ok(Vec::new());
    };
    let store = approvals::Approvals::new(db.clone());
    let mut closed = Vec::new();
    for a in store.expired_pending(Utc::now()).await? {
        if close_one(ctx, &store, &a).await? {
            closed.push(Expired {
                request: a.id.clone(),
                command_text: a.command_text.clone(),
                correlation: a.correlation.clone(),
            });
        }
    }
    Ok(closed)
}

/// Closes one expired request: moves it from `pending` (true for the one caller that did),
/// records its command as `cancelled` (reason `expired`) and tells its channel. The sweeper
/// and a click on an expired request's button both end here.
pub(super) async fn close_one(
    ctx: &Context,
    store: &approvals::Approvals,
    a: &approvals::Approval,
) -> Result<bool, sqlx::Error> {
    // Another replica (or click) may be closing it at the same moment: only one moves it.
    if !store.close(&a.id, "expired").await? {
        return Ok(false);
    }
    // Recorded as the requester's command ending; `closed_by` says pitcrew closed it.
    if let Ok(actor) = SlackUserId::parse(&a.requester) {
        let detail = serde_json::json!({
            "reason": "expired", "request": a.id, "expires_at": a.expires_at,
            "closed_by": "pitcrew"
        });
        if let Some(correlation) = super::buttons::record_closed(ctx, a, actor, detail).await {
            tell_channel(ctx, a, &correlation).await;
        }
    }
    Ok(true)
}

/// The channel the request was made in is told, once (the outbox's marker).
async fn tell_channel(ctx: &Context, a: &approvals::Approval, correlation: &str) {
    let (Some(outbox), Some(channel)) = (ctx.outbox(), a.channel.as_deref()) else {
        return;
    };
    let notice = Notice::Expired {
        actor: a.requester.clone(),
        command: a.command_text.clone(),
        request: a.id.clone(),
        correlation: correlation.to_string(),
        message: a.message.clone(),
    };
    let marker = format!("{correlation}/expired");
    if let Err(e) = outbox
        .enqueue(OutboxKind::SlackAnnounce, channel, &marker, &notice)
        .await
    {
        tracing::warn!(request = %a.id, error = %e, "cannot queue the message about an expired request");
    }
}
