//! `gitops suspend <app> --for DURATION …` and `gitops resume <app> …`: pause the GitOps
//! reconciliation of an Argo CD Application (its automated sync) or a Flux Kustomization or
//! HelmRelease (`spec.suspend`) during an incident, with a deadline pitcrew keeps: `serve`
//! resumes it when the time is up, so a suspension cannot be forgotten.
//!
//! The parser stays pure: `--for 2h` is kept as a length and turned into a deadline when the
//! command runs; the environment's own ceiling (`[environments.ENV.gitops].max_suspend`) is
//! checked then too.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::args::{self, Flag, quote};
use super::{Justification, ParseError, Scope, Target, Token, fmt_tail};

/// Suspend (for how long) or resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitopsOp {
    Suspend { seconds: u64 },
    Resume,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gitops {
    pub op: GitopsOp,
    /// An Argo CD Application, a Flux Kustomization or a HelmRelease.
    pub target: Target,
    #[serde(flatten)]
    pub scope: Scope,
    pub justification: Option<Justification>,
    pub dry_run: bool,
}

const FOR: Flag = Flag {
    long: "--for",
    short: None,
    example: Some("--for 2h"),
};

pub(crate) const FLAGS: &[Flag] = &[
    args::ENV,
    args::NAMESPACE,
    FOR,
    args::REASON,
    args::BREAK_GLASS,
    args::DRY_RUN,
];

/// The longest suspension the language accepts; environments set their own, shorter ceiling.
pub const LONGEST: Duration = Duration::from_secs(7 * 24 * 3600);

impl Gitops {
    pub const NAME: &'static str = "gitops";
    pub const USAGE: &'static str = "gitops (suspend <app> --for DURATION | resume <app>) [-e ENV] [-n NAMESPACE] [--reason REF | --break-glass TEXT] [--dry-run]";
    pub const SUMMARY: &'static str = "suspend GitOps reconciliation (Argo CD, Flux) until a deadline pitcrew keeps, or resume it";

    pub fn parse(tokens: &[Token]) -> Result<Self, ParseError> {
        let args = args::parse(Self::NAME, Self::USAGE, FLAGS, tokens)?;
        let (verb, app) = match args.positionals.as_slice() {
            [] => {
                return Err(ParseError::Missing {
                    command: Self::NAME,
                    what: "`suspend` or `resume`, then the application, e.g. `gitops suspend checkout --for 2h`",
                    usage: Self::USAGE,
                });
            }
            [_] => {
                return Err(ParseError::Missing {
                    command: Self::NAME,
                    what: "the application: an Argo CD Application (`app/NAME` or `NAME`), a Flux Kustomization (`ks/NAME`) or HelmRelease (`hr/NAME`)",
                    usage: Self::USAGE,
                });
            }
            [verb, app] => (verb.to_lowercase(), app),
            [_, _, extra, ..] => {
                return Err(ParseError::Unexpected {
                    command: Self::NAME,
                    arg: extra.clone(),
                    usage: Self::USAGE,
                });
            }
        };
        let op = match (verb.as_str(), args.value(FOR)) {
            ("suspend", Some(d)) => GitopsOp::Suspend {
                seconds: parse_duration(d)?,
            },
            ("suspend", None) => {
                return Err(ParseError::Missing {
                    command: Self::NAME,
                    what: "how long: `--for 2h` (pitcrew resumes it then)",
                    usage: Self::USAGE,
                });
            }
            ("resume", None) => GitopsOp::Resume,
            ("resume", Some(_)) => {
                return Err(ParseError::InvalidValue {
                    flag: "--for",
                    reason: "`gitops resume` resumes now; `--for` belongs to `gitops suspend`"
                        .into(),
                });
            }
            (other, _) => {
                return Err(ParseError::InvalidValue {
                    flag: "gitops",
                    reason: format!("`{other}` is not `suspend` or `resume`"),
                });
            }
        };
        Ok(Gitops {
            op,
            target: Target::parse_gitops(app)?,
            scope: Scope::from_args(&args)?,
            justification: super::justification(&args)?,
            dry_run: args.switch(args::DRY_RUN),
        })
    }

    /// `suspend` or `resume`.
    pub fn verb(&self) -> &'static str {
        match self.op {
            GitopsOp::Suspend { .. } => "suspend",
            GitopsOp::Resume => "resume",
        }
    }
}

fn parse_duration(typed: &str) -> Result<u64, ParseError> {
    args::duration(
        "--for",
        typed,
        LONGEST,
        "longer than a week; a longer stop of reconciliation belongs in Git (turn automated sync or `suspend` off there)",
        "like `30m` or `2h`",
    )
}

impl fmt::Display for Gitops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}{}",
            Self::NAME,
            self.verb(),
            self.target,
            self.scope
        )?;
        if let GitopsOp::Suspend { seconds } = self.op {
            write!(
                f,
                " --for {}",
                quote(&humantime::format_duration(Duration::from_secs(seconds)).to_string())
            )?;
        }
        fmt_tail(f, &self.justification, self.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Kind, parse};

    #[test]
    fn suspend_and_resume_round_trip() {
        let Ok(Command::Gitops(g)) =
            parse("gitops suspend checkout -e prod --for 2h --reason CHG-1")
        else {
            panic!("not a gitops command");
        };
        assert_eq!(g.op, GitopsOp::Suspend { seconds: 7200 });
        assert_eq!(g.target.kind, Kind::Application);
        assert_eq!(
            g.to_string(),
            "gitops suspend application/checkout -e prod --for 2h --reason CHG-1"
        );
        for typed in [
            "gitops resume ks/apps -n flux-system --dry-run",
            "GitOps Suspend hr/podinfo --for 90m --break-glass \"PagerDuty down\"",
        ] {
            let c = parse(typed).unwrap();
            assert_eq!(parse(&c.to_string()).unwrap(), c, "{typed}");
        }
    }

    #[test]
    fn refusals_say_what_to_type() {
        for (typed, expected) in [
            ("gitops", "`suspend` or `resume`"),
            ("gitops suspend", "the application"),
            ("gitops suspend checkout", "how long"),
            ("gitops resume checkout --for 1h", "resumes now"),
            ("gitops pause checkout", "is not `suspend` or `resume`"),
            ("gitops suspend deploy/checkout --for 1h", "is a workload"),
            ("gitops suspend checkout --for 30s", "a minute or more"),
            ("gitops suspend checkout --for 8d", "longer than a week"),
            ("restart app/checkout", "not a workload"),
        ] {
            let e = parse(typed).unwrap_err().to_string();
            assert!(e.contains(expected), "{typed}: {e}");
        }
    }
}
