//! `pitcrew audit query|show|verify|archive` on the embedded database, as an auditor runs them.

use super::*;

/// `pitcrew audit query|show|verify` on the embedded database, as an auditor runs them.
#[tokio::test]
async fn the_audit_commands_query_show_and_verify() {
    let (dir, config) = crate::common::app::TestConfig::new("")
        .set("clusters.c", "in_cluster", true)
        .environment_on("dev", "c", "dev")
        .write();
    let db = pitcrew::db::Database::open_sqlite(&dir.path().join("pitcrew.db"))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let store = AuditStore::new(db.clone());
    for i in 0..6 {
        store
            .append(event(i, ["requested", "approved", "succeeded"][i % 3]))
            .await
            .expect("append");
    }
    // Text as a hostile user might type it: a terminal escape and a spreadsheet formula.
    let mut hostile = event(6, "requested");
    hostile.command_text = "=HYPERLINK(\"http://evil\") \u{1b}[2J".into();
    store.append(hostile).await.expect("append");

    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .arg("audit")
            .args(args)
            .args(["--config", config.to_str().expect("utf-8")])
            .output()
            .expect("run");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("audit trail intact: 7 events, chain head "),
        "{out}"
    );

    let (code, out) = run(&["query", "--reason", "chg-4", "--format", "jsonl"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, out) = run(&[
        "query",
        "--since",
        "1h",
        "--actor",
        "@U0ALICE01",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json.as_array().map(|a| a.len()), Some(4));
    let (_, out) = run(&["query", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(out.lines().count(), 1, "only the header: {out}");

    let (_, table) = run(&["query"]);
    assert!(
        !table.contains('\u{1b}'),
        "no terminal escape reaches the screen"
    );
    let (_, csv) = run(&["query", "--format", "csv"]);
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")"),
        "formula defused:\n{csv}"
    );

    let export = dir.path().join("export.json");
    let (code, out) = run(&[
        "export",
        "--since",
        "1h",
        "-o",
        export.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).expect("read")).expect("json");
    assert_eq!(doc["chain"]["events"], 7);
    assert_eq!(doc["chain"]["intact"], true);
    assert_eq!(doc["events"].as_array().map(|a| a.len()), Some(7));
    assert_eq!(
        doc["chain"]["head"], doc["events"][6]["hash"],
        "the head is in the file"
    );

    let (code, out) = run(&[
        "archive",
        "--before",
        "2999-01-01",
        "-o",
        dir.path().join("archive.json").to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("nothing was removed; keep the export, then run again with --yes"),
        "{out}"
    );
    assert_eq!(
        run(&["verify"])
            .1
            .lines()
            .next()
            .map(|l| l.starts_with("audit trail intact: 7 events")),
        Some(true)
    );

    let (code, out) = run(&["show", "2"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().count(),
        4,
        "header and the 3 events of event 2's command:\n{out}"
    );

    let (code, out) = run(&[
        "archive",
        "--before",
        "2999-01-01",
        "--yes",
        "-o",
        dir.path().join("archive.json").to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("removed 7 events behind archive boundary event 8; the remaining chain of 1 events verifies"), "{out}");
    let archived: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("archive.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(
        archived["events"].as_array().map(|a| a.len()),
        Some(7),
        "the export holds what was removed"
    );
    let (code, out) = run(&["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(events up to 7 archived behind a boundary event)"),
        "{out}"
    );
    for i in 10..16 {
        store.append(event(i, "requested")).await.expect("append");
    }

    // Tamper behind the store's back; verify names the event and fails.
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(db.pool())
        .await
        .expect("drop");
    let changed = sqlx::query("UPDATE audit_events SET phase = 'succeeded' WHERE id = 10")
        .execute(db.pool())
        .await
        .expect("tamper");
    assert_eq!(changed.rows_affected(), 1);
    let (code, out) = run(&["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("audit trail BROKEN at event 10: its content does not match its hash"),
        "{out}"
    );
}

#[tokio::test]
async fn archiving_removes_old_events_behind_a_boundary_and_the_rest_still_verifies() {
    for t in TestDb::all().await {
        let label = t.label();
        let s = store(&t).await;
        for i in 0..10 {
            s.append(event(i, "requested")).await.expect("append");
        }
        let boundary = s
            .archive_through(
                4,
                "U0ARCHIVER",
                "audit archive --before 2026-01-01",
                serde_json::json!({"file": "x.json"}),
            )
            .await
            .expect("archive");
        assert_eq!(
            boundary.id, 11,
            "{label}: the boundary is appended to the chain"
        );
        let report = s.verify().await.expect("verify");
        assert_eq!(report.first_problem, None, "{label}");
        assert_eq!(report.archived_through, Some(4), "{label}");
        assert_eq!(
            report.events, 7,
            "{label}: 6 remaining events and the boundary"
        );
        // The archive's permission ended with its transaction.
        let e = raw(&t, "DELETE FROM audit_events WHERE id = 5")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{label}: {e}");
        // Archive again later, through the first boundary.
        s.append(event(20, "requested")).await.expect("append");
        s.archive_through(11, "U0ARCHIVER", "audit archive", serde_json::json!({}))
            .await
            .expect("archive again");
        let report = s.verify().await.expect("verify");
        assert_eq!(
            (report.first_problem, report.archived_through),
            (None, Some(11)),
            "{label}"
        );
        // Removing more behind pitcrew's back is still caught.
        disable_triggers(&t).await;
        raw(&t, "DELETE FROM audit_events WHERE id = 12")
            .await
            .expect("tamper");
        let p = s
            .verify()
            .await
            .expect("verify")
            .first_problem
            .expect("caught");
        assert_eq!(p.id, 13, "{label}: {p:?}");
        t.cleanup().await;
    }
}
