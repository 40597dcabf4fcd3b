//! Request de-duplication in the database: a request id seen once is never worked on again,
//! whether the repeat comes a second later (a retry, a double click), after a restart, or to
//! another replica.

use chrono::Utc;

use crate::db::Database;

#[derive(Clone)]
pub struct Dedup {
    db: Database,
}

impl Dedup {
    pub fn new(db: Database) -> Dedup {
        Dedup { db }
    }

    /// Records `key`; true the first time it is seen, false ever after. Durable when it
    /// returns (committed with the other requests arriving meanwhile: group commit), so a
    /// request acknowledged before a crash is still recognised after it.
    pub async fn first_time(&self, key: &str) -> Result<bool, sqlx::Error> {
        let inserted = self
            .db
            .execute(
                "INSERT INTO slack_requests (request_key, received_at) VALUES ($1, $2) \
                 ON CONFLICT (request_key) DO NOTHING",
                vec![key.into(), crate::db::stored_time(Utc::now()).into()],
            )
            .await?;
        Ok(inserted == 1)
    }
}
