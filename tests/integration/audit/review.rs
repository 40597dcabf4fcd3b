//! After-the-fact review of break-glass commands: `pitcrew audit review` lists what waits,
//! records a review (right `review`, never by who ran it, once), and `serve` reminds the
//! announce channel of what waited too long, once across replicas (both back-ends).

use super::*;
use crate::common::cli::pitcrew;

/// The story of one command, as the workflow records it.
fn story(correlation: &str, actor: &str, reason: &str) -> Vec<NewEvent> {
    ["requested", "approved", "started", "succeeded"]
        .into_iter()
        .map(|phase| NewEvent {
            correlation: correlation.into(),
            phase: phase.into(),
            actor_id: actor.into(),
            command_text: format!("restart deployment/checkout -e prod --reason {reason}"),
            action: Some("restart".into()),
            env: Some("prod".into()),
            cluster: Some("main".into()),
            namespace: Some("shop".into()),
            kind: Some("deployment".into()),
            name: Some("checkout".into()),
            reason: Some(reason.into()),
            ..NewEvent::default()
        })
        .collect()
}

#[tokio::test]
async fn break_glass_commands_are_reviewed_once_by_someone_else_with_the_right() {
    let (dir, config) =
        crate::common::app::TestConfig::new("p, U07REV, prod, *, *, *, review, *, allow\n")
            .set("clusters.main", "in_cluster", true)
            .environment("prod", "shop")
            .write();
    let db = pitcrew::db::Database::open_sqlite(&dir.path().join("pitcrew.db"))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let store = AuditStore::new(db.clone());
    store
        .append_many(story("c-glass", "U02CAROL", "break-glass"))
        .await
        .expect("append");
    store
        .append_many(story("c-normal", "U01ALICE", "CHG-1"))
        .await
        .expect("append");
    let run = |args: &[&str]| {
        let mut all = vec!["audit", "review"];
        all.extend_from_slice(args);
        pitcrew(&config, &[], &all)
    };
    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("c-glass") && !out.contains("c-normal"),
        "{out}"
    );
    assert!(out.contains("1 break-glass command not reviewed"), "{out}");
    let note = ["--note", "CHG-99 opened for the follow-up"];
    let review = |id: &str, who: &str| {
        let mut args = vec![id, "--as", who];
        args.extend_from_slice(&note);
        run(&args)
    };
    let (code, out) = review("c-normal", "U07REV");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a break-glass command"), "{out}");
    let (code, out) = review("c-glass", "U02CAROL");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("someone else must review it"), "{out}");
    let (code, out) = review("c-glass", "U08NOPE");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("you may not review it"), "{out}");
    // By any of its event ids.
    let started = store
        .query(&Filter {
            correlation: Some("c-glass".into()),
            phase: Some("started".into()),
            ..Filter::default()
        })
        .await
        .expect("query");
    let (code, out) = review(&started[0].id.to_string(), "U07REV");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reviewed c-glass"), "{out}");
    let (code, out) = review("c-glass", "U07REV");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("already reviewed by U07REV"), "{out}");
    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("every break-glass command has been reviewed"),
        "{out}"
    );
    let reviewed = store
        .query(&Filter {
            phase: Some("reviewed".into()),
            ..Filter::default()
        })
        .await
        .expect("query");
    assert_eq!(reviewed.len(), 1);
    assert_eq!(reviewed[0].actor_id, "U07REV");
    assert_eq!(reviewed[0].correlation, "c-glass");
    assert!(
        reviewed[0]
            .detail
            .contains("CHG-99 opened for the follow-up")
    );
    let (code, out) = pitcrew(&config, &[], &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn unreviewed_break_glass_is_brought_up_once_across_replicas() {
    for t in TestDb::all().await {
        let label = t.label();
        let db = t.db().clone();
        db.migrate().await.expect("migrate");
        let (_dir, path) = crate::common::app::TestConfig::new("")
            .offline()
            .environment("prod", "shop")
            .set("slack", "announce_channel", "C01ONCALL")
            .set("audit", "review_reminder_after", "1s")
            .write();
        let replica = || crate::common::app::replica_on(&path, &db);
        let (one, two) = (replica(), replica());
        let store = AuditStore::new(db.clone());
        store
            .append_many(story("c-waiting", "U02CAROL", "break-glass"))
            .await
            .expect("append");
        // Not due yet: nothing.
        assert_eq!(
            pitcrew::workflow::remind_unreviewed(&one)
                .await
                .expect("remind"),
            0,
            "{label}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        let (a, b) = tokio::join!(
            pitcrew::workflow::remind_unreviewed(&one),
            pitcrew::workflow::remind_unreviewed(&two)
        );
        assert_eq!((a.expect("remind"), b.expect("remind")), (1, 1), "{label}");
        pitcrew::workflow::remind_unreviewed(&one)
            .await
            .expect("again");
        let told = pitcrew::outbox::Outbox::new(db.clone())
            .items()
            .await
            .expect("outbox");
        assert_eq!(told.len(), 1, "{label}: once, whoever asks: {told:?}");
        assert_eq!(told[0].target, "C01ONCALL");
        assert!(told[0].body.contains("c-waiting"), "{label}");
        t.cleanup().await;
    }
}
