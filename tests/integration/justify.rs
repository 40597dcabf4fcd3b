//! Justification against local PagerDuty and Jira stand-ins that answer with the official API
//! descriptions' examples: every acceptance and refusal rule, and every way the outside
//! service can fail (timeout, 429, 5xx, 401, 404, malformed JSON, huge bodies, redirects to
//! another host) ending in a clear refusal. Then write-back through the outbox, on SQLite and
//! PostgreSQL, never posting twice.

use std::time::Duration;

use pitcrew::command::Reason;
use pitcrew::config::{Environment, JiraConfig, PagerDutyConfig};
use pitcrew::justify::{Jira, LiveJustifier, PagerDuty};
use pitcrew::names::{ClusterName, EnvName, NamespaceName};
use pitcrew::outbox::{Kind, Notice, Outbox};
use pitcrew::workflow::gates::{Justifier, Verification};
use secrecy::SecretString;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::databases::TestDb;
use crate::common::fakes::{self, JIRA_EMAIL, JIRA_TOKEN, PD_TOKEN};

fn pd_config(url: &str, timeout: Duration, grace: Duration) -> PagerDutyConfig {
    PagerDutyConfig {
        api_base_url: url.parse().expect("url"),
        timeout,
        resolved_grace: grace,
        from_email: Some("pitcrew-bot@example.com".into()),
        cache_for: Duration::from_secs(30),
    }
}

fn pd(url: &str) -> PagerDuty {
    PagerDuty::new(
        pd_config(url, Duration::from_millis(800), Duration::from_secs(900)),
        SecretString::from(PD_TOKEN),
    )
}

fn jira(url: &str) -> Jira {
    Jira::new(
        JiraConfig {
            base_url: url.parse().expect("url"),
            allowed_projects: vec!["CHG".into(), "OPS".into()],
            allowed_issue_types: vec!["Change".into(), "Incident".into()],
            approved_statuses: vec!["Approved".into(), "Done".into()],
            timeout: Duration::from_millis(800),
            cache_for: Duration::from_secs(30),
        },
        SecretString::from(JIRA_EMAIL),
        SecretString::from(JIRA_TOKEN),
    )
}

fn env(services: &[&str]) -> (EnvName, Environment) {
    (
        EnvName::parse("prod").expect("env"),
        Environment {
            cluster: ClusterName::parse("main").expect("cluster"),
            namespaces: vec![NamespaceName::parse("shop").expect("ns")],
            protected: true,
            approvals: 0,
            channels: vec![],
            allow_gitops: false,
            pagerduty_services: services.iter().map(|s| s.to_string()).collect(),
            impersonate: false,
            impersonate_groups: vec![],
            timezone: chrono_tz::UTC,
            freezes: vec![],
            approvers: Default::default(),
            gitops: Default::default(),
        },
    )
}

fn incident(id: &str) -> Reason {
    Reason::parse(id).expect("reference")
}

async fn verify(j: &LiveJustifier, reason: &str, services: &[&str]) -> Verification {
    let (name, environment) = env(services);
    j.verify(&incident(reason), &name, &environment).await
}

fn accepted(v: &Verification) -> &str {
    match v {
        Verification::Verified { summary, .. } => summary,
        other => panic!("expected acceptance, got {other:?}"),
    }
}

