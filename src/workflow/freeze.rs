//! Change freezes in the pipeline: `freeze` and `unfreeze` from chat (their own policy rights,
//! audited, announced in the environment's channels), and the gate every changing command
//! passes: while a freeze holds, only `--break-glass` goes ahead (and says so).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::command::{Freeze, Unfreeze, Until};
use crate::freeze::{self, Window};

impl Run<'_> {
    /// The freeze gate of a changing command at `place`: `Ok(None)` when nothing holds (or for
    /// a dry run, which changes nothing), `Ok(Some(window))` when a `--break-glass` overrides
    /// a freeze, otherwise the refusal. A freeze that cannot be read refuses: fail closed.
    pub(super) async fn frozen(
        &self,
        place: &Place<'_>,
        justification: Option<&Justification>,
        dry_run: bool,
    ) -> Result<Option<Window>, Outcome> {
        if dry_run {
            return Ok(None);
        }
        let now = Utc::now();
        let state = freeze::state(self.ctx.db.as_ref(), &place.env, place.environment, now)
            .await
            .map_err(|e| Outcome::Unavailable {
                message: format!(
                    "cannot read whether `{}` is frozen: the database does not answer ({e}); nothing was done, try again in a minute",
                    place.env
                ),
            })?;
        let Some(window) = state.holding().cloned() else {
            return Ok(None);
        };
        let zone = place.environment.timezone;
        let described = format!(
            "`{}` is frozen until {} ({})",
            place.env,
            freeze::show(window.until, zone),
            window.describe()
        );
        if matches!(justification, Some(Justification::BreakGlass { .. })) {
            (self.report)(Event::FreezeOverridden {
                freeze: described.clone(),
            });
            *self.frozen.lock().unwrap_or_else(|p| p.into_inner()) = Some(described);
            return Ok(Some(window));
        }
        Err(Outcome::Refused {
            message: format!(
                "{described}: changes there are refused until then. Nothing was done. In an emergency, --break-glass \"why\" goes ahead anyway (announced and audited); or ask someone holding `unfreeze`"
            ),
        })
    }

    /// `freeze ENV (--until T | --for D) --reason TEXT`.
    pub(super) async fn freeze(&self, f: &Freeze) -> Outcome {
        let now = Utc::now();
        let until = match f.until {
            Until::At { time } => time,
            Until::For { seconds } => now + chrono::Duration::seconds(seconds as i64),
        };
        let place = match self.environment_action(Action::Freeze, &f.env).await {
            Ok(p) => p,
            Err(o) => return o,
        };
        let zone = place.environment.timezone;
        if until <= now {
            let o = Outcome::BadInput {
                message: format!(
                    "{} is already past; give a time to come (`--until`) or a length (`--for 4h`)",
                    freeze::show(until, zone)
                ),
            };
            let _ = self.audit(Phase::Cancelled, json!({"outcome": &o})).await;
            return o;
        }
        if until > now + chrono::Duration::days(366) {
            let o = Outcome::BadInput {
                message: format!(
                    "{} is more than a year away; a standing freeze belongs in the configuration ([environments.{}.freezes])",
                    freeze::show(until, zone),
                    f.env
                ),
            };
            let _ = self.audit(Phase::Cancelled, json!({"outcome": &o})).await;
            return o;
        }
        let Some(db) = self.ctx.db.clone() else {
            return self.no_database("a freeze").await;
        };
        let store = freeze::Freezes::new(db);
        let window = match store
            .set(
                &f.env,
                now,
                until,
                self.request.actor.as_str(),
                &f.reason,
                &self.correlation,
            )
            .await
        {
            Ok(w) => w,
            Err(e) => {
                let o = Outcome::Unavailable {
                    message: format!("cannot record the freeze ({e}); `{}` is not frozen", f.env),
                };
                let _ = self.audit(Phase::Failed, json!({"outcome": &o})).await;
                return o;
            }
        };
        let summary = format!(
            "is frozen until {}: {}. Changes there are refused until then, except --break-glass",
            freeze::show(until, zone),
            f.reason
        );
        self.finish_environment_action(&place, &summary, json!({"freeze": window}))
            .await
    }

    /// `unfreeze ENV`: lifts the freezes set from chat; the configuration's windows stay (they
    /// are changed where they are written).
    pub(super) async fn unfreeze(&self, u: &Unfreeze) -> Outcome {
        let place = match self.environment_action(Action::Unfreeze, &u.env).await {
            Ok(p) => p,
            Err(o) => return o,
        };
        let Some(db) = self.ctx.db.clone() else {
            return self.no_database("an unfreeze").await;
        };
        let now = Utc::now();
        let lifted = match freeze::Freezes::new(db)
            .lift(&u.env, self.request.actor.as_str(), now)
            .await
        {
            Ok(l) => l,
            Err(e) => {
                let o = Outcome::Unavailable {
                    message: format!("cannot lift the freeze ({e}); nothing was changed"),
                };
                let _ = self.audit(Phase::Failed, json!({"outcome": &o})).await;
                return o;
            }
        };
        let (configured, _) = freeze::configured(place.environment, now);
        let still = configured
            .iter()
            .max_by_key(|w| w.until)
            .map(|w| {
                format!(
                    "; {} still holds until {} (change the configuration to lift it)",
                    w.describe(),
                    freeze::show(w.until, place.environment.timezone)
                )
            })
            .unwrap_or_default();
        if lifted.is_empty() {
            let o = Outcome::Done {
                message: format!(
                    "`{}` has no freeze set from chat; nothing was changed{still}",
                    u.env
                ),
            };
            let _ = self.audit(Phase::Unchanged, json!({"outcome": &o})).await;
            return o;
        }
        let ids: Vec<String> = lifted.iter().map(Window::describe).collect();
        let summary = format!("is unfrozen: lifted {}{still}", ids.join(", "));
        self.finish_environment_action(&place, &summary, json!({"lifted": lifted}))
            .await
    }

    /// The first steps of an action on a whole environment: resolve it, record `requested`,
    /// ask the policy (namespace and workload `*`), record `approved`.
    async fn environment_action(
        &self,
        action: Action,
        env: &crate::names::EnvName,
    ) -> Result<Place<'_>, Outcome> {
        let place = crate::resolve::place_or_first(&self.ctx.config, env, None).map_err(|e| {
            Outcome::BadInput {
                message: e.to_string(),
            }
        })?;
        {
            let mut s = self.subject.lock().unwrap_or_else(|p| p.into_inner());
            s.action = Some(action);
            s.env = Some(place.env.clone());
            s.cluster = Some(place.cluster.clone());
        }
        if let Err(e) = self
            .audit(Phase::Requested, json!({"command": &self.request.command}))
            .await
        {
            return Err(unavailable_audit(e));
        }
        let decision = match self.authorize(action, &place, None) {
            Ok(d) => d,
            Err(o) => {
                let _ = self.audit(Phase::Denied, json!({"outcome": &o})).await;
                return Err(o);
            }
        };
        if let Err(e) = self
            .audit(Phase::Approved, json!({"decision": decision}))
            .await
        {
            return Err(unavailable_audit(e));
        }
        Ok(place)
    }

    /// Records the environment action's success and tells the environment's channels.
    async fn finish_environment_action(
        &self,
        place: &Place<'_>,
        summary: &str,
        mut detail: serde_json::Value,
    ) -> Outcome {
        let o = Outcome::Done {
            message: format!("`{}` {summary}", place.env),
        };
        detail["outcome"] = json!(&o);
        if let Err(e) = self.audit(Phase::Succeeded, detail).await {
            // Done, but not in the trail: say so rather than claim a clean success.
            tracing::error!(error = %e, correlation = %self.correlation, "could not record the freeze's outcome");
            return Outcome::Unavailable {
                message: format!(
                    "{} — but the audit trail could not record it ({e}); tell the platform team",
                    self.request.command
                ),
            };
        }
        self.announce_environment(place, summary).await;
        o
    }

    /// Tells the announce channel and the environment's channels (once each), through the
    /// outbox.
    async fn announce_environment(&self, place: &Place<'_>, summary: &str) {
        let Some(outbox) = self.ctx.outbox() else {
            return;
        };
        let notice = Notice::Freeze {
            actor: self.request.actor.to_string(),
            env: place.env.to_string(),
            summary: summary.to_string(),
            correlation: self.correlation.clone(),
        };
        let mut channels: Vec<String> = self
            .ctx
            .config
            .slack
            .announce_channel
            .iter()
            .map(|c| c.to_string())
            .chain(place.environment.channels.iter().map(|c| c.to_string()))
            .collect();
        channels.sort();
        channels.dedup();
        for channel in channels {
            if let Err(e) = outbox
                .enqueue(
                    OutboxKind::SlackAnnounce,
                    &channel,
                    &self.correlation,
                    &notice,
                )
                .await
            {
                tracing::error!(error = %e, %channel, "could not queue the freeze announcement");
            }
        }
    }

    async fn no_database(&self, what: &str) -> Outcome {
        let o = Outcome::Unavailable {
            message: format!(
                "{what} is kept in the database, and this pitcrew has none; nothing was changed"
            ),
        };
        let _ = self.audit(Phase::Failed, json!({"outcome": &o})).await;
        o
    }

    /// `status -e ENV` without a workload, and the freeze lines of a workload's `status`.
    pub(super) async fn freeze_lines(&self, place: &Place<'_>) -> Vec<String> {
        let now: DateTime<Utc> = Utc::now();
        let zone = place.environment.timezone;
        let state =
            match freeze::state(self.ctx.db.as_ref(), &place.env, place.environment, now).await {
                Ok(s) => s,
                Err(e) => {
                    return vec![format!(
                        "freeze: unknown, the database does not answer ({e})"
                    )];
                }
            };
        let mut lines: Vec<String> = state
            .active
            .iter()
            .map(|w| {
                format!(
                    "FROZEN until {}: {}",
                    freeze::show(w.until, zone),
                    w.describe()
                )
            })
            .collect();
        if let Some(next) = &state.next {
            lines.push(format!(
                "next freeze: {} → {}: {}",
                freeze::show(next.from, zone),
                freeze::show(next.until, zone),
                next.describe()
            ));
        }
        lines
    }
}
