//! Jira Cloud REST API v3: read an issue (to justify), list and add comments (write-back).

use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http::{FetchError, Http};
use super::pagerduty::Judgement;
use crate::config::JiraConfig;

#[derive(Clone)]
pub struct Jira {
    http: Http,
    base: Url,
    email: SecretString,
    token: SecretString,
    config: JiraConfig,
}

/// The parts of an issue pitcrew looks at.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Issue {
    pub key: String,
    pub fields: Fields,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Fields {
    pub summary: Option<String>,
    pub status: Option<Status>,
    pub issuetype: Option<Named>,
    pub project: Option<Project>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Status {
    pub name: String,
    #[serde(rename = "statusCategory")]
    pub category: Option<Category>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Category {
    pub key: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Project {
    pub key: String,
}

impl Jira {
    pub fn new(config: JiraConfig, email: SecretString, token: SecretString) -> Jira {
        let base = super::http::base(&config.base_url);
        Jira {
            http: Http::new(config.timeout),
            base,
            email,
            token,
            config,
        }
    }

    /// Times its requests in `/metrics` (service `jira`).
    pub fn observed(mut self, outside: crate::metrics::Outside) -> Jira {
        self.http = self.http.observed(outside, "jira");
        self
    }

    pub fn config(&self) -> &JiraConfig {
        &self.config
    }

    fn url(&self, path: &str) -> Result<Url, FetchError> {
        super::http::join(&self.base, path)
    }

    fn headers(&self, b: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        b.header(reqwest::header::ACCEPT, "application/json")
            .basic_auth(self.email.expose_secret(), Some(self.token.expose_secret()))
    }

    pub async fn issue(&self, key: &str) -> Result<Issue, FetchError> {
        let mut url = self.url(&format!("rest/api/3/issue/{key}"))?;
        url.query_pairs_mut()
            .append_pair("fields", "summary,status,issuetype,project");
        let body = self
            .http
            .json(Method::GET, url, |b| self.headers(b))
            .await?;
        serde_json::from_value(body).map_err(|e| FetchError::Malformed(e.to_string()))
    }

    /// Accepted when the project and issue type are allowed and the status (its name, or its
    /// category's name or key) is one of the approved ones.
    pub fn judge(&self, issue: &Issue) -> Judgement {
        let f = &issue.fields;
        let summary = f.summary.as_deref().unwrap_or("(no summary)");
        let status = f.status.as_ref();
        let status_name = status.map(|s| s.name.as_str()).unwrap_or("no status");
        let described = format!("Jira {} \"{summary}\" ({status_name})", issue.key);
        let project = f
            .project
            .as_ref()
            .map(|p| p.key.clone())
            .unwrap_or_else(|| issue.key.split('-').next().unwrap_or_default().to_string());
        let c = &self.config;
        if !c
            .allowed_projects
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&project))
        {
            return Judgement::Refused(format!(
                "{described} is in project {project}; actions are justified by issues of {}",
                c.allowed_projects.join(", ")
            ));
        }
        let kind = f.issuetype.as_ref().map(|t| t.name.as_str()).unwrap_or("");
        if !c.allowed_issue_types.is_empty()
            && !c
                .allowed_issue_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
        {
            return Judgement::Refused(format!(
                "{described} is a {kind}; only {} issues justify an action",
                c.allowed_issue_types.join(", ")
            ));
        }
        let mut names = vec![status_name.to_string()];
        if let Some(cat) = status.and_then(|s| s.category.as_ref()) {
            names.extend(cat.name.clone());
            names.extend(cat.key.clone());
        }
        let approved = c
            .approved_statuses
            .iter()
            .any(|a| names.iter().any(|n| n.eq_ignore_ascii_case(a)));
        if approved {
            Judgement::Accepted(described)
        } else {
            Judgement::Refused(format!(
                "{described} is not approved: its status must be one of {}; get it approved first",
                c.approved_statuses.join(", ")
            ))
        }
    }

    /// The plain text of the issue's comments (to find an earlier write-back).
    pub async fn comments(&self, key: &str) -> Result<Vec<String>, FetchError> {
        let mut url = self.url(&format!("rest/api/3/issue/{key}/comment"))?;
        url.query_pairs_mut().append_pair("maxResults", "100");
        url.query_pairs_mut().append_pair("orderBy", "-created");
        let body = self
            .http
            .json(Method::GET, url, |b| self.headers(b))
            .await?;
        let comments = body
            .get("comments")
            .and_then(|c| c.as_array())
            .ok_or_else(|| FetchError::Malformed("no `comments` list in the answer".into()))?;
        // ADF bodies: the text is in the leaves; a plain walk collects it.
        Ok(comments
            .iter()
            .map(|c| {
                let mut text = String::new();
                collect_text(c.get("body").unwrap_or(&serde_json::Value::Null), &mut text);
                text
            })
            .collect())
    }

    pub async fn add_comment(&self, key: &str, text: &str) -> Result<(), FetchError> {
        let url = self.url(&format!("rest/api/3/issue/{key}/comment"))?;
        let body = serde_json::json!({"body": adf(text)});
        self.http
            .json(Method::POST, url, |b| self.headers(b).json(&body))
            .await
            .map(|_| ())
    }
}

/// Text as an Atlassian Document Format document: one paragraph per line.
pub fn adf(text: &str) -> serde_json::Value {
    let paragraphs: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::json!({"type": "paragraph", "content": [{"type": "text", "text": l}]}))
        .collect();
    serde_json::json!({"type": "doc", "version": 1, "content": paragraphs})
}

fn collect_text(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push(' ');
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        serde_json::Value::Object(map) => {
            if let Some(t) = map.get("text") {
                collect_text(t, out);
            }
            if let Some(c) = map.get("content") {
                collect_text(c, out);
            }
        }
        _ => {}
    }
}
