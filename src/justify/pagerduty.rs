//! PagerDuty REST API v2: read an incident (to justify), list and add notes (write-back).

use chrono::{DateTime, Utc};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{FetchError, Http};
use crate::config::{Environment, PagerDutyConfig};

/// The v2 media type PagerDuty documents for every request.
const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

#[derive(Clone)]
pub struct PagerDuty {
    http: Http,
    base: Url,
    token: SecretString,
    config: PagerDutyConfig,
}

/// The parts of an incident pitcrew looks at.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Incident {
    pub id: String,
    pub incident_number: Option<u64>,
    pub title: Option<String>,
    pub status: String,
    pub service: Option<Reference>,
    pub html_url: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_status_change_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Reference {
    pub id: String,
    pub summary: Option<String>,
}

/// Whether an incident justifies acting, and the words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Accepted(String),
    Refused(String),
}

impl PagerDuty {
    pub fn new(config: PagerDutyConfig, token: SecretString) -> PagerDuty {
        let base = super::http::base(&config.api_base_url);
        PagerDuty {
            http: Http::new(config.timeout),
            base,
            token,
            config,
        }
    }

    /// Times its requests in `/metrics` (service `pagerduty`).
    pub fn observed(mut self, outside: crate::metrics::Outside) -> PagerDuty {
        self.http = self.http.observed(outside, "pagerduty");
        self
    }

    pub fn config(&self) -> &PagerDutyConfig {
        &self.config
    }

    pub(super) fn url(&self, path: &str) -> Result<Url, FetchError> {
        super::http::join(&self.base, path)
    }

    pub(super) fn http(&self) -> &Http {
        &self.http
    }

    pub(super) fn headers(&self, b: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        b.header(reqwest::header::ACCEPT, ACCEPT)
            // The API description requires it on every request, GET included.
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token token={}", self.token.expose_secret()),
            )
    }

    pub async fn incident(&self, id: &str) -> Result<Incident, FetchError> {
        let url = self.url(&format!("incidents/{id}"))?;
        let body = self
            .http
            .json(Method::GET, url, |b| self.headers(b))
            .await?;
        let incident = body
            .get("incident")
            .cloned()
            .ok_or_else(|| FetchError::Malformed("no `incident` in the answer".into()))?;
        serde_json::from_value(incident).map_err(|e| FetchError::Malformed(e.to_string()))
    }

    /// Accepted when triggered or acknowledged, or resolved less than `resolved_grace` ago;
    /// and, if the environment lists services, on one of them.
    pub fn judge(&self, i: &Incident, env: &Environment, now: DateTime<Utc>) -> Judgement {
        let name = format!(
            "PagerDuty incident {}{}",
            i.incident_number
                .map(|n| format!("#{n} "))
                .unwrap_or_default(),
            i.id
        );
        let title = i.title.as_deref().unwrap_or("(no title)");
        let service = i.service.as_ref();
        let service_name = service
            .map(|s| s.summary.clone().unwrap_or_else(|| s.id.clone()))
            .unwrap_or_else(|| "no service".into());
        let described = format!("{name} \"{title}\" ({}, service {service_name})", i.status);
        if !env.pagerduty_services.is_empty()
            && !service.is_some_and(|s| env.pagerduty_services.contains(&s.id))
        {
            return Judgement::Refused(format!(
                "{described} is not on a service of this environment ({}); give an incident of the affected service",
                env.pagerduty_services.join(", ")
            ));
        }
        match i.status.as_str() {
            "triggered" | "acknowledged" => Judgement::Accepted(described),
            "resolved" => {
                let grace = chrono::Duration::from_std(self.config.resolved_grace)
                    .unwrap_or(chrono::Duration::zero());
                let when = i.resolved_at.or(i.last_status_change_at);
                match when {
                    Some(at) if grace > chrono::Duration::zero() && now - at <= grace => {
                        Judgement::Accepted(format!(
                            "{described}, resolved {} ago (within the {} grace period)",
                            humantime::format_duration((now - at).to_std().unwrap_or_default()),
                            humantime::format_duration(self.config.resolved_grace)
                        ))
                    }
                    _ => Judgement::Refused(format!(
                        "{described} is resolved; an action needs an open incident (triggered or acknowledged) — reopen it or give the current one"
                    )),
                }
            }
            other => Judgement::Refused(format!(
                "{described} has status `{other}`, not triggered or acknowledged"
            )),
        }
    }

    /// The contents of the incident's notes (to find an earlier write-back).
    pub async fn notes(&self, id: &str) -> Result<Vec<String>, FetchError> {
        let url = self.url(&format!("incidents/{id}/notes"))?;
        let body = self
            .http
            .json(Method::GET, url, |b| self.headers(b))
            .await?;
        let notes = body
            .get("notes")
            .and_then(|n| n.as_array())
            .ok_or_else(|| FetchError::Malformed("no `notes` list in the answer".into()))?;
        Ok(notes
            .iter()
            .filter_map(|n| n.get("content").and_then(|c| c.as_str()))
            .map(str::to_string)
            .collect())
    }

    pub async fn add_note(&self, id: &str, content: &str) -> Result<(), FetchError> {
        let from = self.config.from_email.clone().ok_or_else(|| {
            FetchError::Malformed(
                "[pagerduty].from_email is not set; PagerDuty requires it to add notes".into(),
            )
        })?;
        let url = self.url(&format!("incidents/{id}/notes"))?;
        let body = serde_json::json!({"note": {"content": content}});
        self.http
            .json(Method::POST, url, |b| {
                self.headers(b).header("From", from.as_str()).json(&body)
            })
            .await
            .map(|_| ())
    }
}
