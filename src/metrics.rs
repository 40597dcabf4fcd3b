//! Prometheus metrics: one registry per process, held by the `Context`, served at `/metrics`
//! in the text exposition format.
//!
//! Label values are always from small fixed sets (an endpoint, an outcome label such as
//! `Refusal::label()`), never user text: a label per workspace, user or command text would
//! let anyone who can reach the endpoint grow the registry without bound.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `commands`, `events`, `interactions`, or `socket` for Socket Mode envelopes.
    pub endpoint: &'static str,
    /// `accepted`, `duplicate`, `unavailable`, `ignored`, or a refusal label.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub action: &'static str,
    /// `allowed` or `denied`.
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub action: &'static str,
    /// The audit phase: `started`, `succeeded`, `failed`, `interrupted`, `cancelled`, ...
    pub phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationLabels {
    /// `syslog` or `https` (from the configuration, never from input).
    pub destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    /// One of `housekeeping::TABLES`.
    pub table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: &'static str,
}

/// A request pitcrew made to an outside service, and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutsideLabels {
    /// `pagerduty`, `jira`, `slack` (the Web API) or `kubernetes`.
    pub service: &'static str,
    /// `ok`, or what went wrong (`timeout`, `network`, `server_error`, `rate_limited`, ...).
    pub outcome: &'static str,
}

/// Time to the answer of each request to an outside service, by service and outcome (its
/// `_count` by outcome counts the errors). Cheap to clone: clones share the same series, so
/// the clients of each service hold one.
#[derive(Clone)]
pub struct Outside(Family<OutsideLabels, Histogram>);

impl Outside {
    pub fn observe(&self, service: &'static str, outcome: &'static str, took: std::time::Duration) {
        self.0
            .get_or_create(&OutsideLabels { service, outcome })
            .observe(took.as_secs_f64());
    }
}

pub struct Metrics {
    registry: Registry,
    /// Requests to PagerDuty, Jira, Slack's Web API and the Kubernetes API servers.
    pub outside: Outside,
    /// Requests claiming to come from Slack, by how they were answered.
    pub slack_requests: Family<RequestLabels, Counter>,
    /// Time from receiving a request to answering it.
    pub slack_ack_seconds: Family<EndpointLabels, Histogram>,
    /// Policy decisions, by action and result.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Audit phases reached, by action: `started` counts actions begun, the others outcomes.
    pub actions: Family<PhaseLabels, Counter>,
    /// From `started` to the outcome (the change and following its rollout), by action.
    pub action_seconds: Family<ActionLabels, Histogram>,
    /// Write-back and announcements not yet delivered (set when scraped).
    pub outbox_depth: Gauge,
    /// Audit events each SIEM stream has not delivered yet, and those they delivered.
    pub siem_backlog: Family<DestinationLabels, Gauge>,
    pub siem_sent: prometheus_client::metrics::counter::Counter,
    /// Chain-head anchoring: failed tries, the newest anchored event, and what `/readyz` says.
    pub anchor_failures: prometheus_client::metrics::counter::Counter,
    pub anchored_event: Gauge,
    pub anchoring: AnchorHealth,
    /// Rows in the tables that grow with traffic (pruned by `housekeeping`).
    pub table_rows: Family<TableLabels, Gauge>,
    /// Rules in the policy in force, and refused reloads since start (set when scraped).
    pub policy_rules: Gauge,
    pub policy_reload_failures: Gauge,
    /// 1 when the policy files on disk are the policy in force, 0 when a reload was refused.
    pub policy_reload_ok: Gauge,
}

