//! The gate sequence, without a cluster or a database: every path that must not act does not,
//! and every path that acted records its outcome after `started`.

mod fakes;

use std::sync::Arc;

use fakes::{Ending, FakeCluster, FakeJustifier, MemoryAudit};

use super::*;
use crate::command::Phase::{self, *};
use crate::justify::Verification;

const POLICY: &str = "\
p, U01ALICE, *, *, *, *, *, *, allow
p, U01BOB, staging, *, *, *, status, *, allow
p, U02CAROL, *, *, *, *, approve, *, allow
";

const CONFIG: &str = r#"
[jira]
base_url = "https://jira.invalid"
allowed_projects = ["CHG"]
approved_statuses = ["Approved"]
[policy]
model = "model.conf"
policy = "policy.csv"
[clusters.main]
kubeconfig = "kubeconfig"
[environments.staging]
cluster = "main"
namespaces = ["shop"]
[environments.dev]
cluster = "main"
namespaces = ["shop-dev"]
[environments.prod]
cluster = "main"
namespaces = ["shop-prod"]
protected = true
[environments.bank]
cluster = "main"
namespaces = ["bank"]
protected = true
approvals = 1
"#;

/// A context over fakes, and the fakes to look at afterwards.
struct Harness {
    ctx: Arc<Context>,
    cluster: Arc<FakeCluster>,
    audit: Arc<MemoryAudit>,
    _dir: tempfile::TempDir,
}

fn harness(justified: Verification, audit: MemoryAudit) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).expect("write a test file");
    };
    write("model.conf", include_str!("../../../policies/model.conf"));
    write("policy.csv", POLICY);
    write("kubeconfig", "apiVersion: v1\nkind: Config\n");
    let config =
        crate::config::Config::from_text(&dir.path().join("pitcrew.toml"), CONFIG, &|name| {
            matches!(name, "JIRA_EMAIL" | "JIRA_API_TOKEN").then(|| "unused".to_string())
        })
        .expect("the test configuration is valid");
    let cluster = FakeCluster::new();
    let audit = Arc::new(audit);
    let ctx = Context::build(
        config,
        Parts {
            clusters: cluster.clone(),
            audit: Box::new(audit.clone()),
            justifier: Arc::new(FakeJustifier(justified)),
            deliverers: Vec::new(),
            db: None,
        },
        crate::metrics::Metrics::new(),
    )
    .expect("context");
    Harness {
        ctx,
        cluster,
        audit,
        _dir: dir,
    }
}

fn verified() -> Verification {
    Verification::Verified {
        summary: "Jira CHG-1 approved".into(),
        evidence: serde_json::json!({"system": "jira", "issue": {"key": "CHG-1"}}),
    }
}

fn request(actor: &str, text: &str) -> Request {
    let command = command::parse(text).expect("a valid command");
    Request {
        confirmed: true,
        ..Request::new(SlackUserId::parse(actor).expect("a user id"), command)
    }
}

async fn run_it(h: &Harness, r: &Request) -> Outcome {
    run(&h.ctx, r, &|_| {}).await
}

/// The phase that closed the command, which must come after `started`.
fn outcome_after_started(phases: &[Phase]) -> Option<Phase> {
    let started = phases.iter().position(|p| *p == Started)?;
    let after = &phases[started + 1..];
    match after {
        [one] => Some(*one),
        _ => None,
    }
}

#[tokio::test]
async fn a_denied_command_acts_on_nothing() {
    let h = harness(verified(), MemoryAudit::default());
    let o = run_it(&h, &request("U01BOB", "restart deploy/checkout -e staging")).await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(
        h.cluster
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    );
    assert_eq!(h.audit.phases(), [Requested, Denied]);
}

