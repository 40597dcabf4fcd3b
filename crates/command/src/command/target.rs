//! `KIND/NAME` targets, with kubectl's kind aliases.

use std::fmt;

use serde::Serialize;

use super::ParseError;
use crate::names::WorkloadName;

/// The kinds of object pitcrew acts on: workloads, and the GitOps objects that deploy them
/// (whose reconciliation `gitops suspend` pauses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    /// An Argo CD `Application` (argoproj.io/v1alpha1).
    Application,
    /// A Flux `Kustomization` (kustomize.toolkit.fluxcd.io/v1).
    Kustomization,
    /// A Flux `HelmRelease` (helm.toolkit.fluxcd.io/v2).
    HelmRelease,
    /// An Argo Rollouts `Rollout` (argoproj.io/v1alpha1): a workload with canary or
    /// blue-green steps.
    Rollout,
}

impl Kind {
    /// Every kind, as the policy's workload column may name them.
    pub const ALL: [Kind; 7] = [
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Rollout,
        Kind::Application,
        Kind::Kustomization,
        Kind::HelmRelease,
    ];
    /// The built-in workloads: what promote and scale act on (and restart, rollback, pause
    /// and resume, which also take Argo Rollouts).
    pub const WORKLOADS: [Kind; 3] = [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet];
    /// The GitOps objects: what `gitops suspend|resume` acts on.
    pub const GITOPS: [Kind; 3] = [Kind::Application, Kind::Kustomization, Kind::HelmRelease];

    /// The lower-case name kubectl prints (`deployment`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
            Kind::Application => "application",
            Kind::Kustomization => "kustomization",
            Kind::HelmRelease => "helmrelease",
            Kind::Rollout => "rollout",
        }
    }

    /// Whether it runs pods (a built-in workload or an Argo Rollout), as opposed to a GitOps
    /// object.
    pub fn is_workload(self) -> bool {
        Kind::WORKLOADS.contains(&self) || self == Kind::Rollout
    }

    /// Accepts what kubectl accepts for these kinds: singular, plural, short name and the
    /// group-qualified form, in any case (`Deploy`, `deployments.apps`, `sts`, `ds`,
    /// `app`, `applications.argoproj.io`, `ks`, `hr`).
    pub fn parse(typed: &str) -> Result<Kind, ParseError> {
        let lower = typed.to_lowercase();
        let bare = [
            ".apps",
            ".argoproj.io",
            ".kustomize.toolkit.fluxcd.io",
            ".helm.toolkit.fluxcd.io",
        ]
        .iter()
        .find_map(|group| lower.strip_suffix(group))
        .unwrap_or(&lower);
        match bare {
            "deployment" | "deployments" | "deploy" => Ok(Kind::Deployment),
            "statefulset" | "statefulsets" | "sts" => Ok(Kind::StatefulSet),
            "daemonset" | "daemonsets" | "ds" => Ok(Kind::DaemonSet),
            "application" | "applications" | "app" | "apps" => Ok(Kind::Application),
            "kustomization" | "kustomizations" | "ks" => Ok(Kind::Kustomization),
            "helmrelease" | "helmreleases" | "hr" => Ok(Kind::HelmRelease),
            "rollout" | "rollouts" | "ro" => Ok(Kind::Rollout),
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
    /// A workload: `KIND/NAME` or a bare name (a Deployment). A GitOps object is refused with
    /// the command that takes it.
    pub fn parse(typed: &str) -> Result<Target, ParseError> {
        let target = Self::any(typed, Kind::Deployment)?;
        if !target.kind.is_workload() {
            return Err(ParseError::InvalidValue {
                flag: "target",
                reason: format!(
                    "`{typed}` is a GitOps {}, not a workload: name the Deployment, StatefulSet or DaemonSet, or use `gitops suspend {target} …` to pause its reconciliation",
                    target.kind
                ),
            });
        }
        Ok(target)
    }

    /// A GitOps object: `app/NAME` (Argo CD), `ks/NAME`, `hr/NAME` (Flux), or a bare name
    /// (an Argo CD Application). A workload is refused.
    pub fn parse_gitops(typed: &str) -> Result<Target, ParseError> {
        let target = Self::any(typed, Kind::Application)?;
        if target.kind.is_workload() {
            return Err(ParseError::InvalidValue {
                flag: "target",
                reason: format!(
                    "`{typed}` is a workload; name what deploys it: an Argo CD Application (`app/NAME`), a Flux Kustomization (`ks/NAME`) or HelmRelease (`hr/NAME`)"
                ),
            });
        }
        Ok(target)
    }

    /// Any kind (the policy's and the trail's questions: `can-i`, `audit --target`); a bare
    /// name is a Deployment.
    pub fn parse_any(typed: &str) -> Result<Target, ParseError> {
        Self::any(typed, Kind::Deployment)
    }

    fn any(typed: &str, bare: Kind) -> Result<Target, ParseError> {
        match typed.split_once('/') {
            Some((kind, name)) => Ok(Target {
                kind: Kind::parse(kind)?,
                name: WorkloadName::parse(name)?,
            }),
            None => Ok(Target {
                kind: bare,
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
