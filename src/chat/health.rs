//! What this replica last saw of Slack, for `/readyz`: the Web API's last answer (every call
//! pitcrew makes records it, and `serve` asks `auth.test` periodically) and, in Socket Mode,
//! the last `hello` on a connection.
//!
//! An unreachable Slack makes a replica *degraded*, not unready: unready replicas are taken
//! out of the Service, and when Slack is down for everyone that would take out all of them,
//! including the `/readyz` an operator looks at to learn why.

use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

#[derive(Default)]
pub struct SlackHealth {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// When the Web API last answered, and the error of the last failure after it.
    web_ok_at: Option<DateTime<Utc>>,
    web_error: Option<(DateTime<Utc>, String)>,
    socket_hellos: u64,
    socket_hello_at: Option<DateTime<Utc>>,
}

fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl SlackHealth {
    /// Slack answered (any answer from Slack itself, even a refusal, shows it is reachable).
    pub fn reached(&self) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        i.web_ok_at = Some(Utc::now());
        i.web_error = None;
    }

    /// Slack could not be reached; `why` must hold no secret (it is shown in `/readyz`).
    pub fn unreachable(&self, why: &str) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        i.web_error = Some((Utc::now(), why.to_string()));
    }

    pub fn socket_hello(&self) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        i.socket_hellos += 1;
        i.socket_hello_at = Some(Utc::now());
    }

    /// `{"web_api": {"ok", "last_ok", "error"}, "socket": {...}}`; `ok` is null before the
    /// first call.
    pub fn report(&self, socket_mode: bool) -> Value {
        let i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let ok = match (&i.web_ok_at, &i.web_error) {
            (_, Some(_)) => Some(false),
            (Some(_), None) => Some(true),
            (None, None) => None,
        };
        let mut report = json!({
            "web_api": {
                "ok": ok,
                "last_ok": i.web_ok_at.as_ref().map(stamp),
                "error": i.web_error.as_ref().map(|(at, e)| format!("{e} (at {})", stamp(at))),
            }
        });
        if socket_mode {
            report["socket"] = json!({
                "connections_opened": i.socket_hellos,
                "last_hello": i.socket_hello_at.as_ref().map(stamp),
            });
        }
        report
    }

    /// True when the last thing seen of the Web API is a failure.
    pub fn degraded(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .web_error
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_until_slack_answers_again() {
        let h = SlackHealth::default();
        assert_eq!(h.report(false)["web_api"]["ok"], Value::Null);
        h.reached();
        assert_eq!(h.report(false)["web_api"]["ok"], true);
        h.unreachable("cannot connect to 127.0.0.1:9");
        let r = h.report(true);
        assert_eq!(r["web_api"]["ok"], false);
        assert!(
            r["web_api"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("127.0.0.1:9"))
        );
        assert_eq!(r["socket"]["connections_opened"], 0);
        assert!(h.degraded());
        h.reached();
        assert!(!h.degraded());
    }
}
