//! An environment's `timezone` and `freezes`: one-off windows with RFC 3339 ends, recurring
//! ones as RFC 5545 text (parsed by the `rrule` crate, never by hand), each checked here so
//! that a `Config` only holds windows that can be computed.

use chrono::{DateTime, Utc};

use super::*;
use crate::config::file::FreezeSection;
use crate::config::{FreezeRule, FreezeWhen};

/// The zone an environment's times are shown in (UTC when not set).
pub(super) fn timezone(
    loc: &Locator<'_>,
    env: &str,
    typed: Option<&str>,
    problems: &mut Vec<Problem>,
) -> chrono_tz::Tz {
    let Some(typed) = typed else {
        return chrono_tz::UTC;
    };
    typed.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
        problems.push(loc.problem(
            &["environments", env, "timezone"],
            format!("`{typed}` is not an IANA time zone; write it like \"Europe/Berlin\", \"America/New_York\" or \"UTC\""),
        ));
        chrono_tz::UTC
    })
}

pub(super) fn freezes(
    loc: &Locator<'_>,
    env: &str,
    sections: &BTreeMap<String, FreezeSection>,
    problems: &mut Vec<Problem>,
) -> Vec<FreezeRule> {
    let mut out = Vec::new();
    for (name, f) in sections {
        let here = ["environments", env, "freezes", name.as_str()];
        let at = |k| key(&here, k);
        let time = |k: &'static str, v: &str, problems: &mut Vec<Problem>| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    problems.push(loc.problem(
                        &at(k),
                        format!("`{v}` is not an RFC 3339 time with its zone, like \"2026-12-20T00:00:00Z\""),
                    ))
                })
                .ok()
        };
        let when = match (&f.from, &f.until, &f.recurrence, f.duration) {
            (Some(from), Some(until), None, None) => {
                match (time("from", from, problems), time("until", until, problems)) {
                    (Some(from), Some(until)) if from < until => {
                        Some(FreezeWhen::Once { from, until })
                    }
                    (Some(_), Some(_)) => {
                        problems.push(loc.problem(&at("until"), "`until` must be after `from`"));
                        None
                    }
                    _ => None,
                }
            }
            (None, None, Some(text), Some(duration)) => {
                recurring(loc, &here, text, duration, problems)
            }
            _ => {
                problems.push(loc.problem(
                    &here,
                    "a freeze is either once (`from` and `until`, RFC 3339 times) or recurring (`recurrence`, RFC 5545 DTSTART and RRULE lines, and `duration`, like \"62h\")",
                ));
                None
            }
        };
        if let Some(when) = when {
            out.push(FreezeRule {
                name: name.clone(),
                when,
            });
        }
    }
    out
}

/// The key `k` of the freeze at `here`.
fn key<'a>(here: &[&'a str; 4], k: &'a str) -> [&'a str; 5] {
    [here[0], here[1], here[2], here[3], k]
}

fn recurring(
    loc: &Locator<'_>,
    here: &[&str; 4],
    text: &str,
    duration: std::time::Duration,
    problems: &mut Vec<Problem>,
) -> Option<FreezeWhen> {
    // TOML's multi-line strings keep the indentation people give them; RFC 5545 lines do not
    // start with spaces.
    let text = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let rule = match text.parse::<rrule::RRuleSet>() {
        Ok(r) => r,
        Err(e) => {
            problems.push(loc.problem(
                &key(here, "recurrence"),
                format!("not an RFC 5545 recurrence ({e}); write it like \"DTSTART;TZID=Europe/Berlin:20261218T180000\\nRRULE:FREQ=WEEKLY;BYDAY=FR\""),
            ));
            return None;
        }
    };
    let duration = match chrono::Duration::from_std(duration) {
        Ok(d) if d > chrono::Duration::zero() && d <= chrono::Duration::days(366) => d,
        _ => {
            problems.push(loc.problem(
                &key(here, "duration"),
                "a freeze lasts more than nothing and at most a year",
            ));
            return None;
        }
    };
    Some(FreezeWhen::Recurring {
        rule: Box::new(rule),
        duration,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mistake in a freeze is its own problem, at its key, saying what to write.
    #[test]
    fn freeze_mistakes_are_located_and_explained() {
        let text = r#"
[clusters.main]
in_cluster = true

[environments.prod]
cluster = "main"
namespaces = ["shop"]
timezone = "Berlin"

[environments.prod.freezes.backwards]
from = "2026-12-27T08:00:00Z"
until = "2026-12-20T08:00:00Z"

[environments.prod.freezes.nozone]
from = "2026-12-20T08:00:00"
until = "2026-12-27T08:00:00Z"

[environments.prod.freezes.badrule]
recurrence = "RRULE:FREQ=SOMETIMES"
duration = "2h"

[environments.prod.freezes.both]
from = "2026-12-20T08:00:00Z"
until = "2026-12-27T08:00:00Z"
recurrence = "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY"
duration = "2h"

[environments.prod.freezes.typo]
recurence = "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY"
duration = "2h"

[environments.prod.freezes.good]
recurrence = """
    DTSTART;TZID=Europe/Berlin:20260102T180000
    RRULE:FREQ=WEEKLY;BYDAY=FR
"""
duration = "62h"
"#;
        let Err(errors) =
            super::super::load(Path::new("/nonexistent/pitcrew.toml"), text, &|_| None)
        else {
            panic!("accepted");
        };
        let about = |key: &str| -> Vec<String> {
            errors
                .0
                .iter()
                .filter(|p| matches!(&p.place, Place::File { key: k, .. } if k == key))
                .map(|p| p.message.clone())
                .collect()
        };
        let has = |key: &str, needle: &str| {
            let found = about(key);
            assert!(
                found.iter().any(|m| m.contains(needle)),
                "{key}: {found:?} (all: {errors:?})"
            );
        };
        has("environments.prod.timezone", "not an IANA time zone");
        assert_eq!(
            about("environments.prod.timezone").len(),
            1,
            "once: {errors:?}"
        );
        assert_eq!(
            about("environments.prod.freezes.backwards.until").len(),
            1,
            "once: {errors:?}"
        );
        has(
            "environments.prod.freezes.backwards.until",
            "must be after `from`",
        );
        has("environments.prod.freezes.nozone.from", "with its zone");
        has(
            "environments.prod.freezes.badrule.recurrence",
            "not an RFC 5545 recurrence",
        );
        has("environments.prod.freezes.both", "either once");
        has(
            "environments.prod.freezes.typo.recurence",
            "did you mean `recurrence`?",
        );
        assert!(
            about("environments.prod.freezes.good").is_empty()
                && about("environments.prod.freezes.good.recurrence").is_empty(),
            "an indented multi-line rule is fine: {errors:?}"
        );
    }
}
