//! The configuration's freeze windows at a given time: one-off periods as written, recurring
//! ones from their RFC 5545 rule (the `rrule` crate expands it in the DTSTART's zone, so a
//! "Fridays 18:00 Europe/Berlin" window stays at 18:00 local across daylight-saving changes).

use chrono::{DateTime, Utc};

use super::{Origin, Window};
use crate::config::{Environment, FreezeWhen};

/// The configured windows active at `now`, and each rule's next window after `now`.
pub fn configured(environment: &Environment, now: DateTime<Utc>) -> (Vec<Window>, Vec<Window>) {
    let mut active = Vec::new();
    let mut upcoming = Vec::new();
    for rule in &environment.freezes {
        let origin = Origin::Configured {
            name: rule.name.clone(),
        };
        let windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = match &rule.when {
            FreezeWhen::Once { from, until } => vec![(*from, *until)],
            FreezeWhen::Recurring { rule, duration, .. } => {
                occurrences_around(rule, *duration, now)
            }
        };
        let mut next_taken = false;
        for (from, until) in windows {
            let w = Window {
                from,
                until,
                origin: origin.clone(),
            };
            if w.holds_at(now) {
                active.push(w);
            } else if from > now && !next_taken {
                next_taken = true;
                upcoming.push(w);
            }
        }
    }
    (active, upcoming)
}

/// How many occurrences are expanded from the first one that could still hold at `now`:
/// enough for overlapping windows (a duration longer than the interval) and the next one.
const EXPANDED: u16 = 8;

/// Occurrences of `rule` whose window could hold at `now` or start after it, in order.
fn occurrences_around(
    rule: &rrule::RRuleSet,
    duration: chrono::Duration,
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    // An occurrence that started more than `duration` ago has ended.
    let earliest = (now - duration).with_timezone(&rrule::Tz::UTC);
    rule.clone()
        .after(earliest)
        .all(EXPANDED)
        .dates
        .into_iter()
        .map(|start| {
            let from = start.with_timezone(&Utc);
            (from, from + duration)
        })
        .filter(|(_, until)| *until > now)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FreezeRule;

    fn recurring(text: &str, hours: i64) -> Environment {
        let rule: rrule::RRuleSet = text.parse().expect("rule");
        environment(FreezeWhen::Recurring {
            rule: Box::new(rule),
            duration: chrono::Duration::hours(hours),
            text: text.into(),
        })
    }

    fn environment(when: FreezeWhen) -> Environment {
        Environment {
            cluster: crate::names::ClusterName::parse("main").unwrap(),
            namespaces: vec![],
            protected: false,
            approvals: 0,
            channels: vec![],
            allow_gitops: false,
            pagerduty_services: vec![],
            impersonate: false,
            impersonate_groups: vec![],
            timezone: chrono_tz::Europe::Berlin,
            approvers: Default::default(),
            gitops: Default::default(),
            freezes: vec![FreezeRule {
                name: "weekend".into(),
                when,
            }],
        }
    }

    fn at(t: &str) -> DateTime<Utc> {
        t.parse().unwrap()
    }

    /// Fridays 18:00 Berlin time for 62 hours: 17:00 UTC in winter, 16:00 UTC in summer. The
    /// clocks went forward on Sunday 29 March 2026, in the middle of a window.
    #[test]
    fn a_weekly_window_keeps_its_local_time_across_daylight_saving() {
        let env = recurring(
            "DTSTART;TZID=Europe/Berlin:20260102T180000\nRRULE:FREQ=WEEKLY;BYDAY=FR",
            62,
        );
        // Winter: Friday 27 March 2026, 18:00 CET = 17:00 UTC.
        let (active, next) = configured(&env, at("2026-03-27T16:59:00Z"));
        assert!(active.is_empty());
        assert_eq!(next[0].from, at("2026-03-27T17:00:00Z"));
        let (active, _) = configured(&env, at("2026-03-27T17:00:00Z"));
        assert_eq!(active.len(), 1, "it starts at its first instant");
        // The window spans the change: 62 h of elapsed time from its start.
        assert_eq!(active[0].until, at("2026-03-30T07:00:00Z"));
        let (active, next) = configured(&env, at("2026-03-30T07:00:00Z"));
        assert!(active.is_empty(), "it ends at `until`, exclusive");
        // Summer: the next Friday's 18:00 CEST is 16:00 UTC.
        assert_eq!(next[0].from, at("2026-04-03T16:00:00Z"));
        // And back in October (clocks go back on 25 October 2026).
        let (_, next) = configured(&env, at("2026-10-26T00:00:00Z"));
        assert_eq!(next[0].from, at("2026-10-30T17:00:00Z"));
    }

    /// A yearly holiday freeze from 20 December to 4 January crosses the year boundary; the
    /// one for the next year follows.
    #[test]
    fn a_yearly_window_crosses_the_year_boundary() {
        let env = recurring(
            "DTSTART;TZID=Europe/Berlin:20251220T000000\nRRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20",
            15 * 24,
        );
        let (active, _) = configured(&env, at("2026-12-31T23:30:00Z"));
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].from, at("2026-12-19T23:00:00Z"));
        let (active, _) = configured(&env, at("2027-01-03T12:00:00Z"));
        assert_eq!(active.len(), 1, "still frozen after new year");
        let (active, next) = configured(&env, at("2027-01-05T00:00:00Z"));
        assert!(active.is_empty());
        assert_eq!(next[0].from, at("2027-12-19T23:00:00Z"));
    }

    #[test]
    fn a_one_off_window_holds_between_its_ends() {
        let env = environment(FreezeWhen::Once {
            from: at("2026-12-20T00:00:00Z"),
            until: at("2027-01-04T08:00:00Z"),
        });
        assert_eq!(configured(&env, at("2026-12-19T23:59:59Z")).1.len(), 1);
        assert_eq!(configured(&env, at("2026-12-20T00:00:00Z")).0.len(), 1);
        let (active, next) = configured(&env, at("2027-01-04T08:00:00Z"));
        assert!(
            active.is_empty() && next.is_empty(),
            "over, and nothing next"
        );
    }

    /// A window longer than its interval overlaps the next: both hold.
    #[test]
    fn overlapping_occurrences_all_hold() {
        let env = recurring("DTSTART:20261201T000000Z\nRRULE:FREQ=DAILY", 30);
        let (active, next) = configured(&env, at("2026-12-05T03:00:00Z"));
        assert_eq!(active.len(), 2, "{active:?}");
        assert_eq!(next[0].from, at("2026-12-06T00:00:00Z"));
    }
}
