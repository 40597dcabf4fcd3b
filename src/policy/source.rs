//! Reading `model.conf` and `policy.csv` into plain data, with line numbers.
//!
//! The policy file is Casbin's CSV format: one rule per line, fields separated by commas,
//! surrounding spaces ignored, `#` starting a comment line. Quotes are refused rather than
//! interpreted, because Casbin implementations disagree on them and no pitcrew value needs one.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// How serious a finding is: errors stop a policy from loading; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a policy or model file, at a line (1-based; 0 means the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    pub fn error(line: usize, message: impl Into<String>) -> Finding {
        Finding {
            line,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    pub fn warning(line: usize, message: impl Into<String>) -> Finding {
        Finding {
            line,
            severity: Severity::Warning,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {severity}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// A `p` line: who may (or may not) do what, where, from which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub line: usize,
    /// The line as written, for explanations.
    pub text: String,
    pub sub: String,
    pub env: String,
    pub cluster: String,
    pub ns: String,
    pub obj: String,
    pub act: String,
    pub chan: String,
    pub effect: Effect,
}

/// A `g` (member → role) or `g2` (channel → channel group) line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub line: usize,
    pub member: String,
    pub group: String,
}

/// A policy file, parsed but not yet checked for meaning.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub rules: Vec<Rule>,
    pub roles: Vec<Link>,
    pub channel_groups: Vec<Link>,
}

impl Source {
    /// Parses every line it can; lines it cannot become error findings.
    pub fn parse(text: &str) -> (Source, Vec<Finding>) {
        let mut source = Source::default();
        let mut findings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
                findings.push(Finding::error(
                    line,
                    format!("control character U+{:04X} in the line", c as u32),
                ));
                continue;
            }
            if trimmed.contains('"') || trimmed.contains('\'') {
                findings.push(Finding::error(
                    line,
                    "quotes are not supported in pitcrew policies; write values without them",
                ));
                continue;
            }
            let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
            if let Some(pos) = fields.iter().position(|f| f.is_empty()) {
                findings.push(Finding::error(
                    line,
                    format!(
                        "field {} is empty; use `*` to mean any value",
                        pos + 1 // 1-based, counting the rule type
                    ),
                ));
                continue;
            }
            match fields[0] {
                "p" => match parse_rule(line, trimmed, &fields) {
                    Ok(rule) => source.rules.push(rule),
                    Err(f) => findings.push(f),
                },
                kind @ ("g" | "g2") => {
                    if fields.len() != 3 {
                        findings.push(Finding::error(
                            line,
                            format!(
                                "`{kind}` takes 2 values ({}), found {}",
                                if kind == "g" {
                                    "member, role"
                                } else {
                                    "channel, channel group"
                                },
                                fields.len() - 1
                            ),
                        ));
                        continue;
                    }
                    let link = Link {
                        line,
                        member: fields[1].to_string(),
                        group: fields[2].to_string(),
                    };
                    if kind == "g" {
                        source.roles.push(link);
                    } else {
                        source.channel_groups.push(link);
                    }
                }
                other => findings.push(Finding::error(
                    line,
                    format!(
                        "unknown rule type `{other}`: a line starts with `p` (a rule), `g` (member, role) or `g2` (channel, channel group)"
                    ),
                )),
            }
        }
        (source, findings)
    }
}

const P_FIELDS: &str =
    "subject, environment, cluster, namespace, workload, action, channel, allow|deny";

fn parse_rule(line: usize, text: &str, f: &[&str]) -> Result<Rule, Finding> {
    if f.len() != 9 {
        return Err(Finding::error(
            line,
            format!("`p` takes 8 values ({P_FIELDS}), found {}", f.len() - 1),
        ));
    }
    let effect = match f[8] {
        "allow" => Effect::Allow,
        "deny" => Effect::Deny,
        other => {
            return Err(Finding::error(
                line,
                format!("the last value must be `allow` or `deny`, not `{other}`"),
            ));
        }
    };
    Ok(Rule {
        line,
        text: text.to_string(),
        sub: f[1].into(),
        env: f[2].into(),
        cluster: f[3].into(),
        ns: f[4].into(),
        obj: f[5].into(),
        act: f[6].into(),
        chan: f[7].into(),
        effect,
    })
}

