//! The deadline of a GitOps suspension: `serve` resumes every suspension whose time is up,
//! every lease period, on every replica. Each is claimed first by a conditional UPDATE, so
//! exactly one replica resumes it; a replica that dies holding a claim loses it after
//! `CLAIM`, and another one finishes the job (resuming twice is harmless: the second finds
//! the object reconciling and only marks the row). Recorded in the trail as pitcrew's own
//! command (actor `pitcrew`), linked to the suspension's command, and told to the channel the
//! suspension was asked in (or the announce channel) through the outbox, once.

use super::*;
use crate::gitops::{Suspension, Suspensions};

/// How long a replica holds a suspension it is resuming before another may try.
const CLAIM: chrono::Duration = chrono::Duration::minutes(2);

/// The actor of what pitcrew does on its own, in the trail.
const PITCREW: &str = "pitcrew";

/// Resumes every suspension whose deadline passed; returns how many this replica resumed.
pub async fn resume_due(ctx: &Context) -> Result<usize, sqlx::Error> {
    let Some(db) = &ctx.db else {
        return Ok(0);
    };
    let store = Suspensions::new(db.clone());
    let now = Utc::now();
    let mut resumed = 0;
    for s in store.due(now).await? {
        if !store.claim(&s.id, now, now + CLAIM).await? {
            continue;
        }
        if resume_one(ctx, &store, &s).await {
            resumed += 1;
        }
    }
    Ok(resumed)
}

/// Resumes one claimed suspension; true when it ended (resumed, or its object is gone).
async fn resume_one(ctx: &Context, store: &Suspensions, s: &Suspension) -> bool {
    let correlation = uuid::Uuid::now_v7().to_string();
    let event = |phase: Phase, detail: serde_json::Value| crate::audit::NewEvent {
        correlation: correlation.clone(),
        phase: phase.to_string(),
        actor_id: PITCREW.into(),
        actor_name: Some("pitcrew (deadline)".into()),
        team: None,
        channel: s.channel.clone(),
        command_text: format!(
            "gitops resume {}/{} -e {} -n {}",
            s.kind, s.name, s.env, s.namespace
        ),
        action: Some(Action::Gitops.to_string()),
        env: Some(s.env.clone()),
        cluster: Some(s.cluster.clone()),
        namespace: Some(s.namespace.clone()),
        kind: Some(s.kind.to_string()),
        name: Some(s.name.clone()),
        reason: Some("deadline".into()),
        detail,
    };
    let why = serde_json::json!({
        "deadline": s.until,
        "suspension": s.id,
        "suspended_by": s.suspended_by,
        "suspend_correlation": s.correlation,
    });
    // Audit before acting: without a `started`, nothing is touched (retried after CLAIM).
    if let Err(e) = ctx
        .audit
        .record_raw(event(Phase::Started, why.clone()))
        .await
    {
        tracing::warn!(suspension = %s.id, error = %e, "cannot record the resume of a GitOps suspension; retrying");
        return false;
    }
    let Ok(cluster) = crate::names::ClusterName::parse(&s.cluster) else {
        return false;
    };
    let at = cluster::Location {
        cluster,
        namespace: s.namespace.clone(),
        kind: s.kind,
        name: s.name.clone(),
        as_user: None,
        cause: None,
    };
    let result = ctx.clusters.gitops_resume(&at, &s.restore, false).await;
    let (phase, summary, ended) = match &result {
        Ok(change) => (
            if change.unchanged {
                Phase::Unchanged
            } else {
                Phase::Succeeded
            },
            describe(change),
            true,
        ),
        // Deleted meanwhile: there is nothing left to resume.
        Err(e @ cluster::Error::NotFound { .. }) => (Phase::Failed, e.to_string(), true),
        Err(e) => (
            Phase::Failed,
            format!("{e}; pitcrew tries again in a few minutes"),
            false,
        ),
    };
    let mut detail = why;
    if let Some(d) = detail.as_object_mut() {
        d.insert("outcome".into(), serde_json::json!(summary));
        if let Ok(change) = &result {
            d.insert("change".into(), serde_json::json!(change));
        }
    }
    if let Err(e) = ctx.audit.record_raw(event(phase, detail)).await {
        tracing::warn!(suspension = %s.id, error = %e, "cannot record how the resume of a GitOps suspension ended");
    }
    if ended
        && let Err(e) = store
            .resumed(&s.id, PITCREW, &correlation, Utc::now())
            .await
    {
        tracing::warn!(suspension = %s.id, error = %e, "cannot mark a GitOps suspension resumed; the next sweep finds it reconciling");
    }
    tell(ctx, s, &summary, &correlation, ended).await;
    ended
}

/// Tells the channel the suspension was asked in (else the announce channel), once per
/// attempt that ended, and once for the first failure of an attempt that will be retried.
async fn tell(ctx: &Context, s: &Suspension, summary: &str, correlation: &str, ended: bool) {
    let channel = s.channel.as_deref().or(ctx
        .config
        .slack
        .announce_channel
        .as_ref()
        .map(|c| c.as_str()));
    let (Some(outbox), Some(channel)) = (ctx.outbox(), channel) else {
        return;
    };
    let notice = Notice::GitopsResumed {
        actor: s.suspended_by.clone(),
        env: s.env.clone(),
        object: format!("{}/{} in {}", s.kind, s.name, s.namespace),
        summary: summary.to_string(),
        correlation: correlation.to_string(),
    };
    // One message for the resume, and at most one about it failing, per suspension.
    let marker = if ended {
        format!("{}/gitops-resumed", s.correlation)
    } else {
        format!("{}/gitops-resume-failed", s.correlation)
    };
    if let Err(e) = outbox
        .enqueue(OutboxKind::SlackAnnounce, channel, &marker, &notice)
        .await
    {
        tracing::warn!(suspension = %s.id, error = %e, "cannot queue the message about a GitOps suspension's deadline");
    }
}
