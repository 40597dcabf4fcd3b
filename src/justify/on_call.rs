//! Who is on call now, from PagerDuty: a person (by e-mail) to a PagerDuty user (`GET /users`,
//! cached like accepted references), then their on-call entries on given escalation policies
//! (`GET /oncalls`, asked live every time: on call is about now). Used by approver rules.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::http::FetchError;
use super::pagerduty::{PagerDuty, Reference};

/// One on-call entry: who is on call, where (escalation policy and level, schedule), from
/// when until when. Recorded in the trail as the evidence an on-call rule relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    pub escalation_policy: Reference,
    pub escalation_level: u32,
    #[serde(default)]
    pub schedule: Option<Reference>,
    pub user: Reference,
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

impl OnCall {
    /// `on call for PESC1 (Checkout) at level 1 until 2026-12-05T17:00Z`.
    pub fn describe(&self) -> String {
        let policy = match &self.escalation_policy.summary {
            Some(s) => format!("{} ({s})", self.escalation_policy.id),
            None => self.escalation_policy.id.clone(),
        };
        let until = self
            .end
            .map(|e| format!(" until {}", e.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        format!(
            "on call for {policy} at level {}{until}",
            self.escalation_level
        )
    }
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    email: Option<String>,
}

impl PagerDuty {
    /// The PagerDuty user whose e-mail is `email` (compared without case), if any.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<String>, FetchError> {
        let mut url = self.url("users")?;
        url.query_pairs_mut().append_pair("query", email);
        let body = self
            .http()
            .json(Method::GET, url, |b| self.headers(b))
            .await?;
        let users: Vec<User> = body
            .get("users")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| FetchError::Malformed(e.to_string()))?
            .ok_or_else(|| FetchError::Malformed("no `users` list in the answer".into()))?;
        // `query` matches names too: only the exact e-mail identifies the person.
        Ok(users
            .into_iter()
            .find(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .map(|u| u.id))
    }

    /// `user`'s on-call entries now on any of `policies`.
    pub async fn on_calls(
        &self,
        user: &str,
        policies: &[String],
    ) -> Result<Vec<OnCall>, FetchError> {
        let mut url = self.url("oncalls")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("user_ids[]", user);
            for p in policies {
                q.append_pair("escalation_policy_ids[]", p);
            }
        }
        let body = self
            .http()
            .json(Method::GET, url, |b| self.headers(b))
            .await?;
        let entries = body
            .get("oncalls")
            .and_then(|o| o.as_array())
            .ok_or_else(|| FetchError::Malformed("no `oncalls` list in the answer".into()))?;
        let now = Utc::now();
        // An entry without a user (an empty schedule) is nobody's; PagerDuty returns what
        // overlaps "now", and an entry's own times are checked again.
        Ok(entries
            .iter()
            .filter_map(|e| serde_json::from_value::<OnCall>(e.clone()).ok())
            .filter(|e| e.user.id == user)
            .filter(|e| e.start.is_none_or(|s| s <= now) && e.end.is_none_or(|end| now < end))
            .collect())
    }
}