/// Acknowledgement latency buckets: Slack gives up at 3 s; most answers take well under 10 ms.
fn ack_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0,
    ]
    .into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pitcrew");
        let slack_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "slack_requests",
            "Requests claiming to come from Slack, by endpoint and outcome",
            slack_requests.clone(),
        );
        let slack_ack_seconds = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(ack_buckets())
        });
        registry.register(
            "slack_ack_seconds",
            "Time from receiving a Slack request to acknowledging it",
            slack_ack_seconds.clone(),
        );
        let outside = Family::<OutsideLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "outside_request_seconds",
            "Time to the answer of requests to outside services (pagerduty, jira, slack, kubernetes), by outcome",
            outside.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "policy_decisions",
            "Policy decisions, by action and result",
            decisions.clone(),
        );
        let actions = Family::<PhaseLabels, Counter>::default();
        registry.register(
            "actions",
            "Audit phases reached by commands, by action (started, succeeded, failed, ...)",
            actions.clone(),
        );
        let action_seconds = Family::<ActionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
            ])
        });
        registry.register(
            "action_seconds",
            "From started to the outcome (the change and its rollout), by action",
            action_seconds.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register(
            "outbox_depth",
            "Write-back and announcements not yet delivered",
            outbox_depth.clone(),
        );
        let siem_backlog = Family::<DestinationLabels, Gauge>::default();
        registry.register(
            "siem_backlog",
            "Audit events not yet delivered to the SIEM, by destination (syslog, https)",
            siem_backlog.clone(),
        );
        let siem_sent = prometheus_client::metrics::counter::Counter::default();
        registry.register(
            "siem_events_sent",
            "Audit events delivered to the SIEM (at least once; receivers de-duplicate by id)",
            siem_sent.clone(),
        );
        let anchor_failures = prometheus_client::metrics::counter::Counter::default();
        registry.register(
            "audit_anchor_failures",
            "Tries to have the audit chain head stamped by the timestamp authority that failed (retried)",
            anchor_failures.clone(),
        );
        let anchored_event = Gauge::default();
        registry.register(
            "audit_anchored_event",
            "The newest audit event whose hash a timestamp authority stamped",
            anchored_event.clone(),
        );
        let table_rows = Family::<TableLabels, Gauge>::default();
        registry.register(
            "table_rows",
            "Rows in the tables that grow with traffic (slack_requests, outbox, approvals, workload_locks), kept bounded by housekeeping",
            table_rows.clone(),
        );
        let policy_rules = Gauge::default();
        registry.register(
            "policy_rules",
            "Rules in the policy in force",
            policy_rules.clone(),
        );
        let policy_reload_failures = Gauge::default();
        registry.register(
            "policy_reload_failures",
            "Refused policy reloads since start",
            policy_reload_failures.clone(),
        );
        let policy_reload_ok = Gauge::default();
        registry.register(
            "policy_reload_ok",
            "1 when the policy files on disk are in force, 0 after a refused reload",
            policy_reload_ok.clone(),
        );
        Metrics {
            registry,
            outside: Outside(outside),
            slack_requests,
            slack_ack_seconds,
            decisions,
            actions,
            action_seconds,
            outbox_depth,
            siem_backlog,
            siem_sent,
            anchor_failures,
            anchored_event,
            anchoring: AnchorHealth::default(),
            table_rows,
            policy_rules,
            policy_reload_failures,
            policy_reload_ok,
        }
    }

    /// Counts one Slack request and how long its answer took.
    pub fn slack_request(
        &self,
        endpoint: &'static str,
        outcome: &'static str,
        took: std::time::Duration,
    ) {
        self.slack_requests
            .get_or_create(&RequestLabels { endpoint, outcome })
            .inc();
        self.slack_ack_seconds
            .get_or_create(&EndpointLabels { endpoint })
            .observe(took.as_secs_f64());
    }

    /// The text exposition format (`text/plain; version=0.0.4` compatible OpenMetrics text).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error would only mean a half-written page.
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_endpoint_and_outcome() {
        let m = Metrics::new();
        m.slack_request("commands", "accepted", std::time::Duration::from_millis(2));
        m.slack_request("commands", "accepted", std::time::Duration::from_millis(3));
        m.slack_request("commands", "bad_signature", std::time::Duration::ZERO);
        let text = m.render();
        assert!(
            text.contains(
                "pitcrew_slack_requests_total{endpoint=\"commands\",outcome=\"accepted\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "pitcrew_slack_requests_total{endpoint=\"commands\",outcome=\"bad_signature\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("pitcrew_slack_ack_seconds_count{endpoint=\"commands\"} 3"),
            "{text}"
        );
    }
}

/// What the last try to anchor the chain head found, for `/readyz`: a failing timestamp
/// authority makes the replica degraded (commands go on; anchoring is retried).
#[derive(Clone, Default)]
pub struct AnchorHealth(std::sync::Arc<std::sync::Mutex<Option<AnchorFailure>>>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorFailure {
    pub error: String,
    /// RFC 3339: when the first of the failures in a row happened.
    pub since: String,
}

impl AnchorHealth {
    pub fn succeeded(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn failed(&self, error: String, now: String) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let since = state.as_ref().map_or(now, |f| f.since.clone());
        *state = Some(AnchorFailure { error, since });
    }

    /// The failure in force, if the last try failed.
    pub fn failure(&self) -> Option<AnchorFailure> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
