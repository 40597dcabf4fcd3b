//! RFC 3161 timestamp tokens over the chain head: the request pitcrew sends to a timestamp
//! authority (TSA), and the check of the token it answers with. A token says "this SHA-256
//! value existed at this time", signed by the TSA; pitcrew asks for one over the head hash of
//! the trail, so that rewriting anything before that event — even re-hashing the whole chain —
//! no longer matches a token nobody with database access can forge.
//!
//! The hash sent is the head event's hash itself (already SHA-256), so anyone can check a
//! stored token without pitcrew: `openssl ts -verify -digest HEAD_HASH -in token.tsr -CAfile
//! root.pem` (docs/audit.md). The ASN.1 is RustCrypto's (`x509-tsp`, `cms`, `x509-cert`); the
//! certificate chain and the signature are checked by webpki, the library rustls uses.

mod verify;

pub use verify::{Roots, Stamp, verify};

use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

/// SHA-256 (2.16.840.1.101.3.4.2.1): the only hash pitcrew asks to be stamped.
pub const SHA256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// The media types of RFC 3161 §3.4 (timestamping over HTTP).
pub const QUERY_TYPE: &str = "application/timestamp-query";
pub const REPLY_TYPE: &str = "application/timestamp-reply";

/// Why a timestamp could not be obtained or a token is not to be believed. Each says what it
/// found, for `audit verify` and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the timestamp token is not well-formed: {0}")]
    Malformed(String),
    #[error("the timestamp authority refused the request ({status}){text}")]
    Refused { status: String, text: String },
    #[error(
        "the token covers {covered}, not {expected}: it was issued for another hash or moved to this one"
    )]
    OtherHash { covered: String, expected: String },
    #[error("the token answers another request (its nonce differs)")]
    OtherNonce,
    #[error("the token's signature does not verify: {0}")]
    BadSignature(String),
    #[error(
        "the token was not signed by a timestamp authority that chains to the configured root: {0}"
    )]
    Untrusted(String),
    #[error("the token uses what pitcrew does not check: {0}")]
    Unsupported(String),
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> TokenError {
    TokenError::Malformed(what.to_string())
}

/// A DER-encoded `TimeStampReq` for `digest` (a SHA-256 value), asking for the TSA's
/// certificate in the token (so the token can be checked with the root alone) and carrying
/// `nonce`, which the answer must repeat.
pub fn request(digest: &[u8; 32], nonce: u64) -> Result<Vec<u8>, TokenError> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: x509_cert::spki::AlgorithmIdentifier {
                oid: SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.to_vec()).map_err(malformed)?,
        },
        req_policy: None,
        nonce: Some(nonce_int(nonce)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(malformed)
}

fn nonce_int(nonce: u64) -> Result<Int, TokenError> {
    Int::new(&nonce_bytes(nonce)).map_err(malformed)
}

/// The nonce's encoding, which the token must carry back: a positive INTEGER in minimal form
/// (the top bit cleared, a bit of the first byte set).
pub(crate) fn nonce_bytes(nonce: u64) -> [u8; 8] {
    (nonce & (u64::MAX >> 1) | 1 << 56).to_be_bytes()
}

/// The token out of a TSA's DER-encoded `TimeStampResp`: the TSA must have granted the request.
pub fn token_from_response(der: &[u8]) -> Result<Vec<u8>, TokenError> {
    let resp = TimeStampResp::from_der(der).map_err(malformed)?;
    use cmpv2::status::PkiStatus;
    match resp.status.status {
        PkiStatus::Accepted | PkiStatus::GrantedWithMods => {}
        other => {
            let text = resp
                .status
                .status_string
                .iter()
                .flatten()
                .map(|s| s.as_str().to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(TokenError::Refused {
                status: format!("{other:?}"),
                text: if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                },
            });
        }
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| malformed("the answer grants the request but holds no token"))?;
    token.to_der().map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_the_hash_the_nonce_and_asks_for_the_certificate() {
        let digest = [7u8; 32];
        let der = request(&digest, u64::MAX).unwrap_or_default();
        let req = TimeStampReq::from_der(&der).map_err(|e| e.to_string());
        let Ok(req) = req else {
            panic!("the request does not decode: {req:?}")
        };
        assert_eq!(req.message_imprint.hash_algorithm.oid, SHA256);
        assert_eq!(req.message_imprint.hashed_message.as_bytes(), &digest);
        assert!(req.cert_req);
        let nonce = req.nonce.map(|n| n.as_bytes().to_vec());
        assert_eq!(nonce, Some(nonce_bytes(u64::MAX).to_vec()));
        assert!(nonce_bytes(u64::MAX)[0] < 0x80, "a positive INTEGER");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for input in [&b""[..], b"\x30\x03\x02\x01\x00", &[0xff; 64]] {
            assert!(matches!(
                token_from_response(input),
                Err(TokenError::Malformed(_))
            ));
            assert!(matches!(
                verify(input, &Roots::default(), &[0; 32], None),
                Err(TokenError::Malformed(_))
            ));
        }
    }
}
