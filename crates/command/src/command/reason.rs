//! `--reason` (a PagerDuty incident or a Jira issue) and `--break-glass "why"`.
//!
//! The parser only recognises the shape of a reference; whether the incident is open or the
//! ticket approved is checked live later (justification), never here.

use std::fmt;

use serde::Serialize;

use super::ParseError;

/// What justifies a mutating command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Justification {
    Reason(Reason),
    /// Used when PagerDuty or Jira is down; allowed only to holders of `break-glass`.
    BreakGlass {
        text: String,
    },
}

/// A reference to the incident or change that justifies the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "system", rename_all = "kebab-case")]
pub enum Reason {
    PagerDuty {
        incident: String,
        url: Option<String>,
    },
    Jira {
        key: String,
        url: Option<String>,
    },
}

pub const BREAK_GLASS_MIN: usize = 8;
pub const BREAK_GLASS_MAX: usize = 500;
/// A `--reason` link is kept as typed (the audit trail shows it); real incident and issue
/// links are far shorter.
pub const REASON_LINK_MAX: usize = 500;

impl Reason {
    /// Accepts a PagerDuty incident link (`https://acme.pagerduty.com/incidents/Q1ABC…`) or id
    /// (`Q1ABC…`, `PT4KHLK`), or a Jira issue key (`CHG-123`) or link (`…/browse/CHG-123`,
    /// `…?selectedIssue=CHG-123`).
    pub fn parse(typed: &str) -> Result<Reason, ParseError> {
        let invalid = || ParseError::InvalidReason {
            typed: typed.to_string(),
        };
        if typed.starts_with("http://") || typed.starts_with("https://") {
            let len = typed.chars().count();
            if len > REASON_LINK_MAX {
                return Err(ParseError::InvalidValue {
                    flag: "--reason",
                    reason: format!(
                        "the link is {len} characters long (at most {REASON_LINK_MAX}); give the incident id or issue key instead, e.g. --reason CHG-123"
                    ),
                });
            }
            return Self::parse_url(typed).ok_or_else(invalid);
        }
        let upper = typed.to_uppercase();
        if is_jira_key(&upper) {
            return Ok(Reason::Jira {
                key: upper,
                url: None,
            });
        }
        if is_pagerduty_id(&upper) {
            return Ok(Reason::PagerDuty {
                incident: upper,
                url: None,
            });
        }
        Err(invalid())
    }

    fn parse_url(typed: &str) -> Option<Reason> {
        let url = url::Url::parse(typed).ok()?;
        // Only https, and never a link that carries credentials.
        if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = url.host_str()?.to_lowercase();
        let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        if host == "pagerduty.com" || host.ends_with(".pagerduty.com") {
            let pos = segments.iter().position(|s| *s == "incidents")?;
            let id = segments.get(pos + 1)?.to_uppercase();
            return is_pagerduty_id(&id).then(|| Reason::PagerDuty {
                incident: id,
                url: Some(typed.to_string()),
            });
        }
        let from_browse = segments
            .iter()
            .position(|s| *s == "browse")
            .and_then(|p| segments.get(p + 1))
            .map(|k| k.to_uppercase());
        let from_query = url
            .query_pairs()
            .find(|(k, _)| k == "selectedIssue")
            .map(|(_, v)| v.to_uppercase());
        let key = from_browse.or(from_query)?;
        is_jira_key(&key).then(|| Reason::Jira {
            key,
            url: Some(typed.to_string()),
        })
    }

    /// The id or key alone (`Q1ABC…`, `CHG-123`).
    pub fn id(&self) -> &str {
        match self {
            Reason::PagerDuty { incident, .. } => incident,
            Reason::Jira { key, .. } => key,
        }
    }
}

impl fmt::Display for Reason {
    /// The link when one was given, else the id: parsing this again gives the same `Reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::PagerDuty { url: Some(u), .. } | Reason::Jira { url: Some(u), .. } => {
                f.write_str(u)
            }
            other => f.write_str(other.id()),
        }
    }
}

/// Jira issue keys: a project key (a letter, then letters, digits or `_`, 2–10 long), a dash,
/// and the issue number.
fn is_jira_key(s: &str) -> bool {
    let Some((project, number)) = s.split_once('-') else {
        return false;
    };
    let mut chars = project.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && (2..=10).contains(&project.len())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !number.is_empty()
        && number.len() <= 9
        && !number.starts_with('0')
        && number.chars().all(|c| c.is_ascii_digit())
}

/// PagerDuty object ids: upper-case letters and digits, starting with a letter (`PT4KHLK`,
/// `Q0RIJJZL24RC6W`).
fn is_pagerduty_id(s: &str) -> bool {
    (6..=20).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_digit())
}

/// Checks the break-glass text: a real sentence, not a token.
pub fn break_glass(text: &str) -> Result<Justification, ParseError> {
    let text = text
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let len = text.chars().count();
    if len < BREAK_GLASS_MIN {
        return Err(ParseError::InvalidValue {
            flag: "--break-glass",
            reason: format!(
                "say in a sentence why the normal checks cannot be used, in quotes (at least {BREAK_GLASS_MIN} characters), e.g. --break-glass \"PagerDuty API is down\""
            ),
        });
    }
    if len > BREAK_GLASS_MAX {
        return Err(ParseError::InvalidValue {
            flag: "--break-glass",
            reason: format!(
                "at most {BREAK_GLASS_MAX} characters ({len} given); link to details instead"
            ),
        });
    }
    Ok(Justification::BreakGlass { text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagerduty_and_jira_references() {
        let pd =
            Reason::parse("https://acme.pagerduty.com/incidents/Q1W2E3R4T5Y6U7/timeline").unwrap();
        assert_eq!(pd.id(), "Q1W2E3R4T5Y6U7");
        assert!(matches!(pd, Reason::PagerDuty { .. }));
        assert_eq!(Reason::parse("pt4khl9").unwrap().id(), "PT4KHL9");
        let jira = Reason::parse("https://acme.atlassian.net/browse/CHG-123").unwrap();
        assert!(matches!(&jira, Reason::Jira { key, .. } if key == "CHG-123"));
        let board = Reason::parse(
            "https://acme.atlassian.net/jira/software/projects/OPS/boards/1?selectedIssue=OPS-7",
        )
        .unwrap();
        assert_eq!(board.id(), "OPS-7");
        assert_eq!(Reason::parse("chg-42").unwrap().id(), "CHG-42");
    }

    #[test]
    fn lookalikes_are_refused() {
        for bad in [
            "http://acme.pagerduty.com/incidents/Q1W2E3R4",
            "https://user:pw@acme.atlassian.net/browse/CHG-1",
            "https://acme.pagerduty.com/services/PABC123",
            "https://evil.example/incidents/Q1W2E3R4",
            "CHG-0",
            "C-1",
            "1234",
            "fixit",
            "",
        ] {
            assert!(Reason::parse(bad).is_err(), "{bad}");
        }
    }
}
