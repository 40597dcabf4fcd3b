//! `pitcrew exec`: one command through the pipeline in a terminal, printed as a chat user
//! would see it, with its exit code.

use super::*;

/// `pitcrew exec`: one command through the whole pipeline, printing what a chat user would see.
pub(super) async fn exec(
    config: Config,
    as_user: &str,
    channel: Option<&str>,
    yes: bool,
    text: &str,
) -> Result<ExitCode> {
    use crate::names::{SlackChannelId, SlackUserId};
    use crate::workflow::{self, Outcome, Request};
    let actor = match SlackUserId::parse(as_user) {
        Ok(a) => a,
        Err(e) => {
            return Ok(print_outcome(&Outcome::BadInput {
                message: format!("--as: {e}"),
            }));
        }
    };
    let channel = match channel.map(SlackChannelId::parse).transpose() {
        Ok(c) => c,
        Err(e) => {
            return Ok(print_outcome(&Outcome::BadInput {
                message: format!("--channel: {e}"),
            }));
        }
    };
    let ctx = match with_slack(workflow::Context::new(config).await) {
        Ok(c) => c,
        Err(e) => {
            return Ok(print_outcome(&Outcome::Unavailable {
                message: e.to_string(),
            }));
        }
    };
    // Parsed here, once, before anything is opened: a typo costs nothing.
    let command = match crate::command::parse(text) {
        Ok(c) => c,
        Err(e) => {
            return Ok(print_outcome(&Outcome::BadInput {
                message: e.to_string(),
            }));
        }
    };
    let request = Request {
        channel,
        confirmed: yes,
        ..Request::new(actor, command)
    };
    // Close what an earlier, interrupted pitcrew left open, before anything new runs.
    match workflow::reconcile(&ctx).await {
        Ok(closed) => {
            for r in closed {
                println!(
                    "! closed an interrupted command as `interrupted`: {} — found: {}",
                    r.command_text, r.found
                );
            }
        }
        Err(e) => {
            return Ok(print_outcome(&Outcome::Unavailable {
                message: format!(
                    "cannot reconcile interrupted commands in the audit trail ({e}); nothing was done"
                ),
            }));
        }
    }
    // Ctrl-C stops following the rollout (the change itself is already made) and says so.
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.send_replace(true);
        }
    });
    let report = print_event;
    let outcome = workflow::run(&ctx, &request, &report).await;
    let code = print_outcome(&outcome);
    // Deliver the write-back now (a server does this continuously); what fails stays queued.
    if let Some(delivered) = ctx.deliver_outbox().await {
        match delivered {
            Ok(round) if round.delivered + round.found_posted > 0 => println!(
                "✓ delivered {} queued message{} (write-back to the incident/issue, announcements)",
                round.delivered + round.found_posted,
                if round.delivered + round.found_posted == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            Ok(round) if round.failed > 0 => println!(
                "! could not deliver {} queued message{} (write-back, announcements) yet; they stay queued and are retried",
                round.failed,
                if round.failed == 1 { "" } else { "s" }
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the write-back outbox"),
        }
    }
    Ok(code)
}

/// One line per workflow event, as a chat user would see it (the one renderer's words).
pub(super) fn print_event(event: crate::workflow::Event) {
    println!("{}", crate::workflow::render::event_line(&event));
}

/// The outcome's line, and its exit code.
pub(super) fn print_outcome(outcome: &crate::workflow::Outcome) -> ExitCode {
    println!("{}", crate::workflow::render::outcome_line(outcome));
    ExitCode::from(outcome.exit_code())
}

/// The context with Slack's Web API client added to its outbox, so that a terminal delivers
/// the announcements its command queued (a break-glass) as a server would.
pub(super) fn with_slack(
    ctx: Result<std::sync::Arc<crate::workflow::Context>>,
) -> Result<std::sync::Arc<crate::workflow::Context>> {
    let ctx = ctx?;
    let bot = crate::chat::SlackBot::from_config(&ctx.config, &ctx.metrics.outside)?;
    bot.attach(&ctx);
    Ok(ctx)
}
