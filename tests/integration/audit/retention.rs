//! Retention with a clock the test controls, on both back-ends: events past `retain_online`
//! move to an archive file that verifies on its own (`audit verify --archive`), the trail left
//! behind still verifies, archives past `retain_total` are removed, and nothing leaves the
//! database when its archive cannot be written.

use chrono::{Duration, Utc};
use pitcrew::audit::AuditStore;

use crate::common::databases::TestDb;

fn events(n: usize) -> Vec<pitcrew::audit::NewEvent> {
    (0..n)
        .map(|i| pitcrew::audit::NewEvent {
            correlation: format!("c-{i}"),
            phase: "requested".into(),
            actor_id: "U01ALICE".into(),
            command_text: format!("restart deployment/web-{i} -e prod"),
            ..Default::default()
        })
        .collect()
}

#[tokio::test]
async fn old_events_move_to_verified_archives_and_old_archives_go() {
    for t in TestDb::all().await {
        let label = t.label();
        let db = t.db().clone();
        db.migrate().await.expect("migrate");
        let store = AuditStore::new(db.clone());
        store.append_many(events(50)).await.expect("append");
        let archive = tempfile::tempdir().expect("archive dir");
        let (_dir, path) = crate::common::app::TestConfig::new("")
            .offline()
            .environment("prod", "shop")
            .set("audit", "retain_online", "90d")
            .set("audit", "retain_total", "400d")
            .set("audit", "archive_dir", archive.path().display().to_string())
            .write();
        let replica = crate::common::app::replica_on(&path, &db);
        let now = Utc::now();

        // Nothing is old yet.
        let (archived, _) = pitcrew::workflow::keep_retention(&replica, now)
            .await
            .expect("sweep");
        assert!(archived.is_none(), "{label}");

        // 91 days on: the 50 events move to an archive that verifies alone.
        let (archived, removed) =
            pitcrew::workflow::keep_retention(&replica, now + Duration::days(91))
                .await
                .expect("sweep");
        let a = archived.expect("an archive");
        assert_eq!((a.events, a.through_id), (50, 50), "{label}");
        assert!(removed.is_empty(), "{label}");
        let (code, out) = crate::common::cli::pitcrew(
            &path,
            &[],
            &[
                "audit",
                "verify",
                "--archive",
                &a.file.display().to_string(),
            ],
        );
        assert_eq!(code, 0, "{label}: {out}");
        assert!(
            out.contains("intact: 50 events (ids 1 to 50)"),
            "{label}: {out}"
        );
        let left = store.verify().await.expect("verify");
        assert!(
            left.first_problem.is_none(),
            "{label}: the remaining chain verifies: {left:?}"
        );
        assert_eq!(left.archived_through, Some(50), "{label}");

        // An archive edited afterwards is caught.
        let copy = archive.path().join("edited.json");
        let text = std::fs::read_to_string(&a.file).expect("read");
        std::fs::write(
            &copy,
            text.replacen("restart deployment/web-3 ", "restart deployment/web-X ", 1),
        )
        .expect("write");
        let (code, out) = crate::common::cli::pitcrew(
            &path,
            &[],
            &["audit", "verify", "--archive", &copy.display().to_string()],
        );
        assert_eq!(code, 1, "{label}: {out}");
        assert!(out.contains("does not hash to its hash"), "{label}: {out}");
        std::fs::remove_file(&copy).expect("remove");

        // An archive that cannot be written: nothing leaves the database.
        store.append_many(events(10)).await.expect("append");
        let blocked = archive.path().join("not-a-dir");
        std::fs::write(&blocked, "").expect("a file where the directory would go");
        let before = store.last_id().await.expect("last id");
        let stuck = pitcrew::audit::retention::archive_before(
            &store,
            now + Duration::days(5),
            &blocked.join("sub"),
            "pitcrew",
            now + Duration::days(95),
        )
        .await;
        assert!(stuck.is_err(), "{label}");
        assert_eq!(
            store.query(&Default::default()).await.expect("query").len(),
            11,
            "{label}: nothing removed"
        );
        assert_eq!(store.last_id().await.expect("last id"), before, "{label}");

        // 95 days on: the boundary and the 10 newer events go to a second archive.
        let (archived, _) = pitcrew::workflow::keep_retention(&replica, now + Duration::days(95))
            .await
            .expect("sweep");
        assert_eq!(archived.map(|a| a.events), Some(11), "{label}");
        assert!(
            store
                .verify()
                .await
                .expect("verify")
                .first_problem
                .is_none(),
            "{label}"
        );

        // 500 days on: both archives are past retain_total and are removed.
        let (_, removed) = pitcrew::workflow::keep_retention(&replica, now + Duration::days(500))
            .await
            .expect("sweep");
        assert_eq!(removed.len(), 2, "{label}: {removed:?}");
        t.cleanup().await;
    }
}
