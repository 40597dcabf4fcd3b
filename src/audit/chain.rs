//! The hash chain: every event's `hash` is SHA-256 over a canonical encoding of the event
//! including the previous event's hash, so changing, removing or inserting any event breaks
//! every hash after it. The encoding (version 1) is documented in docs/audit.md:
//!
//! ```text
//! pitcrew-audit-v1\n
//! id=<json>\n at=<json>\n correlation=<json>\n ... prev_hash=<json>\n
//! ```
//! one `name=value` line per field in [`FIELDS`] order, each value JSON-encoded (a string, a
//! number, or `null`), so no value can be confused with a separator.

use sha2::{Digest, Sha256};

use super::Record;

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields covered by the hash, in encoding order.
pub const FIELDS: &[&str] = &[
    "id",
    "at",
    "correlation",
    "phase",
    "actor_id",
    "actor_name",
    "team",
    "channel",
    "command_text",
    "action",
    "env",
    "cluster",
    "namespace",
    "kind",
    "name",
    "reason",
    "detail",
    "prev_hash",
];

/// The canonical encoding of `record` (its `hash` field excluded).
pub fn encode(r: &Record) -> String {
    let mut buf = Vec::with_capacity(1024);
    encode_into(&mut buf, r);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Writes the canonical encoding into `buf` (cleared first). JSON strings are escaped straight
/// into the buffer: `verify` hashes a million events, so no per-field allocation.
pub fn encode_into(buf: &mut Vec<u8>, r: &Record) {
    fn string(buf: &mut Vec<u8>, v: &str) {
        // Serialising a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, v);
    }
    fn optional(buf: &mut Vec<u8>, v: &Option<String>) {
        match v {
            Some(v) => string(buf, v),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.clear();
    buf.extend_from_slice(b"pitcrew-audit-v1\n");
    let field = |buf: &mut Vec<u8>, name: &str| {
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'=');
    };
    field(buf, FIELDS[0]);
    buf.extend_from_slice(r.id.to_string().as_bytes());
    buf.push(b'\n');
    let strings: [(&str, &String); 5] = [
        (FIELDS[1], &r.at),
        (FIELDS[2], &r.correlation),
        (FIELDS[3], &r.phase),
        (FIELDS[4], &r.actor_id),
        (FIELDS[8], &r.command_text),
    ];
    let optionals: [(&str, &Option<String>); 10] = [
        (FIELDS[5], &r.actor_name),
        (FIELDS[6], &r.team),
        (FIELDS[7], &r.channel),
        (FIELDS[9], &r.action),
        (FIELDS[10], &r.env),
        (FIELDS[11], &r.cluster),
        (FIELDS[12], &r.namespace),
        (FIELDS[13], &r.kind),
        (FIELDS[14], &r.name),
        (FIELDS[15], &r.reason),
    ];
    // Emit in FIELDS order.
    for name in &FIELDS[1..] {
        if let Some((_, v)) = strings.iter().find(|(n, _)| n == name) {
            field(buf, name);
            string(buf, v);
        } else if let Some((_, v)) = optionals.iter().find(|(n, _)| n == name) {
            field(buf, name);
            optional(buf, v);
        } else if *name == "detail" {
            field(buf, name);
            string(buf, &r.detail);
        } else if *name == "prev_hash" {
            field(buf, name);
            string(buf, &r.prev_hash);
        }
        buf.push(b'\n');
    }
}

pub fn hash(r: &Record) -> String {
    let mut buf = Vec::with_capacity(1024);
    hash_with(&mut buf, r)
}

/// [`hash`] reusing `buf` for the encoding.
pub fn hash_with(buf: &mut Vec<u8>, r: &Record) -> String {
    encode_into(buf, r);
    hex::encode(Sha256::digest(buf.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            id: 1,
            at: "2026-11-23T09:00:00.000Z".into(),
            correlation: "c".into(),
            phase: "requested".into(),
            actor_id: "U1".into(),
            actor_name: None,
            team: None,
            channel: Some("C1".into()),
            command_text: "restart x\nwith=newline".into(),
            action: Some("restart".into()),
            env: None,
            cluster: None,
            namespace: None,
            kind: None,
            name: None,
            reason: None,
            detail: "{}".into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        }
    }

    /// The encoding exactly as docs/audit.md specifies it: a golden value, so that an
    /// optimisation of the encoder can never silently change every hash.
    #[test]
    fn the_encoding_is_the_documented_one() {
        let expected = "pitcrew-audit-v1\nid=1\nat=\"2026-11-23T09:00:00.000Z\"\ncorrelation=\"c\"\nphase=\"requested\"\n\
            actor_id=\"U1\"\nactor_name=null\nteam=null\nchannel=\"C1\"\ncommand_text=\"restart x\\nwith=newline\"\n\
            action=\"restart\"\nenv=null\ncluster=null\nnamespace=null\nkind=null\nname=null\nreason=null\n\
            detail=\"{}\"\nprev_hash=\"0000000000000000000000000000000000000000000000000000000000000000\"\n";
        assert_eq!(encode(&record()), expected);
        assert_eq!(
            hash(&record()),
            hex::encode(Sha256::digest(expected.as_bytes()))
        );
    }

    #[test]
    fn every_field_changes_the_hash_and_separators_cannot_be_forged() {
        let base = hash(&record());
        let mut r = record();
        r.channel = None;
        assert_ne!(hash(&r), base, "null differs from a value");
        let mut r = record();
        r.command_text = "restart x".into();
        r.actor_name = Some("\nwith=newline".into());
        assert_ne!(
            hash(&r),
            base,
            "moving text between fields changes the hash"
        );
        assert_eq!(hash(&record()), base, "deterministic");
        assert!(encode(&record()).contains("command_text=\"restart x\\nwith=newline\"\n"));
    }
}
