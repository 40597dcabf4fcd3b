//! Receiving a request from Slack: everything that must hold before any work is done.
//!
//! The body size limit first (nothing bigger is read), then the signature (v0, HMAC-SHA256 over
//! `v0:timestamp:body`, compared in constant time by slack-morphism's verifier, which also
//! refuses timestamps more than 5 minutes away, so a captured request cannot be replayed
//! later), then the team allow-list. slack-morphism sets no body limit and keeps no replay
//! cache: the limit is here, and replays within the window are caught by the request-id
//! de-duplication (`dedup.rs`).

use http::HeaderMap;
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

/// Why a request was refused; each maps to a status and a log line, never to work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("signature does not verify, or the timestamp is more than 5 minutes away")]
    BadSignature,
    #[error("body is not UTF-8")]
    NotText,
    #[error("team {0} is not allowed")]
    TeamNotAllowed(String),
    #[error("malformed payload: {0}")]
    Malformed(String),
}

impl Refusal {
    /// 401 for anything about who sent it, 413 for size, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooLarge { .. } => 413,
            Refusal::MissingHeader(_) | Refusal::BadSignature | Refusal::TeamNotAllowed(_) => 401,
            Refusal::NotText | Refusal::Malformed(_) => 400,
        }
    }

    /// A short stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } => "too_large",
            Refusal::MissingHeader(_) => "missing_header",
            Refusal::BadSignature => "bad_signature",
            Refusal::NotText => "not_text",
            Refusal::TeamNotAllowed(_) => "team_not_allowed",
            Refusal::Malformed(_) => "malformed",
        }
    }
}

/// The app's signing secret in the form the verifier takes.
pub fn signing_secret(secret: &str) -> SlackSigningSecret {
    SlackSigningSecret::new(secret.to_string())
}

/// Checks size and signature; returns the body as text.
pub fn signed_body<'b>(
    secret: &SlackSigningSecret,
    headers: &HeaderMap,
    body: &'b [u8],
    limit: usize,
) -> Result<&'b str, Refusal> {
    if body.len() > limit {
        return Err(Refusal::TooLarge { limit });
    }
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::MissingHeader(name))
    };
    let signature = header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER)?;
    let timestamp = header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP)?;
    let text = std::str::from_utf8(body).map_err(|_| Refusal::NotText)?;
    SlackEventSignatureVerifier::new(secret)
        .verify(signature, text, timestamp)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(text)
}

/// Whether `team` may send requests: listed in `allowed`, or `any` team was allowed
/// explicitly. An empty list without `any` allows nobody (fail closed; `serve` refuses to
/// start that way anyway).
pub fn team_allowed(
    allowed: &[pitcrew_command::names::SlackTeamId],
    any: bool,
    team: &str,
) -> Result<(), Refusal> {
    if any || allowed.iter().any(|t| t.as_str() == team) {
        Ok(())
    } else {
        Err(Refusal::TeamNotAllowed(team.to_string()))
    }
}

/// Signs a body as Slack does (`v0=` + hex HMAC-SHA256 of `v0:ts:body`): for `pitcrew chat`
/// and tests, which play Slack.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = hmac::Hmac::<sha2_11::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(sig: &str, ts: i64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-slack-signature", sig.parse().expect("header"));
        h.insert(
            "x-slack-request-timestamp",
            ts.to_string().parse().expect("header"),
        );
        h
    }

    #[test]
    fn signatures_verify_only_with_the_right_secret_body_and_a_fresh_timestamp() {
        let secret = SlackSigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5".into());
        let now = chrono::Utc::now().timestamp();
        let body = "token=x&team_id=T1&text=restart+checkout";
        let good = sign("8f742231b10e8888abcd99yyyzzz85a5", now, body);
        assert_eq!(
            signed_body(&secret, &headers(&good, now), body.as_bytes(), 1024),
            Ok(body)
        );
        // Another body, another secret, an old or future timestamp: refused.
        let tampered = format!("{body}&x=1");
        assert_eq!(
            signed_body(&secret, &headers(&good, now), tampered.as_bytes(), 1024),
            Err(Refusal::BadSignature)
        );
        let other = sign("another-secret", now, body);
        assert_eq!(
            signed_body(&secret, &headers(&other, now), body.as_bytes(), 1024),
            Err(Refusal::BadSignature)
        );
        for skew in [-301, 301] {
            let ts = now + skew;
            let sig = sign("8f742231b10e8888abcd99yyyzzz85a5", ts, body);
            assert_eq!(
                signed_body(&secret, &headers(&sig, ts), body.as_bytes(), 1024),
                Err(Refusal::BadSignature),
                "{skew}"
            );
        }
        assert_eq!(
            signed_body(&secret, &HeaderMap::new(), body.as_bytes(), 1024),
            Err(Refusal::MissingHeader("x-slack-signature"))
        );
        assert_eq!(
            signed_body(&secret, &headers(&good, now), body.as_bytes(), 10),
            Err(Refusal::TooLarge { limit: 10 })
        );
    }

    /// Slack's documented example (api.slack.com, "Verifying requests from Slack").
    #[test]
    fn sign_matches_slacks_documented_example() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
