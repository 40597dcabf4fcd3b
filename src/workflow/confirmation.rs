//! The confirmation and approval gate of protected environments, and the hash that binds a
//! confirmation or approval to exactly the change it was given for.

use super::*;

impl Run<'_> {
    /// Step 6 of the pipeline: a protected environment's change needs the requester's
    /// confirmation, and the approvals the environment asks for. Approvals by a second person
    /// arrive with the Slack approval flow; until then such environments refuse (fail closed).
    pub(super) async fn confirmed(
        &self,
        env: &crate::names::EnvName,
        environment: &crate::config::Environment,
        dry_run: bool,
    ) -> Result<(), Outcome> {
        if !environment.protected || dry_run {
            return Ok(());
        }
        if let Some(a) = self.request.approval.as_ref().filter(|a| a.needed == 0)
            && a.params_hash != self.params_hash(env)
        {
            let o = Outcome::Refused {
                message: format!(
                    "the change is no longer the one you confirmed (the workload changed meanwhile); run `{}` again to see what it would do now. Nothing was done",
                    self.request.command
                ),
            };
            let _ = self
                .audit(Phase::Cancelled, serde_json::json!({"outcome": &o}))
                .await;
            return Err(o);
        }
        let o = if !self.request.confirmed {
            // Stored, so that the Confirm button can refer to exactly this command.
            let pending = match &self.ctx.db {
                Some(db) => approvals::Approvals::new(db.clone())
                    .open(
                        self.request.actor.as_str(),
                        self.request.channel.as_ref().map(|c| c.as_str()),
                        &self.request.text(),
                        env.as_str(),
                        &self.params_hash(env),
                        0,
                        self.ctx.config.server.approval_ttl,
                        &self.correlation,
                        self.request.team.as_deref(),
                        self.request.message.as_ref(),
                    )
                    .await
                    .ok()
                    .map(|id| Pending {
                        id,
                        kind: "confirm",
                    }),
                None => None,
            };
            let freeze = self
                .frozen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .map(|f| format!(" {f}: confirming OVERRIDES THE FREEZE."))
                .unwrap_or_default();
            Outcome::NeedsConfirmation {
                message: format!(
                    "environment `{env}` is protected: confirm the change shown above (the Confirm button in Slack, --yes in a terminal).{freeze} Nothing was done yet"
                ),
                pending,
            }
        } else if environment.approvals > 0 {
            match self.approved(env, environment).await {
                Ok(()) => return Ok(()),
                Err(o) => o,
            }
        } else {
            return Ok(());
        };
        // Waiting, not ended: pressing the button continues this command. A refusal found
        // while opening the request (say, the database is down) does end it.
        let phase = match &o {
            Outcome::NeedsConfirmation {
                pending: Some(_), ..
            } => Phase::Pending,
            _ => Phase::Cancelled,
        };
        // The trail keeps what was put up for confirmation or approval, as it was hashed.
        let plan = self.plan.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let _ = self
            .audit(phase, serde_json::json!({"outcome": &o, "plan": plan}))
            .await;
        Err(o)
    }

    /// What binds a confirmation or approval to this exact command and change: the hash of
    /// the typed [`Plan`] (see `plan.rs`).
    pub(super) fn params_hash(&self, env: &crate::names::EnvName) -> String {
        if let Some(plan) = self.plan.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return plan.hash();
        }
        // No dry run was made (nothing reaches here without one today): the command alone.
        let s = self.subject();
        Plan {
            command: self.request.text(),
            requester: self.request.actor.to_string(),
            channel: self.request.channel.as_ref().map(|c| c.to_string()),
            env: env.to_string(),
            cluster: s.cluster.map(|c| c.to_string()).unwrap_or_default(),
            namespace: s.namespace.map(|n| n.to_string()),
            changes: Vec::new(),
        }
        .hash()
    }

    /// An environment with `approvals > 0`: this run must carry an approval with enough
    /// approvers for exactly this command; otherwise one is opened and the command stops.
    pub(super) async fn approved(
        &self,
        env: &crate::names::EnvName,
        environment: &crate::config::Environment,
    ) -> Result<(), Outcome> {
        let hash = self.params_hash(env);
        let needed = i64::from(environment.approvals);
        if let Some(a) = self.request.approval.as_ref().filter(|a| a.needed > 0) {
            if a.params_hash == hash && a.approvers.len() as i64 >= needed {
                return Ok(());
            }
            return Err(Outcome::Refused {
                message: format!(
                    "approval {} was given for a different change than `{}` would make now (the workload changed meanwhile); run it again to ask for a new approval. Nothing was done",
                    a.id, self.request.command
                ),
            });
        }
        // An on-call requester at a low enough escalation level goes ahead alone: recorded
        // with the on-call entry in the `started` event.
        if let Some(entry) =
            approvers::requester_waiver(self.ctx, environment, &self.request.actor).await
        {
            (self.report)(Event::ApprovalWaived {
                why: format!("you are {}", entry.describe()),
            });
            *self.waived.lock().unwrap_or_else(|p| p.into_inner()) = Some(entry);
            return Ok(());
        }
        let Some(db) = &self.ctx.db else {
            return Err(Outcome::Unavailable {
                message: "approvals need the database, which this pitcrew does not have; nothing was done".into(),
            });
        };
        let store = approvals::Approvals::new(db.clone());
        match store
            .open(
                self.request.actor.as_str(),
                self.request.channel.as_ref().map(|c| c.as_str()),
                &self.request.text(),
                env.as_str(),
                &hash,
                needed,
                self.ctx.config.server.approval_ttl,
                &self.correlation,
                self.request.team.as_deref(),
                self.request.message.as_ref(),
            )
            .await
        {
            Ok(id) => Err(Outcome::NeedsConfirmation {
                pending: Some(Pending {
                    id: id.clone(),
                    kind: "approve",
                }),
                message: format!(
                    "environment `{env}` needs {needed} approval{} by someone else holding `approve` there{}: ask them to approve {id} (the Approve button in Slack, or `pitcrew approve {id} --as THEIR_ID`); it expires in {}. Nothing was done yet",
                    if needed == 1 { "" } else { "s" },
                    environment.approvers.describe(),
                    humantime::format_duration(self.ctx.config.server.approval_ttl)
                ),
            }),
            Err(e) => Err(Outcome::Unavailable {
                message: format!("cannot record the request for approval ({e}); nothing was done"),
            }),
        }
    }
}
