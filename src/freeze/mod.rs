//! Change freezes: windows during which an environment takes no change except a
//! `--break-glass`. Two sources, one answer: the configuration's windows (one-off and RFC 5545
//! recurring, `calendar.rs`) and freezes set from chat (`store.rs`, the `freezes` table).
//! [`state`] says what holds now and what comes next; the workflow refuses changes while
//! anything holds, and `status` shows both.
//!
//! Times are UTC here and in storage; [`show`] writes them in the environment's zone for
//! people.

mod calendar;
mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Environment;
use crate::db::Database;
use crate::names::EnvName;

pub use calendar::configured;
pub use store::Freezes;

/// One freeze window, wherever it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    /// Exclusive: at `until` the environment takes changes again.
    pub until: DateTime<Utc>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum Origin {
    /// `[environments.ENV.freezes.NAME]` in the configuration.
    Configured { name: String },
    /// `freeze ENV …` from chat.
    Chat {
        id: String,
        set_by: String,
        reason: String,
        correlation: String,
    },
}

impl Window {
    pub fn holds_at(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.until
    }

    /// What it is and who set it, for messages: ``the configured freeze `year-end` `` or
    /// `freeze F-… set by <@U…>: CHG-77`.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Configured { name } => format!("the configured freeze `{name}`"),
            Origin::Chat {
                id, set_by, reason, ..
            } => format!("freeze {id} set by <@{set_by}>: {reason}"),
        }
    }
}

/// What holds now in an environment, and the next window that starts after now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    pub active: Vec<Window>,
    pub next: Option<Window>,
}

impl State {
    /// The active window that lasts longest: the one to name in a refusal.
    pub fn holding(&self) -> Option<&Window> {
        self.active.iter().max_by_key(|w| w.until)
    }
}

/// The freeze state of `env` at `now`: configured windows, plus chat freezes when there is a
/// database. A database error is returned, never taken as "not frozen": callers fail closed.
pub async fn state(
    db: Option<&Database>,
    env: &EnvName,
    environment: &Environment,
    now: DateTime<Utc>,
) -> Result<State, sqlx::Error> {
    let (mut active, mut upcoming) = configured(environment, now);
    if let Some(db) = db {
        let stored = Freezes::new(db.clone()).current(env, now).await?;
        for w in stored {
            if w.holds_at(now) {
                active.push(w);
            } else if w.from > now {
                upcoming.push(w);
            }
        }
    }
    active.sort_by_key(|w| w.from);
    let next = upcoming.into_iter().min_by_key(|w| w.from);
    Ok(State { active, next })
}

/// `t` for people in `zone`: `2026-12-27 09:00 CET (08:00 UTC)`, or `… 08:00 UTC` when the
/// zone is UTC.
pub fn show(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    let utc = t.format("%Y-%m-%d %H:%M UTC").to_string();
    if zone == chrono_tz::UTC {
        return utc;
    }
    let local = t.with_timezone(&zone);
    format!(
        "{} ({})",
        local.format("%Y-%m-%d %H:%M %Z"),
        t.format("%H:%M UTC")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_environment_zone_with_utc_beside() {
        let t: DateTime<Utc> = "2026-12-27T08:00:00Z".parse().unwrap();
        assert_eq!(show(t, chrono_tz::UTC), "2026-12-27 08:00 UTC");
        assert_eq!(
            show(t, chrono_tz::Europe::Berlin),
            "2026-12-27 09:00 CET (08:00 UTC)"
        );
        let summer: DateTime<Utc> = "2026-07-01T08:00:00Z".parse().unwrap();
        assert_eq!(
            show(summer, chrono_tz::Europe::Berlin),
            "2026-07-01 10:00 CEST (08:00 UTC)"
        );
    }
}
