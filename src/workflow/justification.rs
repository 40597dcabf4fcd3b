//! The justification gate: a `--reason` verified live, or a `--break-glass` the policy grants
//! (announced, or refused when nobody can be told).

use super::*;

impl Run<'_> {
    /// Checks the justification; a refusal is audited as `denied`. Protected environments
    /// need a reason verified live (or break-glass, if the policy grants it); elsewhere a
    /// reason that does not verify is recorded as unverified and does not block.
    pub(super) async fn justify(
        &self,
        justification: Option<&Justification>,
        place: &Place<'_>,
        target: &Target,
    ) -> Result<Option<Verification>, Outcome> {
        let env = &place.env;
        let protected = place.environment.protected;
        let result = match justification {
            None if protected => Err(format!(
                "environment `{env}` is protected: give --reason with a PagerDuty incident or a Jira issue"
            )),
            None => Ok(None),
            Some(Justification::Reason(reason)) => {
                let v = self
                    .ctx
                    .justifier
                    .verify(reason, env, place.environment)
                    .await;
                match v {
                    Verification::Refused { message } if protected => Err(message),
                    Verification::Refused { message } => Ok(Some(Verification::Unverified {
                        reason: format!(
                            "{message}; recorded anyway, as `{env}` does not require a verified reason"
                        ),
                    })),
                    other => Ok(Some(other)),
                }
            }
            Some(Justification::BreakGlass { text }) => self.break_glass(text, place, target).await,
        };
        match result {
            Ok(v) => {
                if let Some(v) = &v {
                    (self.report)(Event::Justification {
                        verification: v.clone(),
                    });
                }
                Ok(v)
            }
            Err(message) => {
                let o = Outcome::Unjustified { message };
                let _ = self
                    .audit(Phase::Denied, serde_json::json!({"outcome": &o}))
                    .await;
                Err(o)
            }
        }
    }

    /// `--break-glass "why"`: only for holders of `break-glass` in this environment. Loud: the
    /// audit trail marks it (reason `break-glass`, so `audit query --reason break-glass` lists
    /// every one for follow-up) and the configured channel is told.
    pub(super) async fn break_glass(
        &self,
        text: &str,
        place: &Place<'_>,
        target: &Target,
    ) -> Result<Option<Verification>, String> {
        let request = AccessRequest {
            actor: self.request.actor.clone(),
            channel: self.request.channel.clone(),
            action: Action::BreakGlass,
            env: place.env.clone(),
            cluster: place.cluster.clone(),
            namespace: Some(place.namespace.clone()),
            target: Some(target.clone()),
        };
        let decision = self.ctx.authorizer.decide(&request, place.environment);
        if !decision.allowed {
            return Err(format!(
                "--break-glass needs the `break-glass` right in `{}`, which you do not hold ({}); give --reason with a PagerDuty incident or a Jira issue",
                place.env, decision.explanation
            ));
        }
        let announcement = Notice::BreakGlass {
            actor: self.request.actor.to_string(),
            env: place.env.to_string(),
            command: self.request.text(),
            text: text.to_string(),
            correlation: self.correlation.clone(),
        };
        match (self.ctx.outbox(), &self.ctx.config.slack.announce_channel) {
            (Some(outbox), Some(channel)) => {
                if let Err(e) = outbox
                    .enqueue(
                        OutboxKind::SlackAnnounce,
                        channel.as_str(),
                        &self.correlation,
                        &announcement,
                    )
                    .await
                {
                    return Err(format!(
                        "the break-glass announcement cannot be queued ({e}); nothing was done"
                    ));
                }
            }
            // Fail closed: a break-glass nobody is told about is a silent bypass.
            (_, None) => {
                return Err("--break-glass must be announced, and this pitcrew has no [slack].announce_channel configured; nothing was done. Give --reason with a PagerDuty incident or a Jira issue, or ask the platform team to set announce_channel".to_string());
            }
            (None, Some(_)) => {
                return Err(
                    "--break-glass must be announced, and without a database the announcement cannot be queued; nothing was done. Give --reason with a PagerDuty incident or a Jira issue"
                        .to_string(),
                );
            }
        }
        tracing::warn!(correlation = %self.correlation, actor = %self.request.actor, env = %place.env, text = %text, "BREAK-GLASS");
        Ok(Some(Verification::BreakGlass {
            text: text.to_string(),
            rule: decision.rule,
        }))
    }
}
