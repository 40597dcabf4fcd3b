//! `pitcrew audit review`: the after-the-fact review of break-glass commands (SOC 2 CC8.1,
//! PCI DSS 10: emergency changes reviewed afterwards). A review is an audit event (`reviewed`)
//! in the command's own story, by someone holding `review` for what it changed, never by the
//! person who ran it, once.

use super::*;

/// Lists the break-glass commands nobody reviewed yet, oldest first, with their age.
pub(super) async fn audit_unreviewed(database: &DatabaseConfig) -> Result<ExitCode> {
    let store = audit_store(database, false).await?;
    let open = store.unreviewed_break_glass().await?;
    if open.is_empty() {
        println!("every break-glass command has been reviewed");
        return Ok(ExitCode::SUCCESS);
    }
    let now = chrono::Utc::now();
    for u in &open {
        let age = chrono::DateTime::parse_from_rfc3339(&u.started_at)
            .map(|t| {
                let secs = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
                // Minutes are enough for an age.
                humantime::format_duration(std::time::Duration::from_secs(secs as u64 / 60 * 60))
                    .to_string()
            })
            .unwrap_or_else(|_| "?".into());
        println!(
            "{}  {age} ago  {}  {}  {}",
            u.correlation,
            crate::audit::render::terminal_safe(&u.actor_id),
            crate::audit::render::terminal_safe(u.env.as_deref().unwrap_or("-")),
            crate::audit::render::terminal_safe(&u.command_text)
        );
    }
    println!(
        "{} break-glass command{} not reviewed: `pitcrew audit review ID --as U… --note \"…\"`",
        open.len(),
        if open.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Records `user`'s review of the break-glass command `id` (a correlation or an event id).
pub(super) async fn audit_review(
    database: &DatabaseConfig,
    config: &Config,
    id: &str,
    user: &str,
    note: &str,
) -> Result<ExitCode> {
    let reviewer =
        crate::names::SlackUserId::parse(user).map_err(|e| Error::Usage(format!("--as: {e}")))?;
    let note = note.split_whitespace().collect::<Vec<_>>().join(" ");
    if note.chars().count() < 3 || note.chars().count() > 2000 {
        return Err(Error::Usage(
            "--note: say what the review found, 3 to 2,000 characters".into(),
        ));
    }
    // Reviews write: the schema is brought up to date like any writer's.
    let store = audit_store(database, true).await?;
    let (correlation, story) = story_of(&store, id).await?;
    let Some(started) = story
        .iter()
        .find(|r| r.phase == "started" && r.reason.as_deref() == Some("break-glass"))
    else {
        return Err(Error::Usage(format!(
            "`{id}` is not a break-glass command that ran; `pitcrew audit review` lists those not reviewed yet"
        )));
    };
    if let Some(done) = story.iter().find(|r| r.phase == "reviewed") {
        println!(
            "{correlation} was already reviewed by {} at {}; nothing was recorded",
            done.actor_id, done.at
        );
        return Ok(ExitCode::from(2));
    }
    if started.actor_id == reviewer.as_str() {
        println!(
            "you ran this break-glass command, so someone else must review it; nothing was recorded"
        );
        return Ok(ExitCode::from(3));
    }
    let target = match (&started.kind, &started.name) {
        (Some(k), Some(n)) => format!("{k}/{n}"),
        _ => "*".to_string(),
    };
    let request = crate::policy::Request {
        sub: reviewer.to_string(),
        env: started.env.clone().unwrap_or_default(),
        cluster: started.cluster.clone().unwrap_or_else(|| "*".into()),
        ns: started.namespace.clone().unwrap_or_else(|| "*".into()),
        obj: target,
        act: crate::command::Action::Review.to_string(),
        chan: String::new(),
    };
    let policy = crate::policy::Policy::load(&config.policy.model, &config.policy.policy)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let (verdict, explanation) = policy.explain(&request);
    if !verdict.allowed {
        println!("you may not review it: {explanation}; nothing was recorded");
        return Ok(ExitCode::from(3));
    }
    let event = crate::audit::NewEvent {
        correlation: correlation.clone(),
        phase: crate::command::Phase::Reviewed.to_string(),
        actor_id: reviewer.to_string(),
        command_text: started.command_text.clone(),
        action: started.action.clone(),
        env: started.env.clone(),
        cluster: started.cluster.clone(),
        namespace: started.namespace.clone(),
        kind: started.kind.clone(),
        name: started.name.clone(),
        reason: Some("break-glass".into()),
        detail: serde_json::json!({
            "note": note,
            "ran_by": started.actor_id,
            "started_at": started.at,
            "rule": verdict.rule.as_ref().map(|r| policy.cite(r)),
        }),
        ..crate::audit::NewEvent::default()
    };
    let record = store.append(event).await?;
    println!(
        "reviewed {correlation} (`{}` by {}): recorded as audit event {}",
        crate::audit::render::terminal_safe(&started.command_text),
        started.actor_id,
        record.id
    );
    Ok(ExitCode::SUCCESS)
}