/// pitcrew's Casbin model. The enforcer implements exactly this model (natively, with an
/// index, see `enforcer.rs`), so `model.conf` must say the same; a test runs the reference
/// Casbin implementations on it and requires identical decisions.
pub const MODEL: &[(&str, &str, &str)] = &[
    (
        "request_definition",
        "r",
        "sub, env, cluster, ns, obj, act, chan",
    ),
    (
        "policy_definition",
        "p",
        "sub, env, cluster, ns, obj, act, chan, eft",
    ),
    ("role_definition", "g", "_, _"),
    ("role_definition", "g2", "_, _"),
    (
        "policy_effect",
        "e",
        "some(where (p.eft == allow)) && !some(where (p.eft == deny))",
    ),
    (
        "matchers",
        "m",
        r#"g(r.sub, p.sub) && keyMatch(r.env, p.env) && keyMatch(r.cluster, p.cluster) && keyMatch(r.ns, p.ns) && keyMatch(r.obj, p.obj) && (p.act == "*" || r.act == p.act) && (p.chan == "*" || r.chan == p.chan || g2(r.chan, p.chan))"#,
    ),
];

/// Checks that `text` (a `model.conf`) is pitcrew's model, whitespace and comments aside.
pub fn check_model(text: &str) -> Vec<Finding> {
    let mut found: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut section = String::new();
    let mut pending: Option<(usize, String, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if let Some((start, key, mut value)) = pending.take() {
            // A value continued with a trailing backslash.
            let (part, more) = continued(t);
            value.push(' ');
            value.push_str(part);
            if more {
                pending = Some((start, key, value));
            } else {
                found.insert((section.clone(), key), (start, value));
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            findings.push(Finding::error(
                line,
                format!("expected `[section]` or `key = value`, found `{t}`"),
            ));
            continue;
        };
        let (part, more) = continued(value.trim());
        let entry = (key.trim().to_string(), part.to_string());
        if more {
            pending = Some((line, entry.0, entry.1));
        } else {
            found.insert((section.clone(), entry.0), (line, entry.1));
        }
    }
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    for (section, key, expected) in MODEL {
        match found.remove(&(section.to_string(), key.to_string())) {
            None => findings.push(Finding::error(
                0,
                format!("[{section}] has no `{key}`; pitcrew's model needs `{key} = {expected}`"),
            )),
            Some((line, value)) if squash(&value) != squash(expected) => {
                findings.push(Finding::error(
                    line,
                    format!(
                        "[{section}] `{key}` differs from pitcrew's model: pitcrew enforces exactly `{key} = {expected}`"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    for ((section, key), (line, _)) in found {
        findings.push(Finding::error(
            line,
            format!("[{section}] `{key}` is not part of pitcrew's model; remove it"),
        ));
    }
    findings
}

fn continued(t: &str) -> (&str, bool) {
    match t.strip_suffix('\\') {
        Some(rest) => (rest.trim_end(), true),
        None => (t, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_is_pitcrews_model() {
        let text = include_str!("../../policies/model.conf");
        assert_eq!(check_model(text), vec![]);
    }

    #[test]
    fn a_changed_matcher_is_refused_with_its_line() {
        let text =
            include_str!("../../policies/model.conf").replace("keyMatch(r.env", "regexMatch(r.env");
        let findings = check_model(&text);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].message.contains("`m` differs"), "{findings:?}");
        assert!(findings[0].line > 0);
    }

    #[test]
    fn broken_lines_are_reported_with_their_numbers() {
        let text = "# comment\np, role:a, prod, *, *, *, restart, *, allow\np, role:a, prod\n\ng, U1\nx, y, z\np, role:a, prod, *, *, *, restart, *, maybe\np, , prod, *, *, *, restart, *, allow\np, \"role\", prod, *, *, *, restart, *, allow\n";
        let (source, findings) = Source::parse(text);
        assert_eq!(source.rules.len(), 1);
        let lines: Vec<usize> = findings.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![3, 5, 6, 7, 8, 9], "{findings:?}");
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
    }
}
