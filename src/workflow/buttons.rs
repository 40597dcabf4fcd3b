//! What a button (or `pitcrew approve`) does to a stored request: Approve, Confirm, Cancel.

use super::*;

/// `approve ID` by `user`: checks that the request is open, unexpired, someone else's, and that
/// `user` holds `approve` for its target; records the approval; once enough people approved,
/// uses the approval (once) and runs the command as its requester, through every check again.
pub async fn approve(
    ctx: &Context,
    id: &str,
    user: &SlackUserId,
    team: Option<&str>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Outcome {
    let (store, approval) = match stored_request(ctx, id, "request for approval", team).await {
        Ok(found) => found,
        Err(o) => return o,
    };
    if approval.state != "pending" {
        return Outcome::BadInput {
            message: format!(
                "request {id} is already {} (approvals are single-use); ask for a new one by running the command again",
                approval.state
            ),
        };
    }
    if approval.expired(Utc::now()) {
        let _ = super::expiry::close_one(ctx, &store, &approval).await;
        return Outcome::Refused {
            message: format!(
                "request {id} expired at {}; ask for a new one by running the command again",
                approval.expires_at
            ),
        };
    }
    if approval.needed == 0 {
        return Outcome::BadInput {
            message: format!("{id} asks for the requester's confirmation, not for approvals"),
        };
    }
    if approval.requester == user.as_str() {
        return Outcome::Refused {
            message: "you cannot approve your own request: someone else holding `approve` must"
                .into(),
        };
    }
    if approval.approvers.iter().any(|a| a == user.as_str()) {
        return Outcome::BadInput {
            message: format!(
                "you have already approved {id}; it needs {} more approval(s) from other people",
                (approval.needed - approval.approvers.len() as i64).max(0)
            ),
        };
    }
    // The approver needs `approve` on what the command changes.
    let decision = match approver_decision(ctx, &approval, user) {
        Ok(d) => d,
        Err(o) => return o,
    };
    if !decision.allowed {
        return Outcome::Refused {
            message: format!("you may not approve {id}: {}", decision.explanation),
        };
    }
    // And the environment's approver rules (roles or Slack groups, on call now).
    let env_rule = match approver_rules(ctx, &approval, user).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    let updated = match store.add_approver(&approval, user.as_str()).await {
        Ok(Some(a)) if a.approvers.len() > approval.approvers.len() => {
            // Each approval is its own event, naming the approver and the rule that let them;
            // an approval the trail cannot hold is taken back.
            let detail = serde_json::json!({
                "request": id,
                "approver": user.as_str(),
                "requester": approval.requester,
                "rule": decision.rule,
                "explanation": decision.explanation,
                "approver_rule": env_rule,
                "approvals": a.approvers.len(),
                "needed": a.needed,
            });
            if let Err(e) = record_on_request(ctx, &a, Phase::Approval, user.clone(), detail).await
            {
                let _ = store.remove_approver(&a, user.as_str()).await;
                return Outcome::Unavailable {
                    message: format!(
                        "cannot record your approval in the audit trail ({e}); it was not counted, try again in a minute"
                    ),
                };
            }
            a
        }
        Ok(Some(a)) => a,
        Ok(None) => {
            return Outcome::BadInput {
                message: format!(
                    "request {id} changed while you approved it (another approval, or it was used); look at it again"
                ),
            };
        }
        Err(e) => {
            return Outcome::Unavailable {
                message: format!("cannot record your approval ({e}); nothing was done"),
            };
        }
    };
    let have = updated.approvers.len() as i64;
    if have < updated.needed {
        return Outcome::Done {
            message: format!(
                "approved {id} ({have} of {}); waiting for {} more",
                updated.needed,
                updated.needed - have
            ),
        };
    }
    // Exactly one approver's click runs it.
    match store.close(id, "used").await {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::BadInput {
                message: format!("request {id} was already used; nothing more was done"),
            };
        }
        Err(e) => {
            return Outcome::Unavailable {
                message: format!("cannot use the approval ({e}); nothing was done"),
            };
        }
    }
    let (Ok(requester), channel) = (
        SlackUserId::parse(&updated.requester),
        updated
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
    ) else {
        return Outcome::BadInput {
            message: format!("request {id} names an invalid requester"),
        };
    };
    let command = match stored_command(&updated) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let request = Request {
        actor: requester,
        channel,
        command,
        confirmed: true,
        team: updated.team.clone(),
        // The click answers in the request's own message.
        message: updated.message.clone(),
        approval: Some(updated),
        actor_name: None,
    };
    run(ctx, &request, report).await
}

