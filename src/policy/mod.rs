//! Authorization: pitcrew's Casbin model and policy, loaded, checked, reloaded and explained.
//!
//! - `source.rs` reads `model.conf` and `policy.csv` (with line numbers);
//! - `enforcer.rs` evaluates the model natively over an index (fast at 10,000 lines);
//! - `lint.rs` finds rules that cannot match or are shadowed by a deny;
//! - `reload.rs` swaps in a new policy only once it is completely built and valid.
//!
//! Subjects are Slack user ids (`U…`/`W…`) and role names, never display names.

pub mod enforcer;
pub mod lint;
pub mod pattern;
pub mod reload;
pub mod source;

use std::path::{Path, PathBuf};

pub use enforcer::{Enforcer, Request, Verdict};
pub use lint::lint;
pub use reload::{PolicyHandle, ReloadStatus};
pub use source::{Effect, Finding, Rule, Severity, Source};

/// Why a policy could not be loaded. Each variant names the file; `Invalid` lists every
/// problem with its line.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {}: {source}; check [policy] in the configuration", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid:\n{}", path.display(), list(path, findings))]
    Invalid {
        path: PathBuf,
        findings: Vec<Finding>,
    },
}

fn list(path: &Path, findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {}:{f}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A loaded, valid policy: what decisions use.
#[derive(Debug)]
pub struct Policy {
    pub enforcer: Enforcer,
    pub model_path: PathBuf,
    pub policy_path: PathBuf,
    /// SHA-256 of model and policy text, to notice changes and to name the version in use.
    pub fingerprint: String,
}

/// The text of both files, read together.
pub struct Files {
    pub model: String,
    pub policy: String,
}

impl Files {
    pub fn read(model: &Path, policy: &Path) -> Result<Files, PolicyError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| PolicyError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        Ok(Files {
            model: read(model)?,
            policy: read(policy)?,
        })
    }

    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.model.as_bytes());
        h.update([0]);
        h.update(self.policy.as_bytes());
        hex::encode(h.finalize())
    }
}

impl Policy {
    /// Reads and builds the policy; any error finding refuses it.
    pub fn load(model: &Path, policy: &Path) -> Result<Policy, PolicyError> {
        let files = Files::read(model, policy)?;
        Policy::build(&files, model, policy)
    }

    pub fn build(files: &Files, model: &Path, policy: &Path) -> Result<Policy, PolicyError> {
        let model_findings = source::check_model(&files.model);
        if !model_findings.is_empty() {
            return Err(PolicyError::Invalid {
                path: model.to_path_buf(),
                findings: model_findings,
            });
        }
        let (source, mut findings) = Source::parse(&files.policy);
        let built = Enforcer::build(&source);
        if let Err(errors) = &built {
            findings.extend(errors.iter().cloned());
        }
        let enforcer = match built {
            Ok(enforcer) if findings.is_empty() => enforcer,
            _ => {
                findings.sort_by_key(|f| f.line);
                return Err(PolicyError::Invalid {
                    path: policy.to_path_buf(),
                    findings,
                });
            }
        };
        Ok(Policy {
            enforcer,
            model_path: model.to_path_buf(),
            policy_path: policy.to_path_buf(),
            fingerprint: files.fingerprint(),
        })
    }

    /// `policy.csv:12: p, role:oncall, …`: where a rule comes from, for explanations.
    pub fn cite(&self, rule: &Rule) -> String {
        let file = self
            .policy_path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{file}:{}: {}", rule.line, rule.text)
    }

    /// A decision with an explanation a user can act on.
    pub fn explain(&self, request: &Request) -> (Verdict, String) {
        let verdict = self.enforcer.decide(request);
        let text = match (&verdict.rule, verdict.allowed) {
            (Some(rule), true) => format!("allowed by {}", self.cite(rule)),
            (Some(rule), false) => format!("denied by {}", self.cite(rule)),
            (None, _) => {
                let roles = self.enforcer.roles_of(&request.sub);
                format!(
                    "no rule grants `{}` on {} in {} (namespace {}) to {}{}{}; ask the platform team to change the policy if you need it",
                    request.act,
                    request.obj,
                    request.env,
                    request.ns,
                    request.sub,
                    if roles.is_empty() {
                        " (who holds no role)".to_string()
                    } else {
                        format!(" (roles: {})", roles.join(", "))
                    },
                    if request.chan.is_empty() {
                        " from outside a channel".to_string()
                    } else {
                        format!(" from channel {}", request.chan)
                    }
                )
            }
        };
        (verdict, text)
    }
}
