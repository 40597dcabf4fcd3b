//! `pitcrew audit report` on both back-ends: the rows an auditor reads (changes with their
//! justification, approvals and review; refused attempts; unreviewed break-glass), the same
//! fields in CSV and JSON, and the HTML page as a person sees it in headless Chromium
//! (Debian's package): its content, no request leaving the page, a screenshot kept.

use std::process::Command;

use pitcrew::audit::{AuditStore, NewEvent};

use crate::common::databases::TestDb;
use crate::common::{Part, require_env};

fn event(correlation: &str, phase: &str, actor: &str, detail: serde_json::Value) -> NewEvent {
    NewEvent {
        correlation: correlation.into(),
        phase: phase.into(),
        actor_id: actor.into(),
        command_text: format!("restart deployment/checkout -e prod --reason {correlation}"),
        action: Some("restart".into()),
        env: Some("prod".into()),
        cluster: Some("main".into()),
        namespace: Some("shop".into()),
        kind: Some("deployment".into()),
        name: Some("checkout".into()),
        detail,
        ..NewEvent::default()
    }
}

fn change(correlation: &str, requester: &str, justification: serde_json::Value) -> Vec<NewEvent> {
    let done = serde_json::json!({
        "change": {"kind": "Deployment", "name": "checkout", "namespace": "shop", "operation": "restart",
                   "before": {"revision": 4, "images": [["app", "shop/checkout:1"]]},
                   "after": {"revision": 5, "images": [["app", "shop/checkout:1"]]}},
        "outcome": {"outcome": "done", "message": "deployment \"checkout\" successfully rolled out"}
    });
    vec![
        event(correlation, "requested", requester, serde_json::json!({})),
        event(
            correlation,
            "approved",
            requester,
            serde_json::json!({"justification": justification}),
        ),
        event(
            correlation,
            "started",
            requester,
            serde_json::json!({"dry_run": false, "confirmed": true}),
        ),
        event(correlation, "succeeded", requester, done),
    ]
}

/// Runs `pitcrew audit report ARGS` on the trail at `url`.
fn report(url: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec![
        "audit",
        "report",
        "--from",
        "2000-01-01",
        "--to",
        "2099-01-01",
    ];
    all.extend_from_slice(args);
    crate::common::cli::run(&[("DATABASE_URL", url)], &all)
}