fn refused(v: &Verification) -> &str {
    match v {
        Verification::Refused { message } => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339()
}

#[tokio::test]
async fn pagerduty_incidents_are_accepted_only_when_open_and_on_the_right_service() {
    let server = fakes::pagerduty(&[
        fakes::incident("Q1OPEN", "triggered", "PSHOP01", None),
        fakes::incident("Q1ACKED", "acknowledged", "PSHOP01", None),
        fakes::incident("Q1RECENT", "resolved", "PSHOP01", Some(&ago(5))),
        fakes::incident("Q1OLD99", "resolved", "PSHOP01", Some(&ago(60))),
        fakes::incident("Q1OTHER", "triggered", "PMAIL99", None),
    ])
    .await;
    let j = LiveJustifier::new(Some(pd(&server.uri())), None);

    let v = verify(&j, "Q1OPEN", &[]).await;
    let summary = accepted(&v);
    assert_eq!(
        summary,
        "PagerDuty incident #1234 Q1OPEN \"The server is on fire.\" (triggered, service My Mail Service)",
        "number, title, status and service are named"
    );
    if let Verification::Verified { evidence, .. } = &v {
        assert_eq!(
            evidence["incident"]["status"], "triggered",
            "the evidence is kept for the audit"
        );
    }
    assert!(accepted(&verify(&j, "Q1ACKED", &["PSHOP01"]).await).contains("acknowledged"));
    assert!(accepted(&verify(&j, "Q1RECENT", &[]).await).contains("within the 15m grace period"));
    assert!(
        refused(&verify(&j, "Q1OLD99", &[]).await)
            .contains("is resolved; an action needs an open incident")
    );
    assert!(
        refused(&verify(&j, "Q1OTHER", &["PSHOP01", "PPAYMT1"]).await)
            .contains("is not on a service of this environment (PSHOP01, PPAYMT1)")
    );
    // Unknown incident: PagerDuty answers 404.
    assert!(
        refused(&verify(&j, "Q1NOSUCH", &[]).await).contains("PagerDuty has no incident Q1NOSUCH")
    );
}

#[tokio::test]
async fn jira_issues_are_accepted_only_in_allowed_projects_types_and_approved_statuses() {
    let server = fakes::jira(&[
        fakes::issue(
            "CHG-1",
            "Raise checkout pool",
            "Approved",
            "In Progress",
            "Change",
        ),
        fakes::issue("CHG-2", "Deploy 1.2.1", "Closed", "Done", "Change"),
        fakes::issue("CHG-3", "Someday", "Awaiting approval", "To Do", "Change"),
        fakes::issue("CHG-4", "Typo fix", "Approved", "In Progress", "Story"),
        fakes::issue("HR-5", "Hiring", "Approved", "In Progress", "Change"),
    ])
    .await;
    let j = LiveJustifier::new(None, Some(jira(&server.uri())));
    assert_eq!(
        accepted(&verify(&j, "CHG-1", &[]).await),
        "Jira CHG-1 \"Raise checkout pool\" (Approved)"
    );
    assert!(
        accepted(&verify(&j, "chg-2", &[]).await).contains("(Closed)"),
        "status category Done counts"
    );
    assert!(
        refused(&verify(&j, "CHG-3", &[]).await)
            .contains("is not approved: its status must be one of Approved, Done")
    );
    assert!(
        refused(&verify(&j, "CHG-4", &[]).await)
            .contains("is a Story; only Change, Incident issues")
    );
    assert!(refused(&verify(&j, "HR-5", &[]).await).contains("is in project HR"));
    assert!(refused(&verify(&j, "CHG-404", &[]).await).contains("Jira has no issue CHG-404"));
}

#[tokio::test]
async fn a_service_that_fails_in_any_way_gets_a_clear_refusal_within_the_timeout() {
    let server = MockServer::start().await;
    let other_host = MockServer::start().await;
    let routes: Vec<(&str, ResponseTemplate)> = vec![
        (
            "Q1SLOW",
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(5))
                .set_body_json(fakes::incident("Q1SLOW", "triggered", "P1", None)),
        ),
        (
            "Q1LIMIT",
            ResponseTemplate::new(429).insert_header("retry-after", "30"),
        ),
        ("Q1DOWN", ResponseTemplate::new(503)),
        (
            "Q1AUTH",
            ResponseTemplate::new(401).set_body_json(
                serde_json::json!({"error": {"message": "Unauthorized", "code": 2006}}),
            ),
        ),
        (
            "Q1JUNK",
            ResponseTemplate::new(200).set_body_raw("{\"incident\": {\"id\": ", "application/json"),
        ),
        (
            "Q1SHAPE",
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"incidents": []})),
        ),
        (
            "Q1HUGE",
            ResponseTemplate::new(200)
                .set_body_raw(vec![b' '; 3 * 1024 * 1024], "application/json"),
        ),
        (
            "Q1AWAY",
            ResponseTemplate::new(302).insert_header(
                "location",
                format!("{}/incidents/Q1AWAY", other_host.uri()).as_str(),
            ),
        ),
    ];
    for (id, response) in routes {
        Mock::given(method("GET"))
            .and(path(format!("/incidents/{id}")))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let j = LiveJustifier::new(Some(pd(&server.uri())), None);
    for (id, expected) in [
        (
            "Q1SLOW",
            "PagerDuty did not answer in 800ms; retry, or use --break-glass \"why\" if you hold that right",
        ),
        (
            "Q1LIMIT",
            "PagerDuty is rate-limiting pitcrew right now; retry, or use --break-glass",
        ),
        ("Q1DOWN", "PagerDuty answered with an error (503); retry"),
        ("Q1AUTH", "pitcrew's PagerDuty credentials were refused"),
        (
            "Q1JUNK",
            "PagerDuty gave an answer pitcrew does not understand",
        ),
        (
            "Q1SHAPE",
            "PagerDuty gave an answer pitcrew does not understand",
        ),
        (
            "Q1HUGE",
            "PagerDuty gave an answer pitcrew does not understand",
        ),
        (
            "Q1AWAY",
            "PagerDuty gave an answer pitcrew does not understand",
        ),
    ] {
        let started = std::time::Instant::now();
        let v = verify(&j, id, &[]).await;
        assert!(refused(&v).contains(expected), "{id}: {v:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "{id} took {:?}",
            started.elapsed()
        );
    }
    assert!(
        other_host
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "a redirect is never followed, so the token never reaches another host"
    );
    // Nothing about the cause in the user's message leaks the token either.
    let v = verify(&j, "Q1AUTH", &[]).await;
    assert!(!refused(&v).contains(PD_TOKEN));
}