/// The Confirm button: only the requester confirms, once, before it expires; the command then
/// runs (and may still need approvals).
pub async fn confirm(
    ctx: &Context,
    id: &str,
    user: &SlackUserId,
    team: Option<&str>,
    report: &(dyn Fn(Event) + Send + Sync),
) -> Outcome {
    let (store, a) = match stored_request(ctx, id, "confirmation", team).await {
        Ok((store, a)) if a.needed == 0 => (store, a),
        Ok(_) => {
            return Outcome::BadInput {
                message: format!("there is no confirmation `{id}`"),
            };
        }
        Err(o) => return o,
    };
    if a.requester != user.as_str() {
        return Outcome::Refused {
            message: format!(
                "only <@{}>, who asked for it, can confirm this",
                a.requester
            ),
        };
    }
    if a.expired(Utc::now()) {
        let _ = super::expiry::close_one(ctx, &store, &a).await;
        return Outcome::Refused {
            message: "this confirmation expired; run the command again".into(),
        };
    }
    match store.close(id, "used").await {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::BadInput {
                message: format!("{id} was already {}; nothing more was done", a.state),
            };
        }
        Err(e) => {
            return Outcome::Unavailable {
                message: format!("cannot use the confirmation ({e}); nothing was done"),
            };
        }
    }
    let command = match stored_command(&a) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let request = Request {
        actor: user.clone(),
        channel: a
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
        command,
        confirmed: true,
        // The confirmation travels with the run: it applies only to the change it was shown.
        approval: Some(a.clone()),
        actor_name: None,
        team: a.team.clone(),
        // The click replaces the request's message: an approval asked for next is shown there.
        message: a.message.clone(),
    };
    run(ctx, &request, report).await
}

/// The Cancel button: the requester, or anyone who may approve it, ends a pending request.
pub async fn cancel(ctx: &Context, id: &str, user: &SlackUserId, team: Option<&str>) -> Outcome {
    let (store, a) = match stored_request(ctx, id, "request", team).await {
        Ok(found) => found,
        Err(o) => return o,
    };
    let may = a.requester == user.as_str()
        || (a.needed > 0 && approver_decision(ctx, &a, user).is_ok_and(|d| d.allowed));
    if !may {
        return Outcome::Refused {
            message: "only the requester or someone who may approve it can cancel this".into(),
        };
    }
    match store.close(id, "cancelled").await {
        Ok(true) => {
            // Ends the waiting command's story in the trail (its earlier events, under the
            // same correlation id, hold the target and the checks).
            let detail = serde_json::json!({"cancelled_by": user.as_str(), "request": id});
            record_closed(ctx, &a, user.clone(), detail).await;
            Outcome::Done {
                message: format!("cancelled `{}`; nothing was done", a.command_text),
            }
        }
        Ok(false) => Outcome::BadInput {
            message: format!("{id} was already {}", a.state),
        },
        Err(e) => Outcome::Unavailable {
            message: format!("cannot cancel ({e})"),
        },
    }
}

/// The stored request `id` (a confirmation or a request for approval, named `what` in
/// messages) and its store, or the outcome that says why it cannot be had.
/// The stored request `id`, for a click or `pitcrew approve`. A click from another Slack
/// workspace than the request's is refused: the allow-list admits the clicker's workspace, not
/// its right to act on another's requests. (`team` is `None` from a terminal, whose user is
/// checked by the policy alone.)
pub(super) async fn stored_request(
    ctx: &Context,
    id: &str,
    what: &str,
    team: Option<&str>,
) -> Result<(approvals::Approvals, approvals::Approval), Outcome> {
    let Some(db) = &ctx.db else {
        return Err(Outcome::Unavailable {
            message: format!("a {what} needs the database; nothing was done"),
        });
    };
    let store = approvals::Approvals::new(db.clone());
    match store.get(id).await {
        Ok(Some(a)) if a.team.is_some() && team.is_some() && a.team.as_deref() != team => {
            Err(Outcome::Refused {
                message: format!(
                    "{id} was asked for in another Slack workspace; only people there can act on it. Nothing was done"
                ),
            })
        }
        Ok(Some(a)) => Ok((store, a)),
        Ok(None) => Err(Outcome::BadInput {
            message: format!("there is no {what} `{id}`; check the id"),
        }),
        Err(e) => Err(Outcome::Unavailable {
            message: format!("cannot read the {what} ({e}); nothing was done"),
        }),
    }
}

