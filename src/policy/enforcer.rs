//! The compiled policy: pitcrew's Casbin model evaluated natively over an index.
//!
//! A Casbin enforcer evaluates the matcher against every policy line for every request, which
//! grows linearly with the policy (milliseconds at 10,000 lines in casbin-rs). Here the rules
//! are indexed by subject, so a decision looks only at the rules of the user and the roles it
//! holds. The semantics are the model's (see `source::MODEL`): a differential test checks them
//! against pycasbin and casbin-rs on thousands of generated requests.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use super::pattern::key_match;
use super::source::{Effect, Finding, Link, Rule, Source};
use crate::command::Action;

/// Casbin's role managers stop following role links after 10 levels; a longer chain would
/// decide differently here and there, so it is refused when the policy loads.
pub const MAX_ROLE_DEPTH: usize = 10;

/// The values a decision is about, in the model's request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub sub: String,
    pub env: String,
    pub cluster: String,
    pub ns: String,
    /// `kind/name`, e.g. `deployment/checkout`.
    pub obj: String,
    pub act: String,
    /// Empty when the command came from no channel (a terminal without `--channel`).
    pub chan: String,
}

impl Request {
    /// The exact values handed to the enforcer, in order (`pitcrew policy check --json`).
    pub fn values(&self) -> [&str; 7] {
        [
            &self.sub,
            &self.env,
            &self.cluster,
            &self.ns,
            &self.obj,
            &self.act,
            &self.chan,
        ]
    }
}

/// A decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    /// The deny rule that refused, or the first allow rule that granted; `None` when no rule
    /// matched (denied by default).
    pub rule: Option<Rule>,
}

#[derive(Debug)]
pub struct Enforcer {
    rules: Vec<Rule>,
    /// Rule indices (in file order) by subject.
    by_subject: HashMap<String, Vec<usize>>,
    /// Every role a member holds, directly or through other roles.
    roles: HashMap<String, Vec<String>>,
    /// Every channel group a channel is in.
    channel_groups: HashMap<String, HashSet<String>>,
}

