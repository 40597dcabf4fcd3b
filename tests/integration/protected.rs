//! A protected environment end to end through `pitcrew exec`, against the real cluster and
//! PagerDuty/Jira stand-ins: nothing runs without a reason verified live or a break-glass the
//! policy grants; what runs is audited with the evidence and written back to the incident.

use std::path::PathBuf;
use std::time::Duration;

use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, revision_of, wait_for_deployment};
use crate::common::fakes;

const POLICY: &str = "\
g2, C01INCIDENT, channels:incident
p, role:oncall, prod, *, *, *, restart, channels:incident, allow
p, role:oncall, prod, *, *, *, rollback, channels:incident, allow
p, role:oncall, prod, *, *, *, status, *, allow
p, role:commander, prod, *, *, *, break-glass, channels:incident, allow
p, role:commander, prod, *, *, *, approve, channels:incident, allow
g, role:commander, role:oncall
g, U01ALICE, role:oncall
g, U02CAROL, role:commander
g, U03DAN, role:commander
p, role:compliance, *, *, *, *, audit, *, allow
g, U04FRANK, role:compliance
";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn config(&self) -> PathBuf {
        self.dir.path().join("pitcrew.toml")
    }

    fn pitcrew(&self, args: &[&str]) -> (i32, String) {
        crate::common::cli::pitcrew(
            &self.config(),
            &[("PAGERDUTY_TOKEN", fakes::PD_TOKEN)],
            args,
        )
    }

    fn exec(&self, user: &str, text: &str) -> (i32, String) {
        self.pitcrew(&[
            "exec",
            "--as",
            user,
            "--channel",
            "C01INCIDENT",
            "--yes",
            "--",
            text,
        ])
    }
}

