//! The request signature check (`v0=` HMAC-SHA256 over `v0:timestamp:body`, with a fresh
//! timestamp and a size limit): on any secret, headers and body it never panics; a request
//! signed with the secret, fresh and within the limit, is accepted with its body; and a
//! request whose signature is not exactly the right one is always refused.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use pitcrew_slack_wire::verify::{sign, signed_body};

#[derive(Debug, Arbitrary)]
struct Input {
    secret: String,
    body: Vec<u8>,
    /// Seconds added to now for the timestamp header (stale or future ones must fail).
    skew: i16,
    /// Replaces the timestamp header's text when set (not a number, spaces, ...).
    raw_timestamp: Option<String>,
    /// When set, this signature is sent instead of the right one.
    forged: Option<String>,
    limit: u16,
}

fuzz_target!(|input: Input| {
    if input.secret.is_empty() {
        return;
    }
    let secret = pitcrew_slack_wire::verify::signing_secret(&input.secret);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let ts = now + i64::from(input.skew);
    let ts_text = input.raw_timestamp.clone().unwrap_or_else(|| ts.to_string());
    let text = String::from_utf8_lossy(&input.body);
    let right = sign(&input.secret, ts, &text);
    let sent = input.forged.clone().unwrap_or_else(|| right.clone());
    let mut headers = HeaderMap::new();
    let (Ok(sig_value), Ok(ts_value)) = (HeaderValue::from_str(&sent), HeaderValue::from_str(&ts_text))
    else {
        return;
    };
    headers.insert("x-slack-signature", sig_value);
    headers.insert("x-slack-request-timestamp", ts_value);
    let limit = usize::from(input.limit);
    let result = signed_body(&secret, &headers, &input.body, limit);

    let body_is_text = std::str::from_utf8(&input.body).is_ok();
    // The one signature that is right for the timestamp header as sent (none can be made
    // here for a header that is not a plain number).
    let right_for_header = ts_text
        .parse::<i64>()
        .ok()
        .filter(|n| n.to_string() == ts_text)
        .map(|n| sign(&input.secret, n, &text));
    if Some(&sent) != right_for_header.as_ref() || !body_is_text || input.body.len() > limit {
        assert!(result.is_err(), "accepted a request that is not signed right: {input:?}");
    }
    // Fresh: Slack's verifier allows five minutes either way; stay well inside that.
    let honest = input.forged.is_none() && input.raw_timestamp.is_none();
    if honest && body_is_text && input.body.len() <= limit && i64::from(input.skew).abs() < 240 {
        assert_eq!(
            result.ok(),
            std::str::from_utf8(&input.body).ok(),
            "refused a request signed right: {input:?}"
        );
    }
});
