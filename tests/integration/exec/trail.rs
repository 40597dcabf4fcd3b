//! `pitcrew exec` and the audit trail: no `started`, no action; a verifiable trail; interrupted commands closed.

use super::*;

/// An audit sink that records in memory and fails on one phase, to prove the gate.
struct FailingAt(pitcrew::command::Phase, std::sync::Mutex<Vec<String>>);

impl pitcrew::workflow::gates::AuditSink for FailingAt {
    fn record<'a>(
        &'a self,
        e: &'a pitcrew::workflow::gates::AuditEvent,
    ) -> futures::future::BoxFuture<'a, Result<(), pitcrew::audit::Error>> {
        let result = if e.phase == self.0 {
            Err(pitcrew::audit::Error::Unavailable("disk full".to_string()))
        } else {
            self.1.lock().expect("lock").push(e.phase.to_string());
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }

    fn unfinished(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<Vec<pitcrew::audit::Record>, pitcrew::audit::Error>>
    {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn query(
        &self,
        _: pitcrew::audit::Filter,
    ) -> futures::future::BoxFuture<'_, Result<Vec<pitcrew::audit::Record>, pitcrew::audit::Error>>
    {
        Box::pin(std::future::ready(Err(pitcrew::audit::Error::NotQueryable)))
    }

    fn record_raw(
        &self,
        _: pitcrew::audit::NewEvent,
    ) -> futures::future::BoxFuture<'_, Result<(), pitcrew::audit::Error>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

#[tokio::test]
async fn nothing_runs_when_the_started_event_cannot_be_recorded() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (_ns, api, setup) = ready_checkout(&cluster, "nostart").await;
    let env = |k: &str| match k {
        "JIRA_EMAIL" | "JIRA_API_TOKEN" => Some("x".to_string()),
        _ => None,
    };
    let config = pitcrew::config::Config::load(&setup.config, &env).expect("config");
    let clusters = pitcrew::cluster::Clusters::connect(&config, None)
        .await
        .expect("clusters");
    let sink = FailingAt(pitcrew::command::Phase::Started, Default::default());
    let ctx = pitcrew::workflow::Context::with_parts(
        config,
        std::sync::Arc::new(clusters),
        Box::new(sink),
    )
    .expect("context");
    let request = pitcrew::workflow::Request {
        confirmed: true,
        ..pitcrew::workflow::Request::new(
            pitcrew::names::SlackUserId::parse("U01TESTER1").expect("id"),
            pitcrew::command::parse("restart checkout -e staging").expect("command"),
        )
    };
    let outcome = pitcrew::workflow::run(&ctx, &request, &|_| {}).await;
    assert_eq!(outcome.exit_code(), 5, "{outcome:?}");
    assert_eq!(
        outcome.message(),
        "the audit trail cannot be written (disk full); nothing was done"
    );
    assert_eq!(
        revision_of(&api.get("checkout").await.expect("get")),
        1,
        "the restart did not happen"
    );
}

#[tokio::test]
async fn exec_writes_a_verifiable_audit_trail_to_the_embedded_database() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (_ns, _api, setup) = ready_checkout(&cluster, "trail").await;
    assert_eq!(
        exec(&setup, "restart checkout -e staging --reason CHG-42").0,
        0
    );
    assert_eq!(exec(&setup, "restart checkout -e prod").0, 3);

    let db = pitcrew::db::Database::open_sqlite(&setup.config.with_file_name("pitcrew.db"))
        .await
        .expect("db");
    let store = pitcrew::audit::AuditStore::new(db);
    let all = store
        .query(&pitcrew::audit::Filter::default())
        .await
        .expect("query");
    let phases: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r.env.as_deref().unwrap_or(""), r.phase.as_str()))
        .collect();
    assert_eq!(
        phases,
        [
            ("staging", "requested"),
            ("staging", "approved"),
            ("staging", "started"),
            ("staging", "succeeded"),
            ("prod", "requested"),
            ("prod", "denied")
        ]
    );
    assert_eq!(all[0].reason.as_deref(), Some("CHG-42"));
    assert_eq!(all[0].kind.as_deref(), Some("deployment"));
    assert_eq!(all[0].name.as_deref(), Some("checkout"));
    assert_eq!(
        all[0].correlation, all[3].correlation,
        "one command, one correlation id"
    );
    assert_ne!(all[0].correlation, all[4].correlation);
    assert_eq!(store.verify().await.expect("verify").first_problem, None);
    // No secret from the environment reaches the trail (the database file, byte for byte).
    let mut bytes = std::fs::read(setup.config.with_file_name("pitcrew.db")).expect("read db");
    // Recent pages may still be in the write-ahead log.
    bytes.extend(std::fs::read(setup.config.with_file_name("pitcrew.db-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        "ATATT-secret-jira-token",
        "xoxb-secret-bot-token",
        "secret-signing-value",
        "robot-secret@example.com",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the audit database"
        );
    }
    assert!(
        text.contains("restart deployment/checkout -e staging --reason CHG-42"),
        "the check reads the real file"
    );
}

