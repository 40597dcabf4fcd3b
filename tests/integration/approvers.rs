//! Approver rules against the real cluster with PagerDuty and Slack stand-ins (answering with
//! their official descriptions' examples): an approver on call now counts, one not on call is
//! refused, PagerDuty down refuses (fail closed); a Slack user group or a policy role can be
//! required; an on-call requester at a low enough level needs no approval, and the trail says
//! why.

use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::app::TestConfig;
use crate::common::cluster::{TestCluster, revision_of};
use crate::common::fakes;

const POLICY: &str = "\
p, U01ALICE, *, *, *, *, restart, *, allow
p, U02CAROL, *, *, *, *, restart, *, allow
p, U03BOB, *, *, *, *, restart, *, allow
p, role:approver, *, *, *, *, approve, *, allow
g, U02CAROL, role:approver
g, U03BOB, role:approver
g, U04DAN, role:approver
g, U05ERIN, role:approver
g, U06FRED, role:approver
g, U06FRED, role:commander
";

fn email(user: &str) -> String {
    format!("{}@acme.example", user[3..].to_lowercase())
}

/// Slack: every person's e-mail (`users.info`), and user group S0DBAS01 holding Erin.
async fn slack() -> MockServer {
    let slack = MockServer::start().await;
    for user in [
        "U01ALICE", "U02CAROL", "U03BOB", "U04DAN", "U05ERIN", "U06FRED",
    ] {
        Mock::given(method("GET"))
            .and(path("/api/users.info"))
            .and(query_param("user", user))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "ok": true,
                "user": {"id": user, "team_id": "T0PITCREW", "name": user.to_lowercase(),
                         "deleted": false, "is_bot": false, "updated": 1700000000,
                         "profile": {"real_name": user, "email": email(user)}}
            })))
            .mount(&slack)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/usergroups.users.list"))
        .and(query_param("usergroup", "S0DBAS01"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ok": true, "users": ["U05ERIN"]})),
        )
        .mount(&slack)
        .await;
    slack
}