/// The stored request's command, read back from its canonical text (the one place a stored
/// request's text is parsed; `parse(cmd.to_string()) == cmd` holds for every command).
fn stored_command(a: &approvals::Approval) -> Result<Command, Outcome> {
    command::parse(&a.command_text).map_err(|e| Outcome::BadInput {
        message: format!(
            "request {} holds a command this pitcrew cannot read ({e}); run the command again",
            a.id
        ),
    })
}

pub(super) fn approver_decision(
    ctx: &Context,
    a: &approvals::Approval,
    user: &SlackUserId,
) -> Result<Decision, Outcome> {
    let bad = |message: String| Outcome::BadInput { message };
    let (target, namespace) = match stored_command(a)? {
        Command::Restart(r) => (r.target, r.scope.namespace),
        Command::Rollback(r) => (r.target, r.scope.namespace),
        Command::Promote(p) => (p.target(), None),
        Command::Pause(p) => (p.target, p.scope.namespace),
        Command::Scale(s) => (s.target, s.scope.namespace),
        _ => return Err(bad(format!("request {} is not for a change", a.id))),
    };
    let env = crate::names::EnvName::parse(&a.env).map_err(|e| bad(e.to_string()))?;
    let place = resolve::place_or_first(&ctx.config, &env, namespace.as_ref())
        .map_err(|e| bad(e.to_string()))?;
    let request = AccessRequest {
        actor: user.clone(),
        channel: a
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
        action: Action::Approve,
        env: place.env.clone(),
        cluster: place.cluster.clone(),
        namespace: Some(place.namespace.clone()),
        target: Some(target),
    };
    Ok(ctx.authorizer.decide(&request, place.environment))
}

/// The environment's approver rules for `user` on the stored request `a`.
async fn approver_rules(
    ctx: &Context,
    a: &approvals::Approval,
    user: &SlackUserId,
) -> Result<super::approvers::ApproverRule, Outcome> {
    let env = crate::names::EnvName::parse(&a.env).map_err(|e| Outcome::BadInput {
        message: e.to_string(),
    })?;
    let Some(environment) = ctx.config.environments.get(&env) else {
        return Err(Outcome::BadInput {
            message: format!(
                "request {} is for environment `{env}`, which this configuration no longer has; nothing was done",
                a.id
            ),
        });
    };
    super::approvers::approver_counts(ctx, &env, environment, user).await
}

/// Ends a stored request's command in the trail as `cancelled` (its earlier events, under the
/// same correlation id, hold the target and the checks), by `actor`, with `detail` saying why.
/// Returns the correlation id it was recorded under (none for rows from before it existed).
pub(super) async fn record_closed(
    ctx: &Context,
    a: &approvals::Approval,
    actor: SlackUserId,
    detail: serde_json::Value,
) -> Option<String> {
    let correlation = a.correlation.clone()?;
    if let Err(e) = record_on_request(ctx, a, Phase::Cancelled, actor, detail).await {
        tracing::error!(error = %e, %correlation, request = %a.id, "could not record the request's end in the audit trail");
    }
    Some(correlation)
}

/// Records an event in a stored request's command (same correlation id, command text and
/// environment), by `actor`. Rows from before correlation ids existed have no command to
/// record into: nothing is written for them.
async fn record_on_request(
    ctx: &Context,
    a: &approvals::Approval,
    phase: Phase,
    actor: SlackUserId,
    detail: serde_json::Value,
) -> Result<(), crate::audit::Error> {
    let Some(correlation) = a.correlation.clone() else {
        return Ok(());
    };
    let action = stored_command(a).ok().and_then(|c| c.change_action());
    let event = AuditEvent {
        correlation,
        phase,
        actor,
        actor_name: None,
        team: a.team.clone(),
        channel: a
            .channel
            .as_deref()
            .and_then(|c| SlackChannelId::parse(c).ok()),
        text: a.command_text.clone(),
        action,
        env: crate::names::EnvName::parse(&a.env).ok(),
        cluster: None,
        namespace: None,
        target: None,
        reason: None,
        detail,
    };
    ctx.audit.record(&event).await?;
    if let Some(action) = action {
        ctx.count_phase(action, phase);
    }
    Ok(())
}
