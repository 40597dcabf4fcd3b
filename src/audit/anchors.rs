//! Anchoring the chain head outside the database: now and then (`[audit.timestamp]`) the head
//! event's hash is sent to an RFC 3161 timestamp authority, and the token it answers with is
//! stored in `audit_anchors` once it was checked against the configured root. `audit verify`
//! then checks every stored token and that each anchored event still has the hash the TSA
//! stamped: whoever rewrites the trail below an anchor — even re-hashing every event after the
//! edit, which the chain alone cannot tell — changes that hash, and cannot get a token for the
//! new one dated back.
//!
//! A token is only asked for a head that extends the previous anchor's chain (checked from
//! that anchor on; the whole chain before the first anchor), so a token never vouches for a
//! trail that was already broken.

use std::time::Duration;

use serde::Serialize;

use super::timestamp::{self, Roots, TokenError};
use super::{Anchor, AuditStore, Problem, VerifyReport};

/// How long a TSA has to answer.
const TSA_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an anchor was not made now. Anchoring is retried; a command never waits for it.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("the timestamp authority at {url} did not answer: {why}")]
    Unreachable { url: String, why: String },
    #[error("the timestamp authority's token was refused: {0}")]
    Token(#[from] TokenError),
    #[error("the trail does not verify at event {}: {} — no token is asked for a broken chain", .0.id, .0.what)]
    Broken(Problem),
    #[error("{0}")]
    Store(#[from] crate::Error),
}

/// Talks to one TSA over HTTP (RFC 3161 §3.4). Tokens are self-authenticating, so plain HTTP
/// is what most public TSAs offer and is fine: the token is checked against the root, not the
/// connection.
#[derive(Clone)]
pub struct Tsa {
    url: reqwest::Url,
    http: reqwest::Client,
}

impl Tsa {
    pub fn new(url: reqwest::Url) -> Result<Tsa, String> {
        let http = crate::http_client_builder()
            .timeout(TSA_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the timestamp authority's client: {e}"))?;
        Ok(Tsa { url, http })
    }

    /// A token over `digest`, with `nonce` in it (not yet checked).
    pub async fn stamp(&self, digest: &[u8; 32], nonce: u64) -> Result<Vec<u8>, AnchorError> {
        let unreachable = |why: String| AnchorError::Unreachable {
            url: self.url.to_string(),
            why,
        };
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, timestamp::QUERY_TYPE)
            .body(timestamp::request(digest, nonce)?)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable(format!("HTTP {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(timestamp::token_from_response(&body)?)
    }
}

/// Anchors the current head if it moved since the last anchor: checks the chain up to it,
/// gets a token, checks the token against `roots`, stores it. `None` when there was nothing
/// new to anchor.
pub async fn anchor_once(
    store: &AuditStore,
    tsa: &Tsa,
    roots: &Roots,
) -> Result<Option<Anchor>, AnchorError> {
    let Some((head_id, head_hash)) = store.head().await? else {
        return Ok(None);
    };
    let last = store.last_anchor().await?;
    if last.as_ref().is_some_and(|a| a.event_id >= head_id) {
        return Ok(None);
    }
    check_chain(store, last.as_ref()).await?;
    let digest = digest_of(&head_hash).ok_or_else(|| {
        AnchorError::Broken(Problem {
            id: head_id,
            what: "its hash is not a SHA-256 value".into(),
        })
    })?;
    let nonce = u64::from_be_bytes(
        uuid::Uuid::now_v7().as_bytes()[8..16]
            .try_into()
            .unwrap_or([0; 8]),
    );
    let token = tsa.stamp(&digest, nonce).await?;
    let stamp = timestamp::verify(&token, roots, &digest, Some(nonce))?;
    let gen_time = crate::db::stored_time(stamp.gen_time);
    store
        .add_anchor(head_id, &head_hash, &gen_time, &stamp.tsa, &token)
        .await?;
    Ok(store.last_anchor().await?)
}

/// The chain up to the head extends the last anchor (the whole chain when there is none, or
/// when the anchored event was archived).
async fn check_chain(store: &AuditStore, last: Option<&Anchor>) -> Result<(), AnchorError> {
    if let Some(last) = last
        && let Some(now) = store.hash_of(last.event_id).await?
    {
        if now != last.head_hash {
            return Err(AnchorError::Broken(Problem {
                id: last.event_id,
                what: format!("its hash is not the one stamped at {}", last.gen_time),
            }));
        }
        return match store.check_after(last.event_id, &last.head_hash).await? {
            Some(problem) => Err(AnchorError::Broken(problem)),
            None => Ok(()),
        };
    }
    match store.verify().await?.first_problem {
        Some(problem) => Err(AnchorError::Broken(problem)),
        None => Ok(()),
    }
}

/// The 32 bytes of a hex SHA-256 hash.
fn digest_of(hash: &str) -> Option<[u8; 32]> {
    hex::decode(hash).ok()?.try_into().ok()
}

/// What `audit verify` found about the anchors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnchorReport {
    pub anchors: usize,
    /// False when no root was given: the tokens were not checked.
    pub checked: bool,
    /// The newest anchored event whose token verifies and whose hash still matches.
    pub last_anchored: Option<AnchoredEvent>,
    /// Events written after the last good anchor (not yet vouched for outside the database).
    pub unanchored_events: i64,
    /// Anchors of events archived out of the database (their archive files carry them).
    pub archived: usize,
    pub problems: Vec<AnchorProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchoredEvent {
    pub event_id: i64,
    pub gen_time: String,
    pub tsa: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorProblem {
    pub anchor: i64,
    pub event_id: i64,
    pub what: String,
}

impl Anchor {
    /// Checks this anchor's token against `roots`: signed by a TSA that chains to them, over
    /// the hash the anchor records.
    pub fn check_token(&self, roots: &Roots) -> Result<timestamp::Stamp, TokenError> {
        let token = hex::decode(&self.token).map_err(timestamp::malformed)?;
        let digest = hex::decode(&self.head_hash).map_err(timestamp::malformed)?;
        timestamp::verify(&token, roots, &digest, None)
    }
}

/// Checks every anchor against `roots` and the chain `report` describes (what `verify` just
/// found). Anchors of archived events are counted and left to `audit verify --archive`, whose
/// file carries them.
pub async fn check_anchors(
    store: &AuditStore,
    report: &VerifyReport,
    roots: Option<&Roots>,
) -> Result<AnchorReport, crate::Error> {
    let anchors = store.anchors().await?;
    // What the anchored events' hashes are now, read at once.
    let current = store.anchored_hashes().await?;
    let head_id = store.head().await?.map_or(0, |(id, _)| id);
    let mut out = AnchorReport {
        anchors: anchors.len(),
        checked: roots.is_some(),
        ..AnchorReport::default()
    };
    // The last anchor that still matched, for naming where a rewrite can have happened.
    let mut good: Option<i64> = report.archived_through;
    let mut sorted = anchors;
    sorted.sort_by_key(|a| (a.event_id, a.id));
    for anchor in &sorted {
        let problem = |what: String| AnchorProblem {
            anchor: anchor.id,
            event_id: anchor.event_id,
            what,
        };
        if let Some(Err(e)) = roots.map(|r| anchor.check_token(r)) {
            out.problems.push(problem(e.to_string()));
            continue;
        }
        let archived = report
            .archived_through
            .is_some_and(|t| anchor.event_id <= t);
        if archived {
            out.archived += 1;
            continue;
        }
        match current.get(&anchor.event_id) {
            Some(h) if *h == anchor.head_hash => {
                good = Some(anchor.event_id);
                out.last_anchored = Some(AnchoredEvent {
                    event_id: anchor.event_id,
                    gen_time: anchor.gen_time.clone(),
                    tsa: anchor.tsa.clone(),
                });
            }
            Some(_) => out.problems.push(problem(format!(
                "event {} no longer has the hash the timestamp authority stamped at {}: the trail \
                 was rewritten {} and every hash after the edit recomputed",
                anchor.event_id,
                anchor.gen_time,
                match good {
                    Some(g) => format!("between event {} and event {}", g + 1, anchor.event_id),
                    None => format!("at or before event {}", anchor.event_id),
                }
            ))),
            None => out.problems.push(problem(format!(
                "event {} is gone from the trail, and no archive boundary accounts for it",
                anchor.event_id
            ))),
        }
    }
    let anchored = out.last_anchored.as_ref().map_or(0, |a| a.event_id);
    out.unanchored_events = (head_id - anchored.max(report.archived_through.unwrap_or(0))).max(0);
    Ok(out)
}