/// PagerDuty: Carol on call at level 1 on PESC001, Bob on call nowhere, Dan's on-call lookup
/// failing (503).
async fn pagerduty() -> MockServer {
    let pd = fakes::pagerduty(&[fakes::incident("Q1OPEN", "triggered", "P1", None)]).await;
    Mock::given(method("GET"))
        .and(path("/oncalls"))
        .and(query_param("user_ids[]", "PDAN001"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&pd)
        .await;
    fakes::mount_on_call(
        &pd,
        &[
            (
                "carol@acme.example",
                "PCAROL1",
                fakes::on_calls("PCAROL1", "PESC001", 1, 4),
            ),
            ("bob@acme.example", "PBOB001", fakes::none_of("oncalls")),
            ("dan@acme.example", "PDAN001", fakes::none_of("oncalls")),
        ],
    )
    .await;
    pd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approver_rules_ask_pagerduty_and_slack_and_fail_closed() {
    let Some(cluster) = TestCluster::connect().await else {
        return;
    };
    let (prod_ns, prod) = cluster.with_deployment("oncall", "checkout").await;
    let (groups_ns, groups) = cluster.with_deployment("groups", "checkout").await;
    let (fast_ns, fast) = cluster.with_deployment("fast", "checkout").await;
    let (slack, pd) = (slack().await, pagerduty().await);
    let (_dir, path) = TestConfig::new(POLICY)
        .pagerduty(&pd.uri())
        .slack(&slack.uri())
        .cluster(&cluster.kubeconfig)
        .set("rollout", "timeout", "60s")
        .protected("prod", &prod_ns.name, 1)
        .set("environments.prod.approvers", "on_call", true)
        .set(
            "environments.prod.approvers",
            "escalation_policies",
            ["PESC001"],
        )
        .protected("groups", &groups_ns.name, 1)
        .set("environments.groups.approvers", "roles", ["role:commander"])
        .set(
            "environments.groups.approvers",
            "slack_groups",
            ["S0DBAS01"],
        )
        .protected("fast", &fast_ns.name, 1)
        .set("environments.fast.approvers", "requester_on_call_level", 1)
        .set(
            "environments.fast.approvers",
            "escalation_policies",
            ["PESC001"],
        )
        .write();
    let secrets = |name: &str| match name {
        "PAGERDUTY_TOKEN" => Some(fakes::PD_TOKEN.to_string()),
        "SLACK_BOT_TOKEN" => Some("xoxb-approvers".to_string()),
        _ => None,
    };
    let config = pitcrew::config::Config::load(&path, &secrets).expect("config");
    let ctx = pitcrew::workflow::Context::new(config)
        .await
        .expect("context");
    pitcrew::chat::SlackBot::from_config(&ctx.config, &ctx.metrics.outside)
        .expect("slack")
        .attach(&ctx);
    let user = |u: &str| pitcrew::names::SlackUserId::parse(u).expect("id");
    let run = |actor: &str, text: &str| {
        let request = pitcrew::workflow::Request {
            confirmed: true,
            ..pitcrew::workflow::Request::new(
                user(actor),
                pitcrew::command::parse(text).expect("command"),
            )
        };
        let ctx = ctx.clone();
        async move { pitcrew::workflow::run(&ctx, &request, &|_| {}).await }
    };
    let approve = |id: String, who: &str| {
        let (ctx, who) = (ctx.clone(), user(who));
        async move { pitcrew::workflow::approve(&ctx, &id, &who, None, &|_| {}).await }
    };
    let pending_id = |o: &pitcrew::workflow::Outcome| match o {
        pitcrew::workflow::Outcome::NeedsConfirmation {
            pending: Some(p), ..
        } => p.id.clone(),
        other => panic!("not waiting for approval: {other:?}"),
    };
    let revision = |api: &kube::Api<k8s_openapi::api::apps::v1::Deployment>| {
        let api = api.clone();
        async move { revision_of(&api.get("checkout").await.expect("get")) }
    };

    // prod: approvers must be on call now.
    let o = run("U01ALICE", "restart checkout -e prod --reason Q1OPEN").await;
    assert!(o.message().contains("who is on call now"), "{o:?}");
    let id = pending_id(&o);
    let o = approve(id.clone(), "U03BOB").await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(
        o.message().contains("PagerDuty does not show you on call"),
        "{o:?}"
    );
    let o = approve(id.clone(), "U04DAN").await;
    assert!(
        o.message()
            .contains("PagerDuty cannot say who is on call right now"),
        "PagerDuty down refuses: {o:?}"
    );
    assert_ne!(o.exit_code(), 0, "{o:?}");
    assert_eq!(revision(&prod).await, 1, "refused approvals run nothing");
    let o = approve(id.clone(), "U02CAROL").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    assert_eq!(revision(&prod).await, 2);

    // groups: a policy role or a Slack user group.
    let o = run("U01ALICE", "restart checkout -e groups --reason Q1OPEN").await;
    assert!(
        o.message()
            .contains("who holds role:commander or is in Slack group <!subteam^S0DBAS01>"),
        "{o:?}"
    );
    let id = pending_id(&o);
    let o = approve(id.clone(), "U03BOB").await;
    assert_eq!(o.exit_code(), 3, "{o:?}");
    assert!(o.message().contains("approvers must hold one of"), "{o:?}");
    let o = approve(id.clone(), "U05ERIN").await;
    assert_eq!(o.exit_code(), 0, "Erin is in the group: {o:?}");
    assert_eq!(revision(&groups).await, 2);

    // fast: Carol, on call at level 1, needs no approval; Bob (on call nowhere) does.
    let o = run("U03BOB", "restart checkout -e fast --reason Q1OPEN").await;
    pending_id(&o);
    assert_eq!(revision(&fast).await, 1);
    let o = run("U02CAROL", "restart checkout -e fast --reason Q1OPEN").await;
    assert_eq!(o.exit_code(), 0, "{o:?}");
    assert_eq!(revision(&fast).await, 2);

    // The trail: each approval with the rule that let it count, and the waiver's evidence.
    let db = ctx.db.clone().expect("db");
    let trail = pitcrew::audit::AuditStore::new(db)
        .query(&pitcrew::audit::Filter::default())
        .await
        .expect("trail");
    let details = |phase: &str| -> Vec<(String, serde_json::Value)> {
        trail
            .iter()
            .filter(|r| r.phase == phase)
            .map(|r| {
                (
                    r.actor_id.clone(),
                    serde_json::from_str(&r.detail).unwrap_or_default(),
                )
            })
            .collect()
    };
    let approvals = details("approval");
    assert_eq!(
        approvals.len(),
        2,
        "only the approvals that counted: {approvals:?}"
    );
    assert_eq!(approvals[0].0, "U02CAROL");
    assert_eq!(
        approvals[0].1["approver_rule"]["on_call"]["escalation_level"], 1,
        "{approvals:?}"
    );
    assert_eq!(approvals[1].0, "U05ERIN");
    assert_eq!(approvals[1].1["approver_rule"]["slack_group"], "S0DBAS01");
    let waived: Vec<_> = details("started")
        .into_iter()
        .filter(|(_, d)| !d["approval_waived"].is_null())
        .collect();
    assert_eq!(waived.len(), 1, "{waived:?}");
    assert_eq!(waived[0].0, "U02CAROL");
    assert_eq!(
        waived[0].1["approval_waived"]["on_call"]["escalation_policy"]["id"],
        "PESC001"
    );
}