#[tokio::test]
async fn a_failed_justification_acts_on_nothing() {
    let refused = Verification::Refused {
        message: "CHG-1 is not approved".into(),
    };
    let h = harness(refused, MemoryAudit::default());
    let o = run_it(
        &h,
        &request("U01ALICE", "restart deploy/checkout -e prod --reason CHG-1"),
    )
    .await;
    assert_eq!(o.exit_code(), 4, "{o:?}");
    assert!(o.message().contains("CHG-1 is not approved"), "{o:?}");
    assert!(
        h.cluster
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    );
    assert_eq!(h.audit.phases(), [Requested, Denied]);
}

/// The plan the fake's dry run gives for a restart in `bank`, as the requester saw it.
fn bank_plan(revision: i64) -> Plan {
    Plan {
        command: "restart deployment/checkout -e bank --reason CHG-1".into(),
        requester: "U01ALICE".into(),
        channel: None,
        env: "bank".into(),
        cluster: "main".into(),
        namespace: Some("bank".into()),
        changes: vec![PlannedChange {
            kind: "deployment".into(),
            namespace: "bank".into(),
            name: "checkout".into(),
            revision_before: Some(revision),
            revision_after: Some(revision + 1),
            rollback_to: None,
            images: Vec::new(),
            replicas: None,
        }],
    }
}

fn approved_by_carol(plan: &Plan) -> approvals::Approval {
    approvals::Approval {
        id: "A-0000000001".into(),
        expires_at: "2999-01-01T00:00:00.000Z".into(),
        requester: "U01ALICE".into(),
        channel: None,
        command_text: plan.command.clone(),
        env: "bank".into(),
        params_hash: plan.hash(),
        needed: 1,
        approvers: vec!["U02CAROL".into()],
        state: "used".into(),
        correlation: Some("c-approved".into()),
        team: None,
        message: None,
    }
}

#[tokio::test]
async fn an_approval_runs_the_plan_it_was_given_for_and_no_other() {
    let h = harness(verified(), MemoryAudit::default());
    let text = "restart deploy/checkout -e bank --reason CHG-1";
    // The workload moved since Carol approved (revision 3 then, 5 now): refused, nothing runs.
    *h.cluster.revision.lock().unwrap_or_else(|p| p.into_inner()) = 5;
    let stale = Request {
        approval: Some(approved_by_carol(&bank_plan(3))),
        ..request("U01ALICE", text)
    };
    let o = run_it(&h, &stale).await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(o.message().contains("different change"), "{o:?}");
    assert!(
        h.cluster.changes_made().is_empty(),
        "only dry runs happened"
    );
    assert!(!h.audit.phases().contains(&Started));
    // The same approval for the change as it stands now runs it, once.
    let current = Request {
        approval: Some(approved_by_carol(&bank_plan(5))),
        ..request("U01ALICE", text)
    };
    let o = run_it(&h, &current).await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    assert_eq!(h.cluster.changes_made(), ["restart checkout"]);
}

#[tokio::test]
async fn a_held_lock_refuses_and_nothing_runs() {
    let h = harness(verified(), MemoryAudit::default());
    let key = workload_lock_key("main", Some("shop"), "deployment", "checkout");
    let _held = h.ctx.locks.lock(&key, "another").await.expect("lock");
    let o = run_it(
        &h,
        &request("U01ALICE", "restart deploy/checkout -e staging"),
    )
    .await;
    assert_eq!(o.exit_code(), 2, "{o:?}");
    assert!(o.message().contains("another action"), "{o:?}");
    assert!(h.cluster.changes_made().is_empty());
    assert_eq!(h.audit.phases(), [Requested, Approved, Cancelled]);
}

#[tokio::test]
async fn nothing_runs_when_started_cannot_be_recorded() {
    let audit = MemoryAudit {
        fail_at: Some(Started),
        ..MemoryAudit::default()
    };
    let h = harness(verified(), audit);
    for text in [
        "restart deploy/checkout -e staging",
        "rollback deploy/checkout -e prod --reason CHG-1",
        "promote checkout --from staging --to prod --reason CHG-1",
    ] {
        let o = run_it(&h, &request("U01ALICE", text)).await;
        assert_eq!(o.exit_code(), 5, "{text}: {o:?}");
        assert_eq!(
            o.message(),
            "the audit trail cannot be written (disk full); nothing was done"
        );
    }
    assert!(h.cluster.changes_made().is_empty());
}