#[tokio::test]
async fn a_command_cut_off_after_started_is_closed_as_interrupted_with_the_state_found() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (ns, _api, setup) = ready_checkout(&cluster, "crash").await;

    // What a pitcrew killed right after `started` leaves in its database.
    let db = pitcrew::db::Database::open_sqlite(&setup.config.with_file_name("pitcrew.db"))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let store = pitcrew::audit::AuditStore::new(db);
    for phase in ["requested", "approved", "started"] {
        store
            .append(pitcrew::audit::NewEvent {
                correlation: "crashed-1".into(),
                phase: phase.into(),
                actor_id: "U01TESTER1".into(),
                command_text: "restart checkout -e staging".into(),
                action: Some("restart".into()),
                env: Some("staging".into()),
                cluster: Some("c-staging".into()),
                namespace: Some(ns.name.clone()),
                kind: Some("deployment".into()),
                name: Some("checkout".into()),
                detail: serde_json::json!({}),
                ..Default::default()
            })
            .await
            .expect("append");
    }

    // While another replica still holds the workload's lease, the command is running there:
    // reconciliation leaves it alone.
    let key =
        pitcrew::workflow::workload_lock_key("c-staging", Some(&ns.name), "deployment", "checkout");
    let at = |secs: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let lock_db = pitcrew::db::Database::open_sqlite(&setup.config.with_file_name("pitcrew.db"))
        .await
        .expect("db");
    sqlx::query("INSERT INTO workload_locks (lock_key, holder, token, correlation, acquired_at, expires_at) VALUES ($1, 'other-replica:7:x', 't', 'crashed-1', $2, $3)")
        .bind(&key)
        .bind(at(-5))
        .bind(at(60))
        .execute(lock_db.pool())
        .await
        .expect("a live lease");
    let (code, out) = exec(&setup, "status checkout -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("closed an interrupted command"),
        "a command leased by a live replica is not interrupted: {out}"
    );
    // Once the lease has run out (that replica died), it is closed.
    sqlx::query("UPDATE workload_locks SET expires_at = $1")
        .bind(at(-1))
        .execute(lock_db.pool())
        .await
        .expect("the lease runs out");

    let (code, out) = exec(&setup, "status checkout -e staging");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("! closed an interrupted command as `interrupted`: restart checkout -e staging — found: deployment \"checkout\" successfully rolled out (revision 1, images app=registry.invalid/checkout:1)"),
        "{out}"
    );
    let story = store
        .query(&pitcrew::audit::Filter {
            correlation: Some("crashed-1".into()),
            ..Default::default()
        })
        .await
        .expect("query");
    let phases: Vec<&str> = story.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(phases, ["requested", "approved", "started", "interrupted"]);
    assert!(
        story[3].detail.contains("successfully rolled out"),
        "{}",
        story[3].detail
    );
    assert_eq!(store.verify().await.expect("verify").first_problem, None);

    let (_, out) = exec(&setup, "status checkout -e staging");
    assert!(
        !out.contains("closed an interrupted command"),
        "closed once only: {out}"
    );
}
