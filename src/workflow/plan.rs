//! The typed plan a confirmation or approval is bound to: the exact command, who asked, where,
//! and what the server-side dry run says it would change. Its hash is taken over a canonical
//! serialization (serde, fields in declaration order), never over a `Debug` rendering, so
//! that a refactor cannot silently change it; a golden test pins it.

use serde::{Deserialize, Serialize};

use crate::cluster::Change;

/// What a person confirms or approves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The command's canonical text.
    pub command: String,
    pub requester: String,
    pub channel: Option<String>,
    pub env: String,
    pub cluster: String,
    /// The namespace named by the command (none for a promote, which spans the environment's).
    pub namespace: Option<String>,
    /// What the server-side dry run would change, workload by workload.
    pub changes: Vec<PlannedChange>,
}

/// One workload's planned change: the parts that, if they differ when the command finally
/// runs, mean the workload moved and the confirmation or approval no longer applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub revision_before: Option<i64>,
    pub revision_after: Option<i64>,
    /// The revision a rollback goes back to.
    pub rollback_to: Option<i64>,
    /// `container: image → image`, one per container whose image changes.
    pub images: Vec<String>,
    /// A scale: the replica count (or the autoscaler's bounds) before → after, as `describe`
    /// words it. Left out of the hashed form for the other actions, so their plans (and the
    /// golden hash) are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<String>,
}

impl From<&Change> for PlannedChange {
    fn from(c: &Change) -> PlannedChange {
        PlannedChange {
            kind: c.kind.to_string(),
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            revision_before: c.before.revision,
            revision_after: c.after.revision,
            rollback_to: c.to_revision,
            images: c.image_changes(),
            replicas: match &c.operation {
                crate::cluster::Operation::Scale { from, to } => Some(format!("{from} → {to}")),
                crate::cluster::Operation::ScaleAutoscaler {
                    autoscaler,
                    min,
                    max,
                } => Some(format!(
                    "{autoscaler}: min {} → {}, max {} → {}",
                    min.0, min.1, max.0, max.1
                )),
                _ => None,
            },
        }
    }
}

/// Versions the hashed form: a deliberate change of [`Plan`] bumps it (and the golden test).
const DOMAIN: &[u8] = b"pitcrew plan v1\n";

impl Plan {
    /// The SHA-256 (hex) of the plan's canonical JSON: what an approval is bound to.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(DOMAIN);
        // A struct of strings, numbers and lists: serializing it cannot fail.
        h.update(serde_json::to_vec(self).unwrap_or_default());
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Plan {
        Plan {
            command: "rollback deploy/checkout -e prod --to-revision 3 --reason CHG-7".into(),
            requester: "U01ALICE".into(),
            channel: Some("C01ONCALL".into()),
            env: "prod".into(),
            cluster: "main".into(),
            namespace: None,
            changes: vec![PlannedChange {
                kind: "deployment".into(),
                namespace: "shop".into(),
                name: "checkout".into(),
                revision_before: Some(5),
                revision_after: Some(6),
                rollback_to: Some(3),
                images: vec!["app: shop/checkout:2.0 → shop/checkout:1.9".into()],
                replicas: None,
            }],
        }
    }

    /// Stored approvals carry this hash: if this test fails, every pending approval would be
    /// refused after an upgrade. Change the hash only on purpose (bump `DOMAIN` and say so in
    /// the release notes).
    #[test]
    fn the_hash_of_a_known_plan_is_pinned() {
        assert_eq!(
            known().hash(),
            "3bad3566ce28fa8ea360c019d344ae7de75e36130a5a05653a28e170cb0940a3"
        );
    }

    #[test]
    fn any_difference_in_the_plan_changes_the_hash() {
        let base = known().hash();
        let mut moved = known();
        moved.changes[0].revision_before = Some(6);
        assert_ne!(moved.hash(), base);
        let mut other = known();
        other.requester = "U01BOB".into();
        assert_ne!(other.hash(), base);
        let mut elsewhere = known();
        elsewhere.channel = None;
        assert_ne!(elsewhere.hash(), base);
    }
}