impl Enforcer {
    /// Builds the enforcer, or returns the errors that make the policy unusable (unknown
    /// actions, role cycles, chains deeper than Casbin follows).
    pub fn build(source: &Source) -> Result<Enforcer, Vec<Finding>> {
        let mut errors = Vec::new();
        for rule in &source.rules {
            if rule.act != "*" && Action::parse(&rule.act).map(|a| a.as_str()) != Ok(&rule.act) {
                let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                errors.push(Finding::error(
                    rule.line,
                    format!(
                        "unknown action `{}`{}: actions are {} or `*`",
                        rule.act,
                        crate::config::suggestion_suffix(&rule.act, known.iter().copied()),
                        known.join(", ")
                    ),
                ));
            }
        }
        let (roles, mut role_errors) = closure(&source.roles, "role");
        errors.append(&mut role_errors);
        let (groups, mut group_errors) = closure(&source.channel_groups, "channel group");
        errors.append(&mut group_errors);
        if !errors.is_empty() {
            errors.sort_by_key(|f| f.line);
            return Err(errors);
        }
        let mut by_subject: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rule) in source.rules.iter().enumerate() {
            by_subject.entry(rule.sub.clone()).or_default().push(i);
        }
        Ok(Enforcer {
            rules: source.rules.clone(),
            by_subject,
            roles,
            channel_groups: groups
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every role `subject` holds (not including itself).
    pub fn roles_of(&self, subject: &str) -> &[String] {
        self.roles.get(subject).map_or(&[], Vec::as_slice)
    }

    pub fn decide(&self, r: &Request) -> Verdict {
        let mut first_allow: Option<usize> = None;
        let mut first_deny: Option<usize> = None;
        let subjects = std::iter::once(&r.sub).chain(self.roles_of(&r.sub));
        for subject in subjects {
            for &i in self.by_subject.get(subject).map_or(&[][..], Vec::as_slice) {
                let rule = &self.rules[i];
                let slot = match rule.effect {
                    Effect::Allow => &mut first_allow,
                    Effect::Deny => &mut first_deny,
                };
                if slot.is_some_and(|s| s < i) || !self.matches(rule, r) {
                    continue;
                }
                *slot = Some(i);
            }
        }
        match (first_deny, first_allow) {
            (Some(d), _) => Verdict {
                allowed: false,
                rule: Some(self.rules[d].clone()),
            },
            (None, Some(a)) => Verdict {
                allowed: true,
                rule: Some(self.rules[a].clone()),
            },
            (None, None) => Verdict {
                allowed: false,
                rule: None,
            },
        }
    }

    /// The model's matcher for one rule, the subject already known to match.
    fn matches(&self, p: &Rule, r: &Request) -> bool {
        key_match(&r.env, &p.env)
            && key_match(&r.cluster, &p.cluster)
            && key_match(&r.ns, &p.ns)
            && key_match(&r.obj, &p.obj)
            && (p.act == "*" || r.act == p.act)
            && (p.chan == "*"
                || r.chan == p.chan
                || self
                    .channel_groups
                    .get(&r.chan)
                    .is_some_and(|g| g.contains(&p.chan)))
    }
}

/// For each member, every group it reaches through links; errors for cycles and for chains
/// longer than [`MAX_ROLE_DEPTH`].
fn closure(links: &[Link], what: &str) -> (HashMap<String, Vec<String>>, Vec<Finding>) {
    let mut direct: HashMap<&str, Vec<&Link>> = HashMap::new();
    for link in links {
        direct.entry(&link.member).or_default().push(link);
    }
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    let mut reported: HashSet<usize> = HashSet::new();
    for member in direct.keys() {
        let mut seen: Vec<String> = Vec::new();
        let mut queue: VecDeque<(&str, usize)> = VecDeque::from([(*member, 0)]);
        let mut visited: HashSet<&str> = HashSet::from([*member]);
        while let Some((name, depth)) = queue.pop_front() {
            for link in direct.get(name).map_or(&[][..], Vec::as_slice) {
                let group = link.group.as_str();
                if group == *member {
                    if reported.insert(link.line) {
                        errors.push(Finding::error(
                            link.line,
                            format!("{what} cycle: `{member}` reaches itself through `{name}`"),
                        ));
                    }
                    continue;
                }
                if depth + 1 > MAX_ROLE_DEPTH {
                    if reported.insert(link.line) {
                        errors.push(Finding::error(
                            link.line,
                            format!(
                                "`{member}` reaches `{group}` through more than {MAX_ROLE_DEPTH} {what} links, deeper than Casbin follows; flatten the hierarchy"
                            ),
                        ));
                    }
                    continue;
                }
                if visited.insert(group) {
                    seen.push(group.to_string());
                    queue.push_back((group, depth + 1));
                }
            }
        }
        out.insert(member.to_string(), seen);
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enforcer(text: &str) -> Enforcer {
        let (source, findings) = Source::parse(text);
        assert!(findings.is_empty(), "{findings:?}");
        match Enforcer::build(&source) {
            Ok(e) => e,
            Err(f) => panic!("{f:?}"),
        }
    }

    fn req(sub: &str, env: &str, act: &str, chan: &str) -> Request {
        Request {
            sub: sub.into(),
            env: env.into(),
            cluster: "main".into(),
            ns: "shop".into(),
            obj: "deployment/checkout".into(),
            act: act.into(),
            chan: chan.into(),
        }
    }

    #[test]
    fn deny_overrides_allow_and_is_the_explanation() {
        let e = enforcer(
            "p, role:dev, *, *, *, *, *, *, allow\np, role:dev, prod, *, *, *, *, *, deny\ng, U1, role:dev\n",
        );
        let staging = e.decide(&req("U1", "staging", "restart", "C1"));
        assert!(staging.allowed);
        assert_eq!(staging.rule.map(|r| r.line), Some(1));
        let prod = e.decide(&req("U1", "prod", "restart", "C1"));
        assert!(!prod.allowed);
        assert_eq!(prod.rule.map(|r| r.line), Some(2));
        let stranger = e.decide(&req("U2", "staging", "restart", "C1"));
        assert_eq!(
            stranger,
            Verdict {
                allowed: false,
                rule: None
            }
        );
    }

    #[test]
    fn roles_inherit_and_channel_groups_apply() {
        let e = enforcer(
            "p, role:base, dev, *, *, *, status, chans:ops, allow\ng, role:lead, role:base\ng, U1, role:lead\ng2, C9, chans:ops\n",
        );
        assert!(e.decide(&req("U1", "dev", "status", "C9")).allowed);
        assert!(!e.decide(&req("U1", "dev", "status", "C8")).allowed);
        assert!(!e.decide(&req("U1", "dev", "restart", "C9")).allowed);
    }

    #[test]
    fn cycles_and_unknown_actions_are_refused_with_lines() {
        let (source, _) = Source::parse(
            "p, role:a, dev, *, *, *, reboot, *, allow\ng, role:a, role:b\ng, role:b, role:a\n",
        );
        let errors = Enforcer::build(&source).err().unwrap_or_default();
        let lines: Vec<usize> = errors.iter().map(|f| f.line).collect();
        assert!(
            lines.contains(&1) && (lines.contains(&2) || lines.contains(&3)),
            "{errors:?}"
        );
        assert!(
            errors[0].message.contains("unknown action `reboot`"),
            "{errors:?}"
        );
    }

    #[test]
    fn depth_beyond_casbins_limit_is_refused() {
        let mut text = String::new();
        for i in 0..12 {
            text.push_str(&format!("g, r{i}, r{}\n", i + 1));
        }
        let (source, _) = Source::parse(&text);
        assert!(Enforcer::build(&source).is_err());
        let mut ok = String::new();
        for i in 0..MAX_ROLE_DEPTH {
            ok.push_str(&format!("g, r{i}, r{}\n", i + 1));
        }
        let (source, _) = Source::parse(&ok);
        assert!(Enforcer::build(&source).is_ok());
    }
}
