//! `KIND/NAME` targets, with kubectl's kind aliases.

use std::fmt;

use serde::Serialize;

use super::ParseError;
use crate::names::WorkloadName;

/// The workload kinds pitcrew acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet];

    /// The lower-case name kubectl prints (`deployment`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
        }
    }

    /// Accepts what kubectl accepts for these kinds: singular, plural, short name and the
    /// group-qualified form, in any case (`Deploy`, `deployments.apps`, `sts`, `ds`).
    pub fn parse(typed: &str) -> Result<Kind, ParseError> {
        let lower = typed.to_lowercase();
        let bare = lower.strip_suffix(".apps").unwrap_or(&lower);
        match bare {
            "deployment" | "deployments" | "deploy" => Ok(Kind::Deployment),
            "statefulset" | "statefulsets" | "sts" => Ok(Kind::StatefulSet),
            "daemonset" | "daemonsets" | "ds" => Ok(Kind::DaemonSet),
            _ => Err(ParseError::UnknownKind {
                typed: typed.to_string(),
            }),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One workload: `deploy/checkout`, `sts/orders-db`, or a bare `checkout` (a Deployment).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Target {
    pub kind: Kind,
    pub name: WorkloadName,
}

impl Target {
    pub fn parse(typed: &str) -> Result<Target, ParseError> {
        match typed.split_once('/') {
            Some((kind, name)) => Ok(Target {
                kind: Kind::parse(kind)?,
                name: WorkloadName::parse(name)?,
            }),
            None => Ok(Target {
                kind: Kind::Deployment,
                name: WorkloadName::parse(typed)?,
            }),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_follow_kubectl() {
        for (typed, kind) in [
            ("deploy/a", Kind::Deployment),
            ("Deployments/a", Kind::Deployment),
            ("deployment.apps/a", Kind::Deployment),
            ("sts/a", Kind::StatefulSet),
            ("statefulsets.apps/a", Kind::StatefulSet),
            ("ds/a", Kind::DaemonSet),
            ("a", Kind::Deployment),
        ] {
            assert_eq!(Target::parse(typed).map(|t| t.kind), Ok(kind), "{typed}");
        }
        assert!(matches!(
            Target::parse("pod/a"),
            Err(ParseError::UnknownKind { .. })
        ));
        assert!(matches!(
            Target::parse("deploy/"),
            Err(ParseError::InvalidName(_))
        ));
        assert!(matches!(
            Target::parse("deploy/a/b"),
            Err(ParseError::InvalidName(_))
        ));
    }
}
