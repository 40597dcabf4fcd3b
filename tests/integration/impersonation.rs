//! Acting as the requester (`impersonate = true`): every request of an action carries
//! `Impersonate-User`/`Impersonate-Group`, so the cluster's own RBAC decides too. Against the
//! real API server (RBAC on): a user allowed by pitcrew's policy everywhere, but by Kubernetes
//! only in one namespace; a group grant; a user who maps to nobody; impersonation off.

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, TestNamespace, revision_of};

const POLICY: &str = "\
p, U01ALICE, *, *, *, *, *, *, allow
p, U02BOB, *, *, *, *, *, *, allow
p, U03CAROL, *, *, *, *, *, *, allow
p, U05ERIN, *, *, *, *, *, *, allow
p, U06GONE, *, *, *, *, *, *, allow
g, U02BOB, role:oncall
";

/// A Role with `verbs` on Deployments (and what following a rollout reads) in `ns`, bound to
/// `subject` (`--user=…` or `--group=…`).
fn grant(cluster: &TestCluster, ns: &TestNamespace, verbs: &str, subject: &str) {
    cluster.kubectl(
        &ns.name,
        &[
            "create",
            "role",
            "acting",
            &format!("--verb={verbs}"),
            "--resource=deployments.apps,replicasets.apps,pods",
        ],
    );
    cluster.kubectl(
        &ns.name,
        &["create", "rolebinding", "acting", "--role=acting", subject],
    );
}

#[tokio::test]
async fn actions_run_with_the_requesters_own_kubernetes_rights() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (patchable, api_a) = cluster.with_deployment("imp-a", "checkout").await;
    let (readable, api_b) = cluster.with_deployment("imp-b", "checkout").await;
    let (grouped, api_c) = cluster.with_deployment("imp-c", "checkout").await;
    grant(
        &cluster,
        &patchable,
        "get,list,watch,patch",
        "--user=alice@acme.example",
    );
    grant(
        &cluster,
        &readable,
        "get,list,watch",
        "--user=alice@acme.example",
    );
    grant(
        &cluster,
        &grouped,
        "get,list,watch,patch",
        "--group=pitcrew:oncall",
    );
    // Erin is not in the table: her Slack profile's e-mail is her Kubernetes user.
    cluster.kubectl(
        &patchable.name,
        &[
            "create",
            "rolebinding",
            "acting-erin",
            "--role=acting",
            "--user=erin@acme.example",
        ],
    );
    let slack = wiremock::MockServer::start().await;
    for (user, deleted) in [("U05ERIN", false), ("U06GONE", true)] {
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .and(wiremock::matchers::path("/api/users.info"))
            .and(wiremock::matchers::query_param("user", user))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(slack_user(user, deleted)),
            )
            .mount(&slack)
            .await;
    }
    // Anyone else: Slack's answer for an unknown user.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/api/users.info"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": false, "error": "user_not_found"})),
        )
        .with_priority(10)
        .mount(&slack)
        .await;

    let pagerduty = crate::common::fakes::pagerduty(&[crate::common::fakes::incident(
        "Q1OPEN",
        "triggered",
        "P1",
        None,
    )])
    .await;
    let mut config = TestConfig::new(POLICY)
        .pagerduty(&pagerduty.uri())
        .cluster(&cluster.kubeconfig)
        .set("identity.users", "U01ALICE", "alice@acme.example")
        .set("identity.users", "U02BOB", "bob@acme.example")
        .set("identity", "from_slack_email", true)
        .slack(&slack.uri())
        .set("rollout", "timeout", "60s");
    for (env, ns) in [("a", &patchable), ("b", &readable), ("c", &grouped)] {
        config = config.environment(env, &ns.name).set(
            &format!("environments.{env}"),
            "impersonate",
            true,
        );
    }
    // The same namespace as `b`, without impersonation: pitcrew's own account acts.
    config = config.environment("plain", &readable.name);
    // And protected: the dry run shown for confirmation runs as the requester too.
    config = config.protected("guarded", &readable.name, 0).set(
        "environments.guarded",
        "impersonate",
        true,
    );
    let (dir, path) = config.write();
    let secrets = |name: &str| match name {
        "PAGERDUTY_TOKEN" => Some(crate::common::fakes::PD_TOKEN.to_string()),
        "SLACK_BOT_TOKEN" => Some("xoxb-impersonation".to_string()),
        _ => None,
    };
    let loaded = pitcrew::config::Config::load(&path, &secrets).expect("config");
    let ctx = pitcrew::workflow::Context::new(loaded)
        .await
        .expect("context");
    pitcrew::chat::SlackBot::from_config(&ctx.config, &ctx.metrics.outside)
        .expect("slack")
        .attach(&ctx);
    let run = |actor: &str, text: &str| {
        let request = pitcrew::workflow::Request {
            confirmed: true,
            ..pitcrew::workflow::Request::new(
                pitcrew::names::SlackUserId::parse(actor).expect("id"),
                pitcrew::command::parse(text).expect("command"),
            )
        };
        let ctx = ctx.clone();
        async move { pitcrew::workflow::run(&ctx, &request, &|_| {}).await }
    };
    let revision = |api: kube::Api<k8s_openapi::api::apps::v1::Deployment>| async move {
        revision_of(&api.get("checkout").await.expect("get"))
    };

    // Alice may patch in `a`: done, as her.
    let o = run("U01ALICE", "restart checkout -e a").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    // In `b` Kubernetes lets her read, not patch: refused by the cluster, said as her rights.
    let before = revision(api_b.clone()).await;
    let o = run("U01ALICE", "restart checkout -e b").await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(
        o.message()
            .starts_with("your Kubernetes identity alice@acme.example (no groups) may not do this")
            && o.message()
                .contains("cannot patch resource \"deployments\""),
        "{o:?}"
    );
    assert_eq!(revision(api_b.clone()).await, before, "nothing changed");
    // Bob's role maps to the group `pitcrew:oncall`, which may patch in `c`.
    let o = run("U02BOB", "restart checkout -e c").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    // Carol passes pitcrew's policy but maps to nobody: refused before any request.
    let before_a = revision(api_a.clone()).await;
    let o = run("U03CAROL", "restart checkout -e a").await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(o.message().contains("has no Kubernetes identity"), "{o:?}");
    assert_eq!(revision(api_a.clone()).await, before_a);
    // Protected: Alice is told before confirming that she could not patch; nothing waits
    // for a confirmation that could never work.
    let unconfirmed = pitcrew::workflow::Request::new(
        pitcrew::names::SlackUserId::parse("U01ALICE").expect("id"),
        pitcrew::command::parse("restart checkout -e guarded --reason Q1OPEN").expect("command"),
    );
    let o = pitcrew::workflow::run(&ctx, &unconfirmed, &|_| {}).await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(
        o.message()
            .starts_with("your Kubernetes identity alice@acme.example"),
        "{o:?}"
    );
    assert_eq!(revision(api_b.clone()).await, before, "nothing changed");
    // Erin maps by her Slack e-mail; a deactivated Slack account maps to nobody. (A second
    // restart of one workload within a second would be refused, as kubectl does: wait.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let o = run("U05ERIN", "restart checkout -e a").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    let o = run("U06GONE", "restart checkout -e a").await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(o.message().contains("deactivated"), "{o:?}");
    // Reads act as the requester too: Alice may read `b`; Carol, mapped to nobody, may not.
    let o = run("U01ALICE", "status checkout -e b").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    let o = run("U03CAROL", "history checkout -e a").await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(o.message().contains("has no Kubernetes identity"), "{o:?}");
    // Without impersonation, pitcrew's own account acts, as before.
    let o = run("U01ALICE", "restart checkout -e plain").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");

    // The trail: Alice's refusal is `denied` after `started`, which records who acted.
    let db = pitcrew::db::Database::open_sqlite(&dir.path().join("pitcrew.db"))
        .await
        .expect("db");
    let rows = pitcrew::audit::AuditStore::new(db)
        .query(&pitcrew::audit::Filter::default())
        .await
        .expect("query");
    let in_b: Vec<&pitcrew::audit::Record> = rows
        .iter()
        .filter(|r| r.env.as_deref() == Some("b"))
        .collect();
    let phases: Vec<&str> = in_b.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(
        phases,
        ["requested", "approved", "started", "denied"],
        "{phases:?}"
    );
    assert!(
        in_b[2].detail.contains("alice@acme.example"),
        "{}",
        in_b[2].detail
    );
    let carol: Vec<&str> = rows
        .iter()
        .filter(|r| r.actor_id == "U03CAROL")
        .map(|r| r.phase.as_str())
        .collect();
    assert_eq!(carol, ["requested", "denied"]);
    let _ = api_c;
}

