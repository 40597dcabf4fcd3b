//! `scale <target> --replicas N [-e ENV] [-n NAMESPACE] [--hpa] [--reason REF | --break-glass TEXT] [--dry-run]`
//!
//! Like `kubectl scale`, for Deployments and StatefulSets. A HorizontalPodAutoscaler that owns
//! the workload would undo a count outside its bounds, so that is refused; `--hpa` moves the
//! autoscaler's bounds instead (as `kubectl patch hpa` would), and the autoscaler scales.

use std::fmt;

use serde::Serialize;

use super::args::{self, Args, Flag};
use super::{Justification, Kind, ParseError, Scope, Target, Token, fmt_tail};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scale {
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
    pub replicas: u32,
    /// Move the HorizontalPodAutoscaler's bounds rather than the workload's count.
    pub hpa: bool,
    pub justification: Option<Justification>,
    pub dry_run: bool,
}

const REPLICAS: Flag = Flag {
    long: "--replicas",
    short: None,
    example: Some("--replicas 5"),
};
const HPA: Flag = Flag {
    long: "--hpa",
    short: None,
    example: None,
};

/// More replicas than this is a typing mistake, not an incident response.
pub const MAX_REPLICAS: u32 = 10_000;

impl Scale {
    pub const NAME: &'static str = "scale";
    pub const USAGE: &'static str = "scale <target> --replicas N [-e ENV] [-n NAMESPACE] [--hpa] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const SUMMARY: &'static str = "set a Deployment's or StatefulSet's replicas, as `kubectl scale` does (--hpa: its autoscaler's bounds)";
    pub(crate) const FLAGS: &'static [Flag] = &[
        args::ENV,
        args::NAMESPACE,
        REPLICAS,
        HPA,
        args::REASON,
        args::BREAK_GLASS,
        args::DRY_RUN,
    ];

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, Self::FLAGS, tokens)?;
        Self::from_args(&args)
    }

    fn from_args(args: &Args) -> Result<Self, ParseError> {
        let target = super::one_target(Self::NAME, Self::USAGE, args)?;
        if target.kind == Kind::DaemonSet {
            return Err(ParseError::InvalidValue {
                flag: "target",
                reason: "a DaemonSet runs one pod per node and cannot be scaled; scale a Deployment or a StatefulSet".into(),
            });
        }
        if target.kind == Kind::Rollout {
            return Err(ParseError::InvalidValue {
                flag: "target",
                reason: "pitcrew scales Deployments and StatefulSets; an Argo Rollout's replicas belong in its spec (in Git), and its steps are moved with `advance`".into(),
            });
        }
        let Some(typed) = args.value(REPLICAS) else {
            return Err(ParseError::Missing {
                command: Self::NAME,
                what: "how many replicas: `--replicas 5`",
                usage: Self::USAGE,
            });
        };
        let replicas = match typed.parse::<u32>() {
            Ok(n) if n <= MAX_REPLICAS => n,
            _ => {
                return Err(ParseError::InvalidValue {
                    flag: "--replicas",
                    reason: format!(
                        "`{typed}` is not a replica count from 0 to {MAX_REPLICAS}, e.g. --replicas 5"
                    ),
                });
            }
        };
        let hpa = args.switch(HPA);
        if hpa && replicas == 0 {
            return Err(ParseError::InvalidValue {
                flag: "--hpa",
                reason: "an autoscaler keeps at least one replica; scale to 0 without --hpa (its autoscaler must be removed first)".into(),
            });
        }
        Ok(Scale {
            target,
            scope: Scope::from_args(args)?,
            replicas,
            hpa,
            justification: super::justification(args)?,
            dry_run: args.switch(args::DRY_RUN),
        })
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{} --replicas {}",
            Self::NAME,
            self.target,
            self.scope,
            self.replicas
        )?;
        if self.hpa {
            f.write_str(" --hpa")?;
        }
        fmt_tail(f, &self.justification, self.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use crate::command::{Command, parse};

    #[test]
    fn scale_parses_and_prints_back() {
        let Ok(Command::Scale(s)) = parse("scale checkout --replicas 5 -e prod --reason CHG-1")
        else {
            panic!("not a scale");
        };
        assert_eq!((s.replicas, s.hpa), (5, false));
        assert_eq!(
            s.to_string(),
            "scale deployment/checkout -e prod --replicas 5 --reason CHG-1"
        );
        let s = parse("scale sts/db --hpa --replicas 3 --dry-run").unwrap();
        assert_eq!(
            s.to_string(),
            "scale statefulset/db --replicas 3 --hpa --dry-run"
        );
        assert_eq!(parse(&s.to_string()).unwrap(), s);
        for (text, needle) in [
            ("scale checkout", "how many replicas"),
            ("scale checkout --replicas -1", "needs a value"),
            ("scale checkout --replicas 10001", "not a replica count"),
            ("scale checkout --replicas 2.5", "not a replica count"),
            ("scale ds/agent --replicas 2", "cannot be scaled"),
            ("scale checkout --replicas 0 --hpa", "at least one replica"),
        ] {
            let e = parse(text).expect_err(text).to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