#[tokio::test]
async fn every_path_past_started_records_its_outcome() {
    let cases = [
        (Ending::Complete, None, Succeeded, 0),
        (Ending::Failed, None, Failed, 1),
        (Ending::TimedOut, None, Failed, 1),
        (Ending::Cancelled, None, Interrupted, 1),
        (Ending::Complete, Some("the API server refused"), Failed, 5),
    ];
    for (ends, refuse, phase, exit) in cases {
        for text in [
            "restart deploy/checkout -e staging",
            "rollback deploy/checkout -e staging --to-revision 1",
            "promote checkout --from staging --to dev",
            "restart deploy/checkout -e staging --dry-run",
        ] {
            let h = harness(verified(), MemoryAudit::default());
            *h.cluster.ends.lock().unwrap_or_else(|p| p.into_inner()) = ends;
            *h.cluster.refuse.lock().unwrap_or_else(|p| p.into_inner()) = refuse.map(Into::into);
            let o = run_it(&h, &request("U01ALICE", text)).await;
            let phases = h.audit.phases();
            let dry = text.ends_with("--dry-run");
            let (phase, exit) = if dry && refuse.is_none() {
                (Succeeded, 0)
            } else {
                (phase, exit)
            };
            assert_eq!(
                outcome_after_started(&phases),
                Some(phase),
                "{text} ({ends:?}, {refuse:?}): {phases:?}"
            );
            assert_eq!(o.exit_code(), exit, "{text} ({ends:?}): {o:?}");
        }
    }
}

#[tokio::test]
async fn a_failed_rollout_offers_the_rollback_that_undoes_it() {
    let h = harness(verified(), MemoryAudit::default());
    *h.cluster.ends.lock().unwrap_or_else(|p| p.into_inner()) = Ending::Failed;
    let o = run_it(
        &h,
        &request("U01ALICE", "restart deploy/checkout -e staging"),
    )
    .await;
    let undo = o.undo().map(|c| c.to_string());
    assert_eq!(
        undo.as_deref(),
        Some("rollback deployment/checkout -e staging --to-revision 3")
    );
    assert!(
        o.message()
            .ends_with("roll back with `rollback deployment/checkout -e staging --to-revision 3`"),
        "{o:?}"
    );
}

#[tokio::test]
async fn a_protected_change_waits_for_confirmation_after_showing_its_plan() {
    let h = harness(verified(), MemoryAudit::default());
    let planned = std::sync::Mutex::new(0);
    let unconfirmed = Request {
        confirmed: false,
        ..request("U01ALICE", "restart deploy/checkout -e prod --reason CHG-1")
    };
    let o = run(&h.ctx, &unconfirmed, &|e| {
        if let Event::Planned { change } = e {
            assert!(change.dry_run);
            *planned.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
    })
    .await;
    assert_eq!(o.exit_code(), 6, "{o:?}");
    assert_eq!(*planned.lock().unwrap_or_else(|p| p.into_inner()), 1);
    assert!(h.cluster.changes_made().is_empty());
    assert!(!h.audit.phases().contains(&Started));
    // Without a database nothing can wait for the button: the command ends, and the trail
    // keeps the plan that was shown.
    let events = h.audit.events.lock().unwrap_or_else(|p| p.into_inner());
    let last = events.last().expect("events");
    assert_eq!(last.phase, Cancelled);
    assert_eq!(last.detail["plan"]["changes"][0]["name"], "checkout");
    assert_eq!(last.detail["plan"]["requester"], "U01ALICE");
}