#[tokio::test]
async fn rate_limits_within_the_timeout_are_waited_out_and_5xx_retried_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1BUSY"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1BUSY"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fakes::incident(
            "Q1BUSY",
            "triggered",
            "P1",
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1FLAKY"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1FLAKY"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fakes::incident(
            "Q1FLAKY",
            "acknowledged",
            "P1",
            None,
        )))
        .mount(&server)
        .await;
    let j = LiveJustifier::new(Some(pd(&server.uri())), None);
    accepted(&verify(&j, "Q1BUSY", &[]).await);
    accepted(&verify(&j, "Q1FLAKY", &[]).await);
}

#[tokio::test]
async fn accepted_references_are_reused_for_the_cache_time_and_refusals_are_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1CACHED"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fakes::incident(
            "Q1CACHED",
            "triggered",
            "P1",
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/incidents/Q1CLOSED"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fakes::incident(
            "Q1CLOSED",
            "resolved",
            "P1",
            Some(&ago(600)),
        )))
        .expect(2)
        .mount(&server)
        .await;
    let j = LiveJustifier::new(Some(pd(&server.uri())), None);
    for _ in 0..3 {
        accepted(&verify(&j, "Q1CACHED", &[]).await);
    }
    for _ in 0..2 {
        refused(&verify(&j, "Q1CLOSED", &[]).await);
    }
    server.verify().await;
}

/// A reason whose service is not configured: the refusal points at the other source only when
/// that one is configured, and otherwise says what the platform team must configure (it once
/// sent the user from one unconfigured service to the other). No request leaves pitcrew.
#[tokio::test]
async fn a_reason_for_an_unconfigured_source_says_which_source_to_configure() {
    let neither = LiveJustifier::new(None, None);
    for reason in ["PT4KHLK", "OPS-12"] {
        let v = verify(&neither, reason, &[]).await;
        let message = refused(&v);
        assert!(
            message.contains("no other justification source is either"),
            "{message}"
        );
        assert!(
            message.contains("PagerDuty ([pagerduty] and PAGERDUTY_TOKEN) or Jira ([jira], JIRA_EMAIL and JIRA_API_TOKEN)"),
            "{message}"
        );
        assert!(!message.contains("give a"), "{message}");
    }

    let only_jira = LiveJustifier::new(None, Some(jira("http://127.0.0.1:9")));
    let message = refused(&verify(&only_jira, "PT4KHLK", &[]).await).to_string();
    assert!(
        message.starts_with("PagerDuty is not configured in this pitcrew, so incident PT4KHLK cannot be checked; give a Jira issue instead"),
        "{message}"
    );
    let only_pd = LiveJustifier::new(Some(pd("http://127.0.0.1:9")), None);
    let message = refused(&verify(&only_pd, "OPS-12", &[]).await).to_string();
    assert!(
        message.starts_with("Jira is not configured in this pitcrew, so issue OPS-12 cannot be checked; give a PagerDuty incident instead"),
        "{message}"
    );
}

