//! Local stand-ins for PagerDuty and Jira (wiremock) that answer with the official API
//! descriptions' own examples, adjusted field by field for a scenario, and that assert the
//! headers Prism cannot (OpenAPI tools ignore `Accept` and `Authorization` parameters).

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const PD_TOKEN: &str = "pd-test-token-7f3a";
pub const PD_ACCEPT: &str = "application/vnd.pagerduty+json;version=2";
pub const JIRA_EMAIL: &str = "robot@example.com";
pub const JIRA_TOKEN: &str = "jira-test-token-91c2";

fn spec(name: &str) -> &'static Value {
    static PD: OnceLock<Value> = OnceLock::new();
    static JIRA: OnceLock<Value> = OnceLock::new();
    let cell = if name.starts_with("pagerduty") {
        &PD
    } else {
        &JIRA
    };
    cell.get_or_init(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/specs")
            .join(name);
        let text = std::fs::read_to_string(&p).expect("read spec");
        serde_json::from_str(&text).expect("spec is JSON")
    })
}

/// The example of a response in an OpenAPI description (Jira's are JSON inside a string).
fn example(spec_name: &str, path: &str, method: &str, status: &str) -> Value {
    let content =
        &spec(spec_name)["paths"][path][method]["responses"][status]["content"]["application/json"];
    let v = if !content["examples"].is_null() {
        content["examples"]["response"]["value"].clone()
    } else {
        content["example"].clone()
    };
    match v {
        Value::String(s) => serde_json::from_str(&s).expect("example JSON"),
        other => other,
    }
}

const PD: &str = "pagerduty-rest-v2.openapi.json";
const JIRA: &str = "jira-cloud-platform.openapi-v3.json";

/// PagerDuty's documented incident, with the given id, status and service.
pub fn incident(id: &str, status: &str, service: &str, resolved_at: Option<&str>) -> Value {
    let mut v = example(PD, "/incidents/{id}", "get", "200");
    let i = &mut v["incident"];
    i["id"] = id.into();
    i["status"] = status.into();
    i["service"]["id"] = service.into();
    i["resolved_at"] = resolved_at.map(Value::from).unwrap_or(Value::Null);
    if let Some(at) = resolved_at {
        i["last_status_change_at"] = at.into();
    }
    v
}

pub fn notes(contents: &[&str]) -> Value {
    let mut v = example(PD, "/incidents/{id}/notes", "get", "200");
    let template = v["notes"][0].clone();
    v["notes"] = contents
        .iter()
        .map(|c| {
            let mut n = template.clone();
            n["content"] = (*c).into();
            n
        })
        .collect();
    v
}

pub fn note_created() -> Value {
    example(PD, "/incidents/{id}/notes", "post", "200")
}

/// PagerDuty's documented `GET /users` answer, holding one user with this id and e-mail.
pub fn users(id: &str, email: &str) -> Value {
    let mut v = example(PD, "/users", "get", "200");
    let mut user = v["users"][0].clone();
    user["id"] = id.into();
    user["email"] = email.into();
    v["users"] = serde_json::json!([user]);
    v
}

/// PagerDuty's documented `GET /oncalls` answer: `user` on call for `policy` at `level`,
/// from an hour ago for `hours_left` more hours.
pub fn on_calls(user: &str, policy: &str, level: u32, hours_left: i64) -> Value {
    let mut v = example(PD, "/oncalls", "get", "200");
    let mut entry = v["oncalls"][0].clone();
    let now = chrono::Utc::now();
    entry["user"]["id"] = user.into();
    entry["escalation_policy"]["id"] = policy.into();
    entry["escalation_level"] = level.into();
    entry["start"] = (now - chrono::Duration::hours(1)).to_rfc3339().into();
    entry["end"] = (now + chrono::Duration::hours(hours_left))
        .to_rfc3339()
        .into();
    v["oncalls"] = serde_json::json!([entry]);
    v
}

/// An empty `GET /oncalls` or `GET /users` answer (`list`: "oncalls" or "users").
pub fn none_of(list: &str) -> Value {
    let path = format!("/{list}");
    let mut v = example(PD, &path, "get", "200");
    v[list] = serde_json::json!([]);
    v
}

/// Mounts on-call answers: each person (e-mail, PagerDuty user id, their `GET /oncalls`
/// answer) is found by e-mail and answered for; anyone else is no PagerDuty user.
pub async fn mount_on_call(server: &MockServer, people: &[(&str, &str, Value)]) {
    use wiremock::matchers::query_param;
    for (email, id, answer) in people {
        Mock::given(method("GET"))
            .and(path("/users"))
            .and(query_param("query", *email))
            .and(header("accept", PD_ACCEPT))
            .respond_with(ResponseTemplate::new(200).set_body_json(users(id, email)))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/oncalls"))
            .and(query_param("user_ids[]", *id))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(none_of("users")))
        .with_priority(10)
        .mount(server)
        .await;
}

/// Jira's documented issue, with the given key, summary, status (and category), type.
pub fn issue(key: &str, summary: &str, status: &str, category: &str, kind: &str) -> Value {
    let mut v = example(JIRA, "/rest/api/3/issue/{issueIdOrKey}", "get", "200");
    v["key"] = key.into();
    let project = key.split('-').next().unwrap_or_default();
    v["fields"] = serde_json::json!({
        "summary": summary,
        "status": {"name": status, "id": "10001", "statusCategory": {"key": category.to_lowercase(), "name": category, "id": 3}},
        "issuetype": {"name": kind, "id": "10002"},
        "project": {"key": project, "id": "10000", "name": project},
    });
    v
}

pub fn comments(texts: &[&str]) -> Value {
    let mut v = example(
        JIRA,
        "/rest/api/3/issue/{issueIdOrKey}/comment",
        "get",
        "200",
    );
    let template = v["comments"][0].clone();
    v["comments"] = texts
        .iter()
        .map(|t| {
            let mut c = template.clone();
            c["body"] = serde_json::json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]}]});
            c
        })
        .collect();
    v["total"] = texts.len().into();
    v
}

pub fn comment_created() -> Value {
    example(
        JIRA,
        "/rest/api/3/issue/{issueIdOrKey}/comment",
        "post",
        "201",
    )
}

/// A PagerDuty stand-in that serves `incidents/{id}` for each incident given, checking the
/// headers the real API requires.
pub async fn pagerduty(incidents: &[Value]) -> MockServer {
    let server = MockServer::start().await;
    for i in incidents {
        let id = i["incident"]["id"].as_str().unwrap_or_default().to_string();
        Mock::given(method("GET"))
            .and(path(format!("/incidents/{id}")))
            .and(header("accept", PD_ACCEPT))
            .and(header(
                "authorization",
                format!("Token token={PD_TOKEN}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(i))
            .mount(&server)
            .await;
    }
    server
}

/// A Jira stand-in serving each issue given, checking basic authentication.
pub async fn jira(issues: &[Value]) -> MockServer {
    let server = MockServer::start().await;
    let auth = format!(
        "Basic {}",
        base64_encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}").as_bytes())
    );
    for i in issues {
        let key = i["key"].as_str().unwrap_or_default().to_string();
        Mock::given(method("GET"))
            .and(path(format!("/rest/api/3/issue/{key}")))
            .and(header("authorization", auth.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(i))
            .mount(&server)
            .await;
    }
    server
}

pub fn jira_auth() -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}").as_bytes())
    )
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
