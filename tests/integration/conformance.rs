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
    mount(
        &pd_fake,
        "GET",
        "/users",
        200,
        fakes::users("PCAROL1", "carol@acme.example"),
    )
    .await;
    mount(
        &pd_fake,
        "GET",
        "/oncalls",
        200,
        fakes::on_calls("PCAROL1", "PESC001", 1, 4),
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
    let bare = crate::common::http()
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
    // Who is on call: a person by e-mail, then their on-call entries.
    let carol = pd
        .user_by_email("Carol@acme.example")
        .await
        .expect("GET /users?query= conforms");
    assert_eq!(carol.as_deref(), Some("PCAROL1"));
    let entries = pd
        .on_calls("PCAROL1", &["PESC001".to_string(), "PESC002".to_string()])
        .await
        .expect("GET /oncalls?user_ids[]=&escalation_policy_ids[]= conforms");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (
            entries[0].escalation_policy.id.as_str(),
            entries[0].escalation_level
        ),
        ("PESC001", 1)
    );

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
        impersonate: false,
        impersonate_groups: vec![],
        timezone: chrono_tz::UTC,
        freezes: vec![],
        approvers: Default::default(),
        gitops: Default::default(),
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

/// Stands between pitcrew's Slack client and Prism to work around two quirks of the Slack
/// description, in the test set-up only (pitcrew's requests are what Slack accepts):
/// - it declares the token as a required `token` header (a `token` query parameter for
///   `users.info` and `usergroups.users.list`); real clients (slack-morphism included) send `Authorization: Bearer T`,
///   which OpenAPI tools ignore by rule. The shim copies the bearer token into `token`.
/// - its methods' parameters are Swagger 2 `formData`, which Prism accepts only as
///   `application/x-www-form-urlencoded` although `consumes` also lists `application/json`
///   (what slack-morphism sends, and Slack documents). The shim re-encodes a JSON body as the
///   equivalent form, nested values (blocks) as JSON strings as Slack's form API takes them,
///   so every field pitcrew sends is still checked by name, type and requiredness.
async fn slack_token_shim(prism: String) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let http = crate::common::http();
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (http, prism) = (http.clone(), prism.clone());
        async move {
            let mut target = format!(
                "{}{}",
                prism.trim_end_matches('/'),
                uri.path_and_query().map_or("/", |p| p.as_str())
            );
            if (uri.path().ends_with("users.info") || uri.path().ends_with("usergroups.users.list"))
                && let Some(token) = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            {
                let joiner = if target.contains('?') { '&' } else { '?' };
                target.push_str(&format!("{joiner}token={token}"));
            }
            let json = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let mut request = if json {
                let fields: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&body).expect("pitcrew sent a JSON object");
                let form: Vec<(String, String)> = fields
                    .into_iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => (k, s),
                        other => (k, other.to_string()),
                    })
                    .collect();
                http.request(method, target)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(serde_urlencoded::to_string(&form).expect("form"))
            } else {
                http.request(method, target).body(body)
            };
            for (name, value) in &headers {
                if name != "host" && name != "content-length" && !(json && name == "content-type") {
                    request = request.header(name, value);
                }
            }
            if let Some(token) = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
            {
                request = request.header("token", token);
            }
            let answer = request.send().await.expect("prism answers");
            let status = StatusCode::from_u16(answer.status().as_u16()).expect("status");
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name == "content-type" || name == "sl-violations" {
                    out.insert(name, value.clone());
                }
            }
            (status, out, answer.bytes().await.unwrap_or_default())
        }
    };
    let app = axum::Router::new().fallback(forward);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_web_api_calls_and_answers_conform_to_the_official_description() {
    let Some(bin) = require_env(Part::Tools, "PITCREW_TEST_PRISM") else {
        return;
    };
    let fake = MockServer::start().await;
    let message = serde_json::json!({
        "type": "message", "text": "restart checkout", "ts": "1503435956.000247",
        "user": "U01PITCREW", "bot_id": "B01PITCREW"
    });
    mount(
        &fake,
        "POST",
        "/chat.postMessage",
        200,
        serde_json::json!({"ok": true, "channel": "C01INCIDENT", "ts": "1503435956.000247", "message": message}),
    )
    .await;
    mount(
        &fake,
        "POST",
        "/chat.update",
        200,
        serde_json::json!({"ok": true, "channel": "C01INCIDENT", "ts": "1503435956.000247",
                           "text": "restart checkout: done", "message": {"text": "restart checkout: done"}}),
    )
    .await;
    mount(
        &fake,
        "GET",
        "/auth.test",
        200,
        serde_json::json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme",
                           "user": "pitcrew", "team_id": "T0PITCREW", "user_id": "U01PITCREW",
                           "bot_id": "B01PITCREW", "is_enterprise_install": false}),
    )
    .await;
    mount(
        &fake,
        "GET",
        "/users.info",
        200,
        serde_json::json!({"ok": true, "user": {
            "id": "U05ERIN", "team_id": "T0PITCREW", "name": "erin", "deleted": false,
            "real_name": "Erin", "tz": "Europe/Berlin", "tz_label": "CET", "tz_offset": 3600,
            "profile": {"real_name": "Erin", "display_name": "erin", "email": "erin@acme.example",
                        "avatar_hash": "ge3b51ca72de", "real_name_normalized": "Erin",
                        "display_name_normalized": "erin", "status_text": "", "status_emoji": "",
                        "team": "T0PITCREW", "image_24": "https://a.slack-edge.com/24.png",
                        "image_32": "https://a.slack-edge.com/32.png",
                        "image_48": "https://a.slack-edge.com/48.png",
                        "image_72": "https://a.slack-edge.com/72.png",
                        "image_192": "https://a.slack-edge.com/192.png",
                        "image_512": "https://a.slack-edge.com/512.png"},
            "color": "9f69e7", "is_admin": false, "is_owner": false, "is_primary_owner": false,
            "is_restricted": false, "is_ultra_restricted": false, "is_bot": false,
            "is_app_user": false, "updated": 1700000000, "has_2fa": false
        }}),
    )
    .await;
    mount(
        &fake,
        "GET",
        "/usergroups.users.list",
        200,
        serde_json::json!({"ok": true, "users": ["U060R4BJ4", "U05ERIN"]}),
    )
    .await;
    let uri = fake.uri();
    let prism =
        tokio::task::spawn_blocking(move || prism(&bin, "slack-web-api.openapi-v2.json", &uri))
            .await
            .expect("start prism");
    let shim = slack_token_shim(prism.url.clone()).await;

    // Prism really checks: a post without its required channel is refused.
    let bare = crate::common::http()
        .post(format!("{shim}chat.postMessage"))
        .header("Authorization", "Bearer xoxb-conformance")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("text=no+channel")
        .send()
        .await
        .expect("bare request");
    assert_eq!(
        bare.status().as_u16(),
        422,
        "prism flags a request that breaks the description"
    );

    pitcrew::install_crypto_provider();
    let health = std::sync::Arc::new(pitcrew::chat::health::SlackHealth::default());
    let slack = pitcrew::chat::web::SlackWeb::new(
        &shim.parse().expect("url"),
        &"xoxb-conformance".to_string().into(),
        health.clone(),
    )
    .expect("client");
    slack.auth_test().await.expect("GET auth.test conforms");
    // The live message as pitcrew posts it: text, then blocks with Confirm/Cancel buttons.
    let buttons = serde_json::json!({
        "type": "actions", "block_id": "pending-A-1",
        "elements": [
            {"type": "button", "action_id": "pitcrew_confirm", "style": "primary", "value": "A-1",
             "text": {"type": "plain_text", "text": "Confirm"}},
            {"type": "button", "action_id": "pitcrew_cancel", "style": "danger", "value": "A-1",
             "text": {"type": "plain_text", "text": "Cancel"}},
        ]
    });
    let blocks = pitcrew::chat::commands::blocks("`restart checkout -e prod`\n… checking", buttons);
    let ts = slack
        .post_message(
            "C01INCIDENT",
            "`restart checkout -e prod`\n… checking",
            Some(&blocks),
        )
        .await
        .expect("POST chat.postMessage with blocks conforms");
    assert_eq!(ts, "1503435956.000247");
    slack
        .update(
            "C01INCIDENT",
            &ts,
            "`restart checkout -e prod`\n✓ done",
            Some(&blocks),
        )
        .await
        .expect("POST chat.update conforms");
    slack
        .post_in_thread("C01INCIDENT", Some(&ts), "status: 2/2 ready")
        .await
        .expect("POST chat.postMessage in a thread conforms");
    // users.info, for mapping people to Kubernetes users by e-mail (impersonation).
    use pitcrew::workflow::identity::Directory;
    let erin = pitcrew::names::SlackUserId::parse("U05ERIN").expect("id");
    assert_eq!(
        slack.email(&erin).await.expect("GET users.info conforms"),
        Some("erin@acme.example".to_string())
    );
    // usergroups.users.list, for approver rules naming Slack user groups.
    assert!(
        slack
            .in_group(&erin, "S0DBAS01")
            .await
            .expect("GET usergroups.users.list conforms"),
        "Erin is a member"
    );
    assert_eq!(health.report(false)["web_api"]["ok"], true);
    let sent = fake.received_requests().await.unwrap_or_default();
    assert_eq!(sent.len(), 6, "every call went through Prism to the fake");
}