#[tokio::test]
async fn the_change_report_lists_what_an_auditor_asks_for_on_both_back_ends() {
    for t in TestDb::all().await {
        let label = t.label();
        t.db().migrate().await.expect("migrate");
        let url = match &t {
            TestDb::Sqlite { dir, .. } => {
                format!("sqlite:{}", dir.path().join("pitcrew.db").display())
            }
            TestDb::Postgres { .. } => t.url().expect("a PostgreSQL URL"),
        };
        let s = AuditStore::new(t.db().clone());
        let verified = serde_json::json!({"result": "verified", "summary": "PagerDuty incident #1234 Q1OPEN (triggered)"});
        let glass = serde_json::json!({"result": "break-glass", "text": "PagerDuty is down <script>alert(1)</script>"});
        let mut events = change("c-approved", "U01ALICE", verified.clone());
        events.insert(
            2,
            event("c-approved", "approval", "U02CAROL", serde_json::json!({})),
        );
        events.extend(change("c-self", "U01BOB", verified.clone()));
        events.insert(
            6,
            event("c-self", "approval", "U01BOB", serde_json::json!({})),
        );
        events.extend(change("c-glass", "U03DAN", glass.clone()));
        events.extend(change("c-glass-reviewed", "U03DAN", glass));
        events.push(event(
            "c-glass-reviewed",
            "reviewed",
            "U07REV",
            serde_json::json!({"note": "CHG-99 follow-up"}),
        ));
        events.push(event(
            "c-denied",
            "requested",
            "U09EVE",
            serde_json::json!({}),
        ));
        events.push(event("c-denied", "denied", "U09EVE", serde_json::json!({"outcome": {"outcome": "refused", "message": "you may not restart deployment/checkout in prod"}})));
        events.push(event(
            "c-dry",
            "requested",
            "U01ALICE",
            serde_json::json!({}),
        ));
        events.push(event(
            "c-dry",
            "started",
            "U01ALICE",
            serde_json::json!({"dry_run": true}),
        ));
        events.push(event(
            "c-dry",
            "succeeded",
            "U01ALICE",
            serde_json::json!({}),
        ));
        s.append_many(events).await.expect("append");

        let (code, json) = report(&url, &["--env", "prod", "--format", "json"]);
        assert_eq!(code, 0, "{label}: {json}");
        let r: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let changes = r["changes"].as_array().cloned().unwrap_or_default();
        let ids: Vec<&str> = changes
            .iter()
            .filter_map(|c| c["correlation"].as_str())
            .collect();
        assert_eq!(
            ids,
            ["c-approved", "c-self", "c-glass", "c-glass-reviewed"],
            "{label}: no dry run"
        );
        assert_eq!(
            changes[0]["approvers"],
            serde_json::json!(["U02CAROL"]),
            "{label}"
        );
        assert_eq!(changes[0]["approved_by_requester"], false, "{label}");
        assert_eq!(
            changes[0]["changed"], "restart; deployment/checkout in shop; revision 4 → 5",
            "{label}"
        );
        assert_eq!(
            changes[1]["approved_by_requester"], true,
            "{label}: flagged"
        );
        assert_eq!(changes[2]["break_glass"], true, "{label}");
        assert_eq!(changes[2]["review"], serde_json::Value::Null, "{label}");
        assert!(
            changes[3]["review"]
                .as_str()
                .unwrap_or_default()
                .starts_with("reviewed by U07REV"),
            "{label}"
        );
        let unreviewed: Vec<&str> = r["unreviewed"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["correlation"].as_str())
            .collect();
        assert_eq!(unreviewed, ["c-glass"], "{label}");
        assert_eq!(r["refused"][0]["requester"], "U09EVE", "{label}");
        assert!(
            r["refused"][0]["why"]
                .as_str()
                .unwrap_or_default()
                .contains("you may not restart"),
            "{label}"
        );
        assert_eq!(r["chain"]["intact"], true, "{label}");
        assert_eq!(r["chain"]["events"], 24, "{label}");

        let (code, csv) = report(&url, &["--format", "csv"]);
        assert_eq!(code, 0, "{label}: {csv}");
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[0].starts_with("section,at,correlation,requester"),
            "{label}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("\"change\"")).count(),
            4,
            "{label}"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("\"refused\""))
                .count(),
            1,
            "{label}"
        );
        assert!(
            lines
                .last()
                .is_some_and(|l| l.starts_with("\"chain\"") && l.contains("\"intact\"")),
            "{label}"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let page = dir.path().join("report.html");
        let (code, out) = report(
            &url,
            &["--env", "prod", "--out", page.to_str().unwrap_or_default()],
        );
        assert_eq!(code, 0, "{label}: {out}");
        let html = std::fs::read_to_string(&page).expect("the page");
        assert!(!html.contains("<script>"), "{label}: trail text is escaped");
        assert!(
            html.contains("not checked: give --config so the report can ask the clusters"),
            "{label}: says drift was not looked for without a cluster"
        );
        assert!(
            !html.contains("src=") && !html.contains("href=") && !html.contains("@import"),
            "{label}: self-contained"
        );
        if label == "sqlite" {
            seen_in_chromium(&page).await;
        }
        t.cleanup().await;
    }
}

/// The page as Chromium renders it: the text a reader sees, nothing fetched, no console
/// error; the screenshot is kept in the target directory for a person to look at.
async fn seen_in_chromium(page: &std::path::Path) {
    let Some(chromium) = require_env(Part::Tools, "PITCREW_TEST_CHROMIUM") else {
        return;
    };
    let url = format!("file://{}", page.display());
    let run = |extra: &[&str]| {
        let profile = tempfile::tempdir().expect("profile");
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium")
    };
    let dom = run(&["--dump-dom"]);
    let text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    for seen in [
        "Change report",
        "4</b> changes",
        "1</b> refused attempts",
        "APPROVED BY THE REQUESTER",
        "not reviewed",
        "Audit trail verified: intact",
        "U09EVE",
    ] {
        assert!(
            text.contains(seen),
            "{seen:?} not on the rendered page:\n{text}"
        );
    }
    assert!(
        !log.contains("CONSOLE") && !log.contains("Refused to"),
        "the page made the console complain:\n{log}"
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-report.png");
    let out = run(&[
        "--window-size=1400,1800",
        &format!("--screenshot={}", shot.display()),
    ]);
    assert!(
        out.status.success() && shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("the report as Chromium shows it: {}", shot.display());
}
