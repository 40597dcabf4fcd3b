//! The tools need only what they use: the audit commands only the database (no Slack,
//! PagerDuty or Jira secrets, no kubeconfig), and a reviewer's read-only PostgreSQL role
//! (docs/audit.md) reads and verifies the trail but cannot change it.

use super::*;
use crate::common::cli::pitcrew;

/// The configuration of a real deployment (PagerDuty and Jira configured, a kubeconfig that is
/// not on this machine), read by a reviewer who has none of its secrets.
#[tokio::test]
async fn audit_tools_run_with_only_the_database() {
    let (dir, config) = crate::common::app::TestConfig::new("")
        .set(
            "clusters.main",
            "kubeconfig",
            "/nonexistent/kubeconfig.yaml",
        )
        .environment("prod", "shop")
        .pagerduty("https://api.pagerduty.example")
        .write();
    let db = pitcrew::db::Database::open_sqlite(&dir.path().join("pitcrew.db"))
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let store = AuditStore::new(db.clone());
    for i in 0..3 {
        store
            .append(event(i, ["requested", "approved", "succeeded"][i % 3]))
            .await
            .expect("append");
    }
    // The full configuration does not load without its secrets and kubeconfig...
    let (code, out) = pitcrew(&config, &[], &["config", "check"]);
    assert_ne!(code, 0, "{out}");
    // ...and the audit tools do not need them.
    let (code, out) = pitcrew(&config, &[], &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit trail intact: 3 events"), "{out}");
    let (code, out) = pitcrew(&config, &[], &["audit", "query", "--format", "csv"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    // The Slack app manifest needs the configuration's mode, not its secrets.
    let (code, out) = pitcrew(
        &config,
        &[],
        &["manifest", "--url", "https://pitcrew.example.com"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"slash_commands\""), "{out}");
    // Without any configuration: the database alone.
    let sqlite = format!("sqlite:{}", dir.path().join("pitcrew.db").display());
    let nowhere = dir.path().join("no-such-config.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
        .env_clear()
        .current_dir(dir.path())
        .args(["audit", "verify", "--database-url", &sqlite])
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    // Where the trail is not, it says so (and creates nothing).
    let missing = format!("sqlite:{}", dir.path().join("other.db").display());
    let (code, out) = pitcrew(
        &nowhere,
        &[],
        &["audit", "verify", "--database-url", &missing],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("there is no audit trail at"), "{out}");
    assert!(!dir.path().join("other.db").exists(), "nothing was created");
    // A password on the command line is refused (the process list shows it).
    let (code, out) = pitcrew(
        &nowhere,
        &[],
        &[
            "audit",
            "verify",
            "--database-url",
            "postgres://r:secret@127.0.0.1/x",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("DATABASE_URL") && !out.contains("secret@"),
        "{out}"
    );
}

/// The read-only role of docs/audit.md: `audit verify` and `audit query` work through it, and
/// the database refuses it any write.
#[tokio::test]
async fn a_reviewer_role_reads_the_trail_and_cannot_write() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    t.db().migrate().await.expect("migrate");
    let store = AuditStore::new(t.db().clone());
    for i in 0..3 {
        store
            .append(event(i, ["requested", "approved", "succeeded"][i % 3]))
            .await
            .expect("append");
    }
    let url = t.url().expect("a PostgreSQL URL");
    let role = format!("reviewer_{}", t.name());
    // docs/audit.md, "A read-only role for reviewers" (the role name and password set here).
    let grants = include_str!("../../../docs/reviewer-role.sql")
        .replace("pitcrew_reviewer", &role)
        .replace("CHANGE-ME", "reviewer-pw");
    // Comments first (they may hold a `;`), then one statement per `;`.
    let sql: String = grants
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(sqlx::AssertSqlSafe(statement.replace(":dbname", t.name())))
            .execute(t.db().pool())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let parsed = reqwest::Url::parse(&url).expect("url");
    let mut as_reviewer = parsed.clone();
    as_reviewer.set_username(&role).expect("user");
    as_reviewer
        .set_password(Some("reviewer-pw"))
        .expect("password");
    let env = [("DATABASE_URL", as_reviewer.as_str())];
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .envs(env)
            .current_dir("/")
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + String::from_utf8_lossy(&out.stderr).as_ref(),
        )
    };
    let (code, out) = run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit trail intact: 3 events"), "{out}");
    let (code, out) = run(&["audit", "query", "--format", "jsonl"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    // Writes are the database's to refuse, whatever the tool.
    let reviewer = pitcrew::db::Database::open_postgres(as_reviewer.as_str())
        .await
        .expect("connect as the reviewer");
    let write = sqlx::query("INSERT INTO outbox (created_at, kind, target, marker, body, next_attempt_at) VALUES ('x', 'k', 't', 'm', 'b', 'x')")
        .execute(reviewer.pool())
        .await;
    assert!(
        write.is_err_and(|e| e.to_string().contains("permission denied")),
        "the reviewer cannot write"
    );
    let (code, out) = run(&["audit", "archive", "--before", "1d", "--yes"]);
    assert_ne!(code, 0, "{out}");
    reviewer.close().await;
    // Drop the role before the database goes (a role with grants cannot be dropped).
    for sql in [
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON DATABASE {} FROM {role}", t.name()),
    ] {
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(t.db().pool())
            .await;
    }
    t.cleanup().await;
    if let Ok(mut admin) = <sqlx::PgConnection as sqlx::Connection>::connect(
        &std::env::var("DATABASE_URL").unwrap_or_default(),
    )
    .await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}")))
            .execute(&mut admin)
            .await;
    }
}