fn text(t: &str) -> Notice {
    Notice::Text { text: t.into() }
}

/// Write-back: posted once; after an ambiguous failure (the note was posted but the answer
/// was a 500), the retry finds the marker and does not post again.
#[tokio::test]
async fn write_back_is_delivered_once_even_after_an_ambiguous_failure() {
    for db in TestDb::all().await {
        let label = db.label();
        db.db().migrate().await.expect("migrate");
        let outbox = Outbox::new(db.db().clone());
        let pd_server = MockServer::start().await;
        let jira_server = MockServer::start().await;
        // PagerDuty: the first POST "fails" with a 500 after having posted.
        Mock::given(method("POST"))
            .and(path("/incidents/Q1NOTE/notes"))
            .and(header("from", "pitcrew-bot@example.com"))
            .and(body_string_contains("corr-1"))
            .respond_with(ResponseTemplate::new(500))
            .expect(1)
            .mount(&pd_server)
            .await;
        Mock::given(method("GET"))
            .and(path("/incidents/Q1NOTE/notes"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fakes::notes(&[
                "Firefighters are on the scene.",
                "pitcrew: U01ALICE ran `restart checkout -e prod`: succeeded. Audit id corr-1",
            ])))
            .expect(1)
            .mount(&pd_server)
            .await;
        // Jira: posted at the first attempt, as an ADF document.
        Mock::given(method("POST"))
            .and(path("/rest/api/3/issue/CHG-7/comment"))
            .and(header("authorization", fakes::jira_auth().as_str()))
            .and(body_string_contains("\"type\":\"doc\""))
            .and(body_string_contains("Audit id corr-2"))
            .respond_with(ResponseTemplate::new(201).set_body_json(fakes::comment_created()))
            .expect(1)
            .mount(&jira_server)
            .await;
        let j = LiveJustifier::new(Some(pd(&pd_server.uri())), Some(jira(&jira_server.uri())));

        outbox
            .enqueue(
                Kind::PagerDutyNote,
                "Q1NOTE",
                "corr-1",
                &text(
                    "pitcrew: U01ALICE ran `restart checkout -e prod`: succeeded. Audit id corr-1",
                ),
            )
            .await
            .expect("enqueue");
        outbox
            .enqueue(
                Kind::PagerDutyNote,
                "Q1NOTE",
                "corr-1",
                &text("the same again"),
            )
            .await
            .expect("enqueue is idempotent");
        outbox
            .enqueue(
                Kind::JiraComment,
                "CHG-7",
                "corr-2",
                &Notice::Outcome {
                    actor: "U01BOB".into(),
                    command: "rollback cart -e prod".into(),
                    place: String::new(),
                    phase: "failed".into(),
                    summary: "the rollout failed".into(),
                    correlation: "corr-2".into(),
                },
            )
            .await
            .expect("enqueue");
        outbox
            .enqueue(
                Kind::SlackAnnounce,
                "C01INCIDENT",
                "corr-3",
                &text("break-glass"),
            )
            .await
            .expect("enqueue");
        assert_eq!(outbox.depth().await.expect("depth"), 3, "{label}");

        let first = outbox.deliver_due(&[&j]).await.expect("round 1");
        assert_eq!(
            (first.delivered, first.failed),
            (1, 1),
            "{label}: {first:?}"
        );
        // Retried at once here (the backoff is for real time): make it due.
        sqlx::query("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE delivered_at IS NULL")
            .execute(db.db().pool())
            .await
            .expect("make due");
        let second = outbox.deliver_due(&[&j]).await.expect("round 2");
        assert_eq!(
            (second.found_posted, second.delivered, second.failed),
            (1, 0, 0),
            "{label}: {second:?}"
        );
        let items = outbox.items().await.expect("items");
        let pd_item = items
            .iter()
            .find(|i| i.kind == "pagerduty-note")
            .expect("pd item");
        assert_eq!(pd_item.attempts, 2, "{label}");
        assert!(pd_item.delivered_at.is_some(), "{label}");
        // Slack announcements wait for a process with a Slack client; never dropped.
        assert_eq!(outbox.depth().await.expect("depth"), 1, "{label}");
        pd_server.verify().await;
        jira_server.verify().await;
        db.cleanup().await;
    }
}
