//! Decoding what Slack sends, once its signature was checked: slash-command forms,
//! interaction (button click) forms and Events API JSON. Anything that does not decode is a
//! `Refusal::Malformed`, never a panic (fuzzed by `fuzz/`'s `slack_payload`).

use serde::Deserialize;
use slack_morphism::prelude::{SlackCommandEvent, SlackPushEvent};

use crate::verify::Refusal;

/// The display name Slack sends beside the id (slack-morphism's event type leaves it out).
#[derive(Deserialize)]
struct Names {
    user_name: Option<String>,
}

/// Decodes a slash command's form body (after its signature was checked): the event and
/// the user's name as Slack showed it (optional; older payloads carry it).
pub fn decode_command(text: &str) -> Result<(SlackCommandEvent, Option<String>), Refusal> {
    let event: SlackCommandEvent =
        serde_urlencoded::from_str(text).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let name = serde_urlencoded::from_str::<Names>(text)
        .ok()
        .and_then(|n| n.user_name);
    Ok((event, name))
}

/// A request id Slack sends (`trigger_id`, `event_id`), checked before it is used to
/// de-duplicate: an empty or odd id would make every later request with the same id a silent
/// duplicate, so it is refused (400) instead. Slack's ids are short runs of letters, digits,
/// dots, dashes and underscores.
pub fn request_id<'a>(field: &'static str, id: &'a str) -> Result<&'a str, Refusal> {
    let plausible = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plausible {
        Ok(id)
    } else {
        Err(Refusal::Malformed(format!("empty or malformed {field}")))
    }
}

/// Decodes an Events API body (after its signature was checked).
pub fn decode_event(text: &str) -> Result<SlackPushEvent, Refusal> {
    serde_json::from_str(text).map_err(|e| Refusal::Malformed(e.to_string()))
}

#[derive(Deserialize)]
struct Form {
    payload: String,
}

/// The part of an interaction payload pitcrew reads.
#[derive(Debug, Deserialize)]
pub struct Payload {
    #[serde(rename = "type")]
    pub kind: String,
    pub user: Id,
    pub team: Option<Id>,
    pub channel: Option<Id>,
    pub response_url: Option<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// A user, team or channel as a payload names it.
#[derive(Debug, Deserialize)]
pub struct Id {
    pub id: String,
}

/// The button pressed.
#[derive(Debug, Deserialize)]
pub struct Action {
    pub action_id: String,
    pub value: Option<String>,
}

/// Decodes an interaction's form body (after its signature was checked): a `payload` field
/// holding the JSON of the click.
pub fn decode_click(text: &str) -> Result<Payload, Refusal> {
    serde_urlencoded::from_str::<Form>(text)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string()))
        .map_err(Refusal::Malformed)
}

/// Decodes an interaction payload that arrived as JSON (Socket Mode's `interactive` envelope).
pub fn payload_from_json(value: serde_json::Value) -> Result<Payload, Refusal> {
    serde_json::from_value(value).map_err(|e| Refusal::Malformed(e.to_string()))
}

/// The origin Slack's `response_url`s live at.
pub const SLACK_HOOKS_ORIGIN: &str = "https://hooks.slack.com";

/// Where a reply to a command or click may be sent: Slack's own hooks only, compared by whole
/// origin (scheme, host and port, after the URL parser's normalisation, so `127.1` and
/// `2130706433` are `127.0.0.1`), never with user information (which would become an
/// `Authorization` header). `stand_in` is the configured Web API base URL when it is not
/// Slack's own (a local stand-in in tests and the demo): its exact origin is then allowed too.
/// Anything else is refused, so a forged `response_url` cannot make pitcrew post elsewhere.
pub fn reply_target(response_url: &str, stand_in: Option<&url::Url>) -> Option<url::Url> {
    let url = url::Url::parse(response_url).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let origin = url.origin();
    let slack = url::Url::parse(SLACK_HOOKS_ORIGIN).ok()?.origin();
    let allowed = origin == slack || stand_in.is_some_and(|s| s.origin() == origin);
    (allowed && origin.is_tuple()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_go_only_to_slacks_hooks_or_the_configured_stand_in_by_whole_origin() {
        let ok = |u: &str, s: Option<&str>| {
            let s = s.map(|s| url::Url::parse(s).expect("stand-in"));
            reply_target(u, s.as_ref()).is_some()
        };
        assert!(ok("https://hooks.slack.com/commands/T1/2/abc", None));
        assert!(ok("https://hooks.slack.com:443/actions/T1/2/abc", None));
        // Another scheme or port of Slack's host, Slack's API host, userinfo: refused.
        assert!(!ok("http://hooks.slack.com/commands/T1/2/abc", None));
        assert!(!ok("https://hooks.slack.com:8443/commands/T1", None));
        assert!(!ok("http://slack.com:8080/api/", None));
        assert!(!ok("https://slack.com/api/chat.postMessage", None));
        assert!(!ok("https://hooks.slack.com@127.0.0.1:4000/", None));
        assert!(!ok("https://user:pw@hooks.slack.com/commands/T1", None));
        assert!(!ok("https://hooks.slack.com.evil.example/commands", None));
        assert!(!ok("not a url", None));
        // A local stand-in: exactly its origin, not another port or a disguised address.
        let stand_in = Some("http://127.0.0.1:4000/api/");
        assert!(ok("http://127.0.0.1:4000/hooks/1", stand_in));
        assert!(
            ok("http://127.1:4000/hooks/1", stand_in),
            "the same address, normalised"
        );
        assert!(!ok("http://127.0.0.1:22/", stand_in));
        assert!(!ok("http://127.1/", stand_in));
        assert!(!ok("http://2130706433:22/", stand_in));
        assert!(
            !ok("https://127.0.0.1:4000/hooks/1", stand_in),
            "another scheme"
        );
        assert!(!ok("http://x@127.0.0.1:4000/hooks/1", stand_in), "userinfo");
        assert!(ok("https://hooks.slack.com/commands/T1", stand_in));
    }

    #[test]
    fn request_ids_must_look_like_slacks() {
        assert!(request_id("trigger_id", "13345224609.738474920.8088930838d88f008e0").is_ok());
        assert!(request_id("event_id", "Ev08MFMKH6").is_ok());
        for bad in ["", " ", "a b", "x\u{0}", "é", &"9".repeat(300)] {
            let refused = request_id("trigger_id", bad).expect_err(bad);
            assert_eq!(refused.status(), 400, "{bad:?}");
        }
    }
}