/// The phases of the events in `audit query --format jsonl` output, in order.
fn phases_in(jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|e| e["phase"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The id of the request for approval that a refusal names (`… approve A-… (…`).
fn approval_id(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with("A-"))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .expect("an approval id")
}

fn setup(cluster: &TestCluster, ns: &str, pagerduty: &str) -> Setup {
    setup_with_approvals(cluster, ns, pagerduty, 0)
}

fn setup_with_approvals(cluster: &TestCluster, ns: &str, pagerduty: &str, approvals: u8) -> Setup {
    let (dir, _) = TestConfig::new(POLICY)
        .set("slack", "announce_channel", "C01ONCALL")
        .pagerduty(pagerduty)
        .set("pagerduty", "timeout", "1s")
        .set("pagerduty", "from_email", "pitcrew-bot@example.com")
        .set("rollout", "timeout", "60s")
        .cluster(&cluster.kubeconfig)
        .protected("prod", ns, 0)
        .set("environments.prod", "approvals", i64::from(approvals))
        .set("environments.prod", "pagerduty_services", ["PSHOP01"])
        .write();
    Setup { dir }
}

#[tokio::test]
async fn protected_environments_act_only_on_a_live_reason_or_a_granted_break_glass() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("protected", "checkout").await;

    let pd = fakes::pagerduty(&[
        fakes::incident("Q1OPEN", "triggered", "PSHOP01", None),
        fakes::incident(
            "Q1OLD99",
            "resolved",
            "PSHOP01",
            Some("2020-01-01T00:00:00Z"),
        ),
    ])
    .await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1DOWN"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&pd)
        .await;
    Mock::given(method("POST"))
        .and(path("/incidents/Q1OPEN/notes"))
        .and(header("from", "pitcrew-bot@example.com"))
        .and(body_string_contains(
            "restart deployment/checkout -e prod --reason Q1OPEN",
        ))
        .and(body_string_contains("succeeded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fakes::note_created()))
        .expect(1)
        .mount(&pd)
        .await;
    let s = setup(&cluster, &ns.name, &pd.uri());
    let revision = || async { revision_of(&api.get("checkout").await.expect("get")) };

    // Refusals first: nothing changes.
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod");
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("environment `prod` is protected: give --reason"),
        "{out}"
    );
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod --reason Q1OLD99");
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("is resolved; an action needs an open incident"),
        "{out}"
    );
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod --reason Q1DOWN");
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("PagerDuty answered with an error (503); retry, or use --break-glass"),
        "{out}"
    );
    let (code, out) = s.exec(
        "U01ALICE",
        "restart checkout -e prod --break-glass \"pagerduty is down, checkout 500s\"",
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("--break-glass needs the `break-glass` right in `prod`"),
        "{out}"
    );
    let (code, out) = s.exec("U09MALLORY", "restart checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 3, "{out}");
    assert_eq!(revision().await, 1, "refusals change nothing");

    // A live incident: verified, done, audited with the evidence, written back once.
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✓ justified: PagerDuty incident #1234 Q1OPEN \"The server is on fire.\" (triggered, service My Mail Service)"), "{out}");
    assert!(
        out.contains(
            "✓ delivered 1 queued message (write-back to the incident/issue, announcements)"
        ),
        "{out}"
    );
    assert_eq!(revision().await, 2);
    pd.verify().await;

    // Break-glass by someone who holds it: runs, loudly. (A second later: like kubectl,
    // restartedAt has one-second resolution, and a restart within the same second is a no-op.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (code, out) = s.exec(
        "U02CAROL",
        "restart checkout -e prod --break-glass \"pagerduty is down, checkout 500s\"",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("‼ BREAK-GLASS"), "{out}");
    assert_eq!(revision().await, 3);

    // The trail: the verified incident's evidence, and break-glass listed for follow-up.
    let (code, out) = s.pitcrew(&["audit", "query", "--reason", "Q1OPEN", "--format", "jsonl"]);
    assert_eq!(code, 0, "{out}");
    let approved = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["phase"] == "approved")
        .expect("an approved event");
    // `detail` is exported as the JSON text stored (what the hash covers).
    let detail: serde_json::Value =
        serde_json::from_str(approved["detail"].as_str().unwrap_or_default()).expect("detail");
    assert_eq!(detail["justification"]["result"], "verified", "{approved}");
    assert_eq!(
        detail["justification"]["evidence"]["incident"]["id"],
        "Q1OPEN"
    );
    assert!(
        detail["decision"]["rule"]
            .as_str()
            .unwrap_or_default()
            .contains("role:oncall, prod")
    );
    let (code, out) = s.pitcrew(&[
        "audit",
        "query",
        "--reason",
        "break-glass",
        "--actor",
        "U02CAROL",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{out}");
    let phases = phases_in(&out);
    assert_eq!(
        phases,
        ["requested", "approved", "started", "succeeded"],
        "{out}"
    );
    assert!(out.contains("\\\"result\\\":\\\"break-glass\\\""), "{out}");
    let (code, _) = s.pitcrew(&["audit", "verify"]);
    assert_eq!(code, 0);

    // The chat `audit` summary: for compliance, not for on-call.
    let (code, out) = s.exec("U04FRANK", "audit --since 1h -e prod");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("commands since"), "{out}");
    assert!(
        out.contains("U02CAROL  succeeded"),
        "the break-glass restart is listed: {out}"
    );
    assert!(
        out.contains("U01ALICE  denied"),
        "refusals are listed too: {out}"
    );
    // `audit report` in chat: the counts, the unreviewed break-glass, and the CLI for the file.
    let (code, out) = s.exec("U04FRANK", "audit report --since 1h -e prod");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Change report for prod from"), "{out}");
    assert!(
        out.contains("2 changes, 5 refused attempts, 1 break-glass change not reviewed"),
        "{out}"
    );
    assert!(
        out.contains("not reviewed: restart deployment/checkout"),
        "{out}"
    );
    assert!(out.contains("`pitcrew audit report --from "), "{out}");
    let (code, out) = s.exec("U04FRANK", "audit --actor @U02CAROL");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("U01ALICE"), "filtered by actor: {out}");
    let (code, out) = s.exec("U01ALICE", "audit -e prod");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("you may not read the audit trail"), "{out}");
}

