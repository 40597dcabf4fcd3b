//! Justification: a `--reason` checked live against PagerDuty or Jira, and the write-back of
//! each action's outcome to that incident or issue through a durable outbox.
//!
//! Fail closed: whatever goes wrong talking to PagerDuty or Jira (timeout, 429 beyond the
//! timeout, 5xx, refused credentials, an unknown reference, an answer that is not what the API
//! describes, a redirect) refuses the reason with a message that says what to do, and logs the
//! cause for the operator.

pub mod http;
pub mod jira;
pub mod on_call;
pub mod pagerduty;
mod write_back;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use http::FetchError;

use crate::command::Reason;
use crate::config::{Config, Environment};
use crate::names::EnvName;
pub use jira::Jira;
pub use on_call::OnCall;
pub use pagerduty::{Judgement, PagerDuty};

/// The result of checking a justification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verification {
    /// Checked live and accepted; `evidence` is what PagerDuty or Jira showed (for the audit).
    Verified {
        summary: String,
        evidence: serde_json::Value,
    },
    /// Recorded, not accepted as verified (only where the environment does not require it).
    Unverified { reason: String },
    /// Refused, with what to do.
    Refused { message: String },
    /// `--break-glass`: no outside check, allowed by the policy's `break-glass` right; loudly
    /// marked, announced and queued for follow-up.
    BreakGlass { text: String, rule: Option<String> },
}

/// Checks a `--reason` live. The workflow holds one as `dyn Justifier`, so its tests can hand
/// it an answer without PagerDuty or Jira.
pub trait Justifier: Send + Sync {
    fn verify<'a>(
        &'a self,
        reason: &'a Reason,
        env: &'a EnvName,
        environment: &'a Environment,
    ) -> BoxFuture<'a, Verification>;

    /// The person with e-mail `email`'s on-call entries now on any of `policies` (empty: not
    /// on call, or not a PagerDuty user); `Err` says why it cannot be known, for a refusal.
    fn on_call<'a>(
        &'a self,
        email: &'a str,
        policies: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<OnCall>, String>>;
}

/// Checks references live, with a short cache of accepted ones.
pub struct LiveJustifier {
    pub pagerduty: Option<PagerDuty>,
    pub jira: Option<Jira>,
    cache: Mutex<HashMap<String, (Instant, Verification)>>,
    /// PagerDuty user ids by e-mail (`None`: no such user), for `[pagerduty].cache_for`.
    users: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

impl LiveJustifier {
    pub fn new(pagerduty: Option<PagerDuty>, jira: Option<Jira>) -> LiveJustifier {
        LiveJustifier {
            pagerduty,
            jira,
            cache: Mutex::default(),
            users: Mutex::default(),
        }
    }

    /// The clients the configuration and its secrets allow (a section without its secrets
    /// is reported by `config check`; here it is simply absent, and references to it refused).
    /// Their requests are timed in `outside` (`/metrics`).
    pub fn from_config(config: &Config, outside: &crate::metrics::Outside) -> LiveJustifier {
        let s = &config.secrets;
        let pagerduty = match (&config.pagerduty, &s.pagerduty_token) {
            (Some(c), Some(t)) => {
                Some(PagerDuty::new(c.clone(), t.clone()).observed(outside.clone()))
            }
            _ => None,
        };
        let jira = match (&config.jira, &s.jira_email, &s.jira_api_token) {
            (Some(c), Some(e), Some(t)) => {
                Some(Jira::new(c.clone(), e.clone(), t.clone()).observed(outside.clone()))
            }
            _ => None,
        };
        LiveJustifier::new(pagerduty, jira)
    }

    fn cached(&self, key: &str, ttl: Duration) -> Option<Verification> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    fn remember(&self, key: String, v: &Verification) {
        // Only acceptances are reused: a refusal may be fixed a minute later (the ticket
        // approved, PagerDuty back), and the user should not wait out a cache for it.
        if matches!(v, Verification::Verified { .. }) {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(3600));
            cache.insert(key, (Instant::now(), v.clone()));
        }
    }

    /// A reason pointing at a source this pitcrew cannot ask: point at the other source only
    /// when it is configured, otherwise say what the platform team must set up.
    fn unconfigured(&self, asked: Source, what: &str) -> Verification {
        let (name, other) = match asked {
            Source::PagerDuty => ("PagerDuty", self.jira.is_some().then_some("a Jira issue")),
            Source::Jira => (
                "Jira",
                self.pagerduty.is_some().then_some("a PagerDuty incident"),
            ),
        };
        refused(match other {
            Some(other) => format!(
                "{name} is not configured in this pitcrew, so {what} cannot be checked; give {other} instead, or ask the platform team"
            ),
            None => format!(
                "{name} is not configured in this pitcrew, so {what} cannot be checked, and no other justification source is either: a protected environment needs PagerDuty ([pagerduty] and PAGERDUTY_TOKEN) or Jira ([jira], JIRA_EMAIL and JIRA_API_TOKEN) configured; ask the platform team (where the policy grants it, --break-glass works meanwhile)"
            ),
        })
    }