/// `pitcrew identity` says, environment by environment, whom a user acts as and why.
#[test]
fn pitcrew_identity_shows_the_mapping_and_its_reasons() {
    let (_dir, path) = TestConfig::new("g, U02BOB, role:oncall\n")
        .offline()
        .environment("prod", "shop")
        .set("environments.prod", "impersonate", true)
        .set("environments.prod", "impersonate_groups", ["pitcrew:prod"])
        .environment("staging", "shop-staging")
        .set("identity.users", "U02BOB", "bob@acme.example")
        .write();
    let run = |user: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitcrew"))
            .env_clear()
            .args(["identity", user, "--config"])
            .arg(&path)
            .output()
            .expect("run pitcrew identity");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bob = run("U02BOB");
    assert!(bob.contains("U02BOB: pitcrew roles role:oncall"), "{bob}");
    assert!(
        bob.contains("prod: acts as bob@acme.example (groups pitcrew:oncall, pitcrew:prod)"),
        "{bob}"
    );
    assert!(
        bob.contains("staging: pitcrew's own Kubernetes account acts"),
        "{bob}"
    );
    let nobody = run("U09NOBODY");
    assert!(
        nobody.contains("prod: refused: U09NOBODY has no Kubernetes identity"),
        "{nobody}"
    );
}

/// A `users.info` answer as Slack documents it (the user object, trimmed to what matters).
fn slack_user(id: &str, deleted: bool) -> serde_json::Value {
    serde_json::json!({
        "ok": true,
        "user": {
            "id": id, "team_id": "T0PITCREW", "name": id.to_lowercase(), "deleted": deleted,
            "real_name": "Erin", "tz": "Europe/Berlin", "tz_label": "CET", "tz_offset": 3600,
            "profile": {"real_name": "Erin", "display_name": "erin",
                        "email": "erin@acme.example"},
            "is_admin": false, "is_owner": false, "is_bot": false, "updated": 1700000000
        }
    })
}
