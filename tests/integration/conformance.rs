//! pitcrew's PagerDuty and Jira clients through Prism in proxy mode (`--errors`) in front of
//! the local stand-ins: every request pitcrew sends, and every answer the stand-ins give, is
//! checked against the official API descriptions (`tests/specs/`). A violation comes back as
//! 422 or 500 with an `sl-violations` header, which the clients see as a failure.
//! Jira's description leaves a comment's `body` untyped, so the ADF shape of comments is
//! asserted by the stand-in in `justify.rs` instead.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pitcrew::command::Reason;
use pitcrew::justify::{Judgement, LiveJustifier};
use pitcrew::workflow::gates::{Justifier, Verification};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::fakes;
use crate::common::{Part, require_env};

/// A Prism proxy process, stopped on drop.
struct Prism {
    child: Child,
    url: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn prism(bin: &str, spec: &str, upstream: &str) -> Prism {
    let port = free_port();
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/specs")
        .join(spec);
    let child = Command::new(bin)
        .args(["proxy", spec.to_str().expect("utf-8"), upstream, "--errors"])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prism");
    let prism = Prism {
        child,
        url: format!("http://127.0.0.1:{port}/"),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "prism did not start within 90 s for {}",
            spec.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    prism
}

async fn mount(server: &MockServer, verb: &str, route: &str, status: u16, body: serde_json::Value) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_and_jira_requests_and_answers_conform_to_the_official_descriptions() {
    let Some(bin) = require_env(Part::Tools, "PITCREW_TEST_PRISM") else {
        return;
    };
    let pd_fake = MockServer::start().await;
    mount(
        &pd_fake,
        "GET",
        "/incidents/Q1CONFORM",
        200,
        fakes::incident("Q1CONFORM", "triggered", "PSHOP01", None),
    )
    .await;
    mount(
        &pd_fake,
        "GET",
        "/incidents/Q1CONFORM/notes",
        200,
        fakes::notes(&["Firefighters are on the scene."]),
    )
    .await;
    mount(
        &pd_fake,
        "POST",
        "/incidents/Q1CONFORM/notes",
        200,
        fakes::note_created(),
    )
    .await;
    let jira_fake = MockServer::start().await;
    mount(
        &jira_fake,
        "GET",
        "/rest/api/3/issue/CHG-42",
        200,
        fakes::issue(
            "CHG-42",
            "Raise the pool",
            "Approved",
            "In Progress",
            "Change",
        ),
    )
    .await;
    mount(
        &jira_fake,
        "GET",
        "/rest/api/3/issue/CHG-42/comment",
        200,
        fakes::comments(&["LGTM"]),
    )
    .await;
    mount(
        &jira_fake,
        "POST",
        "/rest/api/3/issue/CHG-42/comment",
        201,
        fakes::comment_created(),
    )
    .await;

    let (pd_uri, jira_uri) = (pd_fake.uri(), jira_fake.uri());
    let bin2 = bin.clone();
    let (pd_prism, jira_prism) = tokio::task::spawn_blocking(move || {
        (
            prism(&bin2, "pagerduty-rest-v2.openapi.json", &pd_uri),
            prism(&bin2, "jira-cloud-platform.openapi-v3.json", &jira_uri),
        )
    })
    .await
    .expect("start prism");

    // Prism really checks: a GET without the Content-Type the description requires is refused.
    let bare = reqwest::Client::new()
        .get(format!("{}incidents/Q1CONFORM", pd_prism.url))
        .header("Authorization", format!("Token token={}", fakes::PD_TOKEN))
        .send()
        .await
        .expect("bare request");
    assert_eq!(
        bare.status().as_u16(),
        422,
        "prism flags a request that breaks the description"
    );

    let timeout = Duration::from_secs(10);
    let pd = pitcrew::justify::PagerDuty::new(
        pitcrew::config::PagerDutyConfig {
            api_base_url: pd_prism.url.parse().expect("url"),
            timeout,
            resolved_grace: Duration::ZERO,
            from_email: Some("pitcrew-bot@example.com".into()),
            cache_for: Duration::ZERO,
        },
        fakes::PD_TOKEN.to_string().into(),
    );
    let jira = pitcrew::justify::Jira::new(
        pitcrew::config::JiraConfig {
            base_url: jira_prism.url.parse().expect("url"),
            allowed_projects: vec!["CHG".into()],
            allowed_issue_types: vec![],
            approved_statuses: vec!["Approved".into()],
            timeout,
            cache_for: Duration::ZERO,
        },
        fakes::JIRA_EMAIL.to_string().into(),
        fakes::JIRA_TOKEN.to_string().into(),
    );

    let incident = pd
        .incident("Q1CONFORM")
        .await
        .expect("GET /incidents/{id} conforms");
    assert_eq!(incident.status, "triggered");
    let notes = pd
        .notes("Q1CONFORM")
        .await
        .expect("GET /incidents/{id}/notes conforms");
    assert_eq!(notes, vec!["Firefighters are on the scene.".to_string()]);
    pd.add_note(
        "Q1CONFORM",
        "pitcrew: U01ALICE ran `restart checkout -e prod`: succeeded.\nAudit id x",
    )
    .await
    .expect("POST /incidents/{id}/notes conforms");

    let issue = jira
        .issue("CHG-42")
        .await
        .expect("GET /rest/api/3/issue/{key} conforms");
    assert!(matches!(jira.judge(&issue), Judgement::Accepted(_)));
    let comments = jira
        .comments("CHG-42")
        .await
        .expect("GET …/comment conforms");
    assert_eq!(comments.len(), 1);
    jira.add_comment(
        "CHG-42",
        "pitcrew: U01ALICE ran `restart checkout -e prod`: succeeded.\nAudit id x",
    )
    .await
    .expect("POST …/comment with an ADF body conforms");

    // And through the justifier, as the workflow uses it.
    let j = LiveJustifier::new(Some(pd), Some(jira));
    let env = pitcrew::names::EnvName::parse("prod").expect("env");
    let environment = pitcrew::config::Environment {
        cluster: pitcrew::names::ClusterName::parse("main").expect("cluster"),
        namespaces: vec![],
        protected: true,
        approvals: 0,
        channels: vec![],
        allow_gitops: false,
        pagerduty_services: vec!["PSHOP01".into()],
    };
    for reference in ["Q1CONFORM", "CHG-42"] {
        let reason = Reason::parse(reference).expect("reference");
        let v = j.verify(&reason, &env, &environment).await;
        assert!(
            matches!(v, Verification::Verified { .. }),
            "{reference}: {v:?}"
        );
    }
}