    async fn check(&self, reason: &Reason, environment: &Environment) -> Verification {
        match reason {
            Reason::PagerDuty { incident, .. } => {
                let Some(pd) = &self.pagerduty else {
                    return self.unconfigured(Source::PagerDuty, &format!("incident {incident}"));
                };
                match pd.incident(incident).await {
                    Ok(i) => match pd.judge(&i, environment, chrono::Utc::now()) {
                        Judgement::Accepted(summary) => Verification::Verified {
                            summary,
                            evidence: serde_json::json!({"system": "pagerduty", "incident": i}),
                        },
                        Judgement::Refused(message) => refused(message),
                    },
                    Err(e) => {
                        tracing::warn!(service = "pagerduty", incident = %incident, error = %e, "cannot verify the incident");
                        refused(e.for_user("PagerDuty", &format!("incident {incident}")))
                    }
                }
            }
            Reason::Jira { key, .. } => {
                let Some(jira) = &self.jira else {
                    return self.unconfigured(Source::Jira, &format!("issue {key}"));
                };
                match jira.issue(key).await {
                    Ok(issue) => match jira.judge(&issue) {
                        Judgement::Accepted(summary) => Verification::Verified {
                            summary,
                            evidence: serde_json::json!({"system": "jira", "issue": issue}),
                        },
                        Judgement::Refused(message) => refused(message),
                    },
                    Err(e) => {
                        tracing::warn!(service = "jira", issue = %key, error = %e, "cannot verify the issue");
                        refused(e.for_user("Jira", &format!("issue {key}")))
                    }
                }
            }
        }
    }

    fn ttl(&self, reason: &Reason) -> Duration {
        match reason {
            Reason::PagerDuty { .. } => self.pagerduty.as_ref().map(|p| p.config().cache_for),
            Reason::Jira { .. } => self.jira.as_ref().map(|j| j.config().cache_for),
        }
        .unwrap_or_default()
    }
}

fn refused(message: String) -> Verification {
    Verification::Refused { message }
}

impl LiveJustifier {
    /// The PagerDuty user with this e-mail, through a cache of `[pagerduty].cache_for`.
    async fn pagerduty_user(
        &self,
        pd: &PagerDuty,
        email: &str,
    ) -> Result<Option<String>, FetchError> {
        let key = email.to_ascii_lowercase();
        let ttl = pd.config().cache_for;
        if let Some((at, id)) = self
            .users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && at.elapsed() < ttl
        {
            return Ok(id.clone());
        }
        let id = pd.user_by_email(email).await?;
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.retain(|_, (at, _)| at.elapsed() < ttl);
        users.insert(key, (Instant::now(), id.clone()));
        Ok(id)
    }
}

impl Justifier for LiveJustifier {
    fn on_call<'a>(
        &'a self,
        email: &'a str,
        policies: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<OnCall>, String>> {
        Box::pin(async move {
            let Some(pd) = &self.pagerduty else {
                return Err("PagerDuty is not configured in this pitcrew ([pagerduty] and PAGERDUTY_TOKEN), so who is on call cannot be known; ask the platform team".into());
            };
            let answer = async {
                match self.pagerduty_user(pd, email).await? {
                    Some(user) => pd.on_calls(&user, policies).await,
                    None => Ok(Vec::new()),
                }
            };
            answer.await.map_err(|e| {
                tracing::warn!(service = "pagerduty", error = %e, "cannot ask who is on call");
                format!("PagerDuty cannot say who is on call right now ({e}); nothing was done, try again in a minute")
            })
        })
    }

    fn verify<'a>(
        &'a self,
        reason: &'a Reason,
        env: &'a EnvName,
        environment: &'a Environment,
    ) -> BoxFuture<'a, Verification> {
        Box::pin(async move {
            // The verdict depends on the environment (its PagerDuty services).
            let key = format!("{env}\u{0}{}", reason.id());
            let ttl = self.ttl(reason);
            if let Some(v) = self.cached(&key, ttl) {
                return v;
            }
            let v = self.check(reason, environment).await;
            self.remember(key, &v);
            v
        })
    }
}

/// Where a `--reason` is verified.
#[derive(Debug, Clone, Copy)]
enum Source {
    PagerDuty,
    Jira,
}
