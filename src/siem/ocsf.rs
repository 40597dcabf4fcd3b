//! Audit events as OCSF (Open Cybersecurity Schema Framework 1.1) JSON, posted over HTTPS in
//! batches to `[audit.https] url`, with `SIEM_TOKEN` as a bearer token when it is set.
//!
//! The class is **API Activity** (`class_uid` 6003, category Application Activity): each
//! pitcrew event is an actor's request to an API-driven system (Kubernetes, through pitcrew) to
//! act on named resources, with an outcome — what that class describes (actor, `api.operation`,
//! `resources`, `status`). A change is activity Update (3), a read Read (2), anything else Other
//! (99); a refusal or failure has status Failure. pitcrew's own fields (id, hash, the chain
//! link, the phase, the whole event) ride in `unmapped`, and `metadata.uid` is the event id, so
//! a receiver de-duplicates. A receiver answering anything but 2xx (or not answering) is tried
//! again with backoff, from the same cursor.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::audit::Record;

const CLASS_UID: u64 = 6003;

/// One event in OCSF's API Activity class.
pub fn event(r: &Record) -> Value {
    let activity_id: u64 = match r.action.as_deref() {
        Some("status" | "history" | "audit") => 2,
        Some(_) => 3,
        None => 99,
    };
    let failed = matches!(r.phase.as_str(), "denied" | "failed" | "interrupted");
    let time = chrono::DateTime::parse_from_rfc3339(&r.at)
        .map(|t| t.timestamp_millis())
        .unwrap_or_default();
    let resource = match (&r.kind, &r.name) {
        (Some(kind), Some(name)) => vec![json!({
            "type": kind,
            "name": name,
            "namespace": r.namespace,
            "cluster": r.cluster,
            "environment": r.env,
        })],
        _ => Vec::new(),
    };
    json!({
        "class_uid": CLASS_UID,
        "category_uid": 6,
        "activity_id": activity_id,
        "type_uid": CLASS_UID * 100 + activity_id,
        "time": time,
        "severity_id": if failed { 3 } else { 1 },
        "status_id": if failed { 2 } else { 1 },
        "status": r.phase,
        "actor": {"user": {"uid": r.actor_id, "name": r.actor_name}},
        "api": {"operation": r.command_text, "service": {"name": "pitcrew"}},
        "resources": resource,
        "metadata": {
            "version": "1.1.0",
            "uid": r.id.to_string(),
            "correlation_uid": r.correlation,
            "product": {"name": "pitcrew", "vendor_name": "pitcrew"},
        },
        "unmapped": {"hash": r.hash, "prev_hash": r.prev_hash, "phase": r.phase, "event": r},
    })
}

/// OCSF over HTTPS to `[audit.https] url`.
pub struct HttpsSink {
    client: reqwest::Client,
    url: reqwest::Url,
    token: Option<secrecy::SecretString>,
}

impl HttpsSink {
    pub fn new(
        url: reqwest::Url,
        token: Option<secrecy::SecretString>,
    ) -> Result<HttpsSink, reqwest::Error> {
        let client = crate::http_client_builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpsSink { client, url, token })
    }
}

impl super::Sink for HttpsSink {
    fn name(&self) -> &'static str {
        "https"
    }

    fn send<'a>(&'a mut self, events: &'a [Record]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let body: Vec<Value> = events.iter().map(event).collect();
            let mut request = self.client.post(self.url.clone()).json(&body);
            if let Some(token) = &self.token {
                request = request.bearer_auth(secrecy::ExposeSecret::expose_secret(token));
            }
            // The URL is configuration, not a secret; the token never appears in errors.
            let host = self.url.host_str().unwrap_or_default().to_string();
            let answer = request
                .send()
                .await
                .map_err(|e| format!("posting to {host}: {}", e.without_url()))?;
            if answer.status().is_success() {
                Ok(())
            } else {
                Err(format!("{host} answered {}", answer.status()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_a_failed_api_activity_with_pitcrews_fields_unmapped() {
        let r: Record = serde_json::from_value(json!({
            "id": 9, "at": "2026-12-05T09:00:00.000Z", "correlation": "c", "phase": "denied",
            "actor_id": "U01ALICE", "actor_name": null, "team": null, "channel": null,
            "command_text": "restart deployment/x -e prod", "action": "restart", "env": "prod",
            "cluster": "main", "namespace": "shop", "kind": "deployment", "name": "x",
            "reason": null, "detail": "{}", "prev_hash": "p", "hash": "h"
        }))
        .unwrap();
        let e = event(&r);
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["type_uid"], 600303);
        assert_eq!(e["status_id"], 2);
        assert_eq!(e["metadata"]["uid"], "9");
        assert_eq!(e["unmapped"]["hash"], "h");
        assert_eq!(e["resources"][0]["name"], "x");
        assert_eq!(e["time"], 1_796_461_200_000i64);
    }
}