#[tokio::test]
async fn a_second_person_approves_once_and_the_command_then_runs_as_requested() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("approve", "checkout").await;
    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "PSHOP01", None)]).await;
    let s = setup_with_approvals(&cluster, &ns.name, &pd.uri(), 1);
    let revision = || async { revision_of(&api.get("checkout").await.expect("get")) };

    // Without --yes: confirmation first.
    let (code, out) = s.pitcrew(&[
        "exec",
        "--as",
        "U01ALICE",
        "--channel",
        "C01INCIDENT",
        "--",
        "restart checkout -e prod --reason Q1OPEN",
    ]);
    assert_eq!(code, 6, "{out}");
    assert!(out.contains("confirm the change shown above"), "{out}");
    // Confirmed: a request for approval is opened, nothing runs yet.
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("needs 1 approval by someone else holding `approve`"),
        "{out}"
    );
    let id = approval_id(&out);
    assert_eq!(revision().await, 1);

    // The workload changes after the request: the approval no longer covers what would run.
    let stale_id = id.clone();
    let mut d = api.get("checkout").await.expect("get");
    if let Some(spec) = d.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.containers[0].image = Some("registry.invalid/checkout:2".into());
    }
    api.replace("checkout", &Default::default(), &d)
        .await
        .expect("change the image");
    wait_for_deployment(
        &cluster.client,
        &ns.name,
        "checkout",
        Duration::from_secs(60),
    )
    .await;
    let (code, out) = s.pitcrew(&["approve", &stale_id, "--as", "U02CAROL"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("was given for a different change"), "{out}");
    assert_eq!(revision().await, 2, "nothing ran on a stale approval");
    // Asked again: shown the change it would make now.
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("→ would restart deployment/checkout"),
        "the dry run is shown: {out}"
    );
    let id = approval_id(&out);

    let approve = |who: &str| s.pitcrew(&["approve", &id, "--as", who]);
    let (code, out) = approve("U01ALICE");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("you cannot approve your own request"), "{out}");
    let (code, out) = approve("U01BOB");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("you may not approve"), "{out}");
    assert_eq!(revision().await, 2, "refused approvals run nothing");

    let (code, out) = approve("U02CAROL");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("successfully rolled out"), "{out}");
    assert_eq!(revision().await, 3);
    // Single-use: a second click does nothing.
    let (code, out) = approve("U02CAROL");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("already used"), "{out}");
    assert_eq!(revision().await, 3);
    let (code, out) = s.pitcrew(&["approve", "A-nosuchthing", "--as", "U02CAROL"]);
    assert_eq!(code, 2, "{out}");

    // The trail names the requester as actor and the approver in the approval.
    let (_, out) = s.pitcrew(&[
        "audit",
        "query",
        "--reason",
        "Q1OPEN",
        "--outcome",
        "approved",
        "--format",
        "jsonl",
    ]);
    let last = out.lines().last().unwrap_or_default();
    let event: serde_json::Value = serde_json::from_str(last).unwrap_or_default();
    assert_eq!(event["actor_id"], "U01ALICE", "{out}");
    let detail: serde_json::Value =
        serde_json::from_str(event["detail"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        detail["approval"]["approvers"],
        serde_json::json!(["U02CAROL"]),
        "{detail}"
    );
    // Each approval is its own event, by the approver, with the rule that let them; a query
    // by approver finds the command, and the CSV shows requester and approver side by side.
    let (code, out) = s.pitcrew(&[
        "audit",
        "query",
        "--approver",
        "U02CAROL",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{out}");
    // Carol approved twice: the stale request (its command cancelled) and the one that ran.
    let phases = phases_in(&out);
    assert_eq!(
        phases.iter().filter(|p| *p == "approval").count(),
        2,
        "{out}"
    );
    assert_eq!(
        phases.last().map(String::as_str),
        Some("succeeded"),
        "{out}"
    );
    let events: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e["requester"] == "U01ALICE"
                && e["approvers"] == serde_json::json!(["U02CAROL"])),
        "{out}"
    );
    let approval = events
        .iter()
        .find(|e| e["phase"] == "approval")
        .cloned()
        .unwrap_or_default();
    assert_eq!(approval["actor_id"], "U02CAROL", "{out}");
    let detail: serde_json::Value =
        serde_json::from_str(approval["detail"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(detail["requester"], "U01ALICE", "{detail}");
    assert!(
        detail["rule"]
            .as_str()
            .unwrap_or_default()
            .contains("approve"),
        "the rule that let Carol approve: {detail}"
    );
    let (code, csv) = s.pitcrew(&[
        "audit",
        "query",
        "--approver",
        "U02CAROL",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{csv}");
    assert!(
        csv.lines()
            .next()
            .unwrap_or_default()
            .ends_with(",requester,approvers"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.ends_with(r#","U01ALICE","U02CAROL""#)),
        "{csv}"
    );
    let (_, none) = s.pitcrew(&["audit", "query", "--approver", "U01ALICE"]);
    assert!(!none.contains("restart"), "Alice approved nothing: {none}");

    // The change report, field by field: the one prod change, asked by Alice, justified by
    // the live incident, confirmed, approved by Carol (not by Alice), and what it changed.
    let (code, json) = s.pitcrew(&[
        "audit",
        "report",
        "--from",
        "1h",
        "--to",
        "2099-01-01",
        "--env",
        "prod",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).expect("the report as JSON");
    let changes = report["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 1, "{json}");
    let c = &changes[0];
    assert_eq!(c["requester"], "U01ALICE", "{c}");
    assert_eq!(c["approvers"], serde_json::json!(["U02CAROL"]), "{c}");
    assert_eq!(c["approved_by_requester"], false, "{c}");
    assert_eq!(c["confirmed_by"], "U01ALICE", "{c}");
    assert_eq!(c["justification_result"], "verified", "{c}");
    assert!(
        c["justification"]
            .as_str()
            .unwrap_or_default()
            .contains("Q1OPEN"),
        "{c}"
    );
    assert_eq!(c["outcome"], "succeeded", "{c}");
    assert!(
        c["changed"]
            .as_str()
            .unwrap_or_default()
            .contains("revision 2 → 3"),
        "{c}"
    );
    assert_eq!(report["chain"]["intact"], true, "{json}");
    assert!(
        report["changes"]
            .as_array()
            .is_some_and(|a| a.iter().all(|c| c["requester"] != c["approvers"][0]))
    );
}

/// Two approvals need two people: the same approver clicking twice counts once and is told so;
/// each approval is its own event.
#[tokio::test]
async fn the_same_person_cannot_approve_twice() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("twice", "checkout").await;
    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "PSHOP01", None)]).await;
    let s = setup_with_approvals(&cluster, &ns.name, &pd.uri(), 2);
    let (code, out) = s.exec("U01ALICE", "restart checkout -e prod --reason Q1OPEN");
    assert_eq!(code, 6, "{out}");
    let id = approval_id(&out);
    let approve = |who: &str| s.pitcrew(&["approve", &id, "--as", who]);
    let (code, out) = approve("U02CAROL");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 of 2"), "{out}");
    let (code, out) = approve("U02CAROL");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("you have already approved"), "{out}");
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 1);
    let (code, out) = approve("U03DAN");
    assert_eq!(code, 0, "{out}");
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 2);
    let (_, out) = s.pitcrew(&[
        "audit",
        "query",
        "--outcome",
        "approval",
        "--format",
        "jsonl",
    ]);
    let approvers: Vec<String> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|e| e["actor_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(approvers, ["U02CAROL", "U03DAN"], "{out}");
}

/// A rollback to the revision already running changes nothing, so nobody is asked to confirm
/// or approve it (even where approvals are needed): exit 0 in kubectl's words, recorded
/// `unchanged`, and no `started`: nothing touched Kubernetes.
#[tokio::test]
async fn a_rollback_with_nothing_to_do_asks_no_one_and_is_recorded_unchanged() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("noop", "checkout").await;
    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "PSHOP01", None)]).await;
    let s = setup_with_approvals(&cluster, &ns.name, &pd.uri(), 1);
    let (code, out) = s.pitcrew(&[
        "exec",
        "--as",
        "U01ALICE",
        "--channel",
        "C01INCIDENT",
        "--",
        "rollback checkout -e prod --to-revision 1 --reason Q1OPEN",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "skipped rollback (current template already matches revision 1); nothing was changed"
        ),
        "{out}"
    );
    assert!(!out.contains("confirm") && !out.contains("approv"), "{out}");
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 1);

    let (code, out) = s.pitcrew(&["audit", "query", "--reason", "Q1OPEN", "--format", "jsonl"]);
    assert_eq!(code, 0, "{out}");
    let phases = phases_in(&out);
    assert_eq!(phases, ["requested", "approved", "unchanged"], "{out}");
    let (code, out) = s.pitcrew(&["audit", "query", "--outcome", "unchanged"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("unchanged") && out.contains("deployment/checkout"),
        "{out}"
    );
}

/// A break-glass nobody is told about would be a silent bypass: without an announcement
/// channel it is refused before anything runs, with what to do instead.
#[tokio::test]
async fn break_glass_is_refused_when_nobody_can_be_told() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, api) = cluster.with_deployment("unannounced", "checkout").await;
    let pd = fakes::pagerduty(&[]).await;
    let s = setup(&cluster, &ns.name, &pd.uri());
    let text = std::fs::read_to_string(s.config()).expect("config");
    let without = text.replace("announce_channel = \"C01ONCALL\"\n", "");
    assert_ne!(text, without);
    std::fs::write(s.config(), without).expect("config");
    let (code, out) = s.exec(
        "U02CAROL",
        "restart checkout -e prod --break-glass \"pagerduty is down, checkout 500s\"",
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("--break-glass must be announced, and this pitcrew has no [slack].announce_channel configured; nothing was done"),
        "{out}"
    );
    assert_eq!(revision_of(&api.get("checkout").await.expect("get")), 1);
}
