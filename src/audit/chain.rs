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
    let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
    let o = |v: &Option<String>| match v {
        Some(v) => s(v),
        None => "null".to_string(),
    };
    let values = [
        r.id.to_string(),
        s(&r.at),
        s(&r.correlation),
        s(&r.phase),
        s(&r.actor_id),
        o(&r.actor_name),
        o(&r.team),
        o(&r.channel),
        s(&r.command_text),
        o(&r.action),
        o(&r.env),
        o(&r.cluster),
        o(&r.namespace),
        o(&r.kind),
        o(&r.name),
        o(&r.reason),
        s(&r.detail),
        s(&r.prev_hash),
    ];
    let mut out = String::from("pitcrew-audit-v1\n");
    for (name, value) in FIELDS.iter().zip(values) {
        out.push_str(name);
        out.push('=');
        out.push_str(&value);
        out.push('\n');
    }
    out
}

pub fn hash(r: &Record) -> String {
    hex::encode(Sha256::digest(encode(r).as_bytes()))
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
