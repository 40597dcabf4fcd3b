//! The database connection: the embedded SQLite file by default, PostgreSQL when
//! `DATABASE_URL` says so. One pool type ([`sqlx::AnyPool`]) and one set of queries for both;
//! only migrations differ (`migrations/sqlite`, `migrations/postgres`) because DDL does.

mod group_commit;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::config::DatabaseConfig;
pub use group_commit::GroupCommit;

/// How every timestamp pitcrew stores is written: RFC 3339 in UTC with milliseconds
/// (`2026-12-04T17:00:00.000Z`). One format, so stored times compare as text on both back-ends
/// (ordering, `received_at < $1` when pruning, `--since` bounds).
pub fn stored_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
use crate::{Error, Result};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A value bound to a statement run through [`Database::execute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// Where it is, for messages: the SQLite path, or the PostgreSQL host and database
    /// name (never the password).
    location: String,
    /// The SQLite file, for the few reads that go through the native driver.
    sqlite_path: Option<std::path::PathBuf>,
    /// Every durable write on the hot path goes through it (see `group_commit.rs`).
    commit: Arc<GroupCommit>,
}

impl Database {
    pub async fn connect(config: &DatabaseConfig) -> Result<Self> {
        match config {
            DatabaseConfig::Sqlite { path } => Self::open_sqlite(path).await,
            DatabaseConfig::Postgres { url } => Self::open_postgres(url.expose_secret()).await,
        }
    }

    /// Opens (creating when missing) an SQLite file with the settings an audit trail needs:
    /// WAL so readers do not block the writer, `synchronous = FULL` so an acknowledged write
    /// survives a power cut, and a busy timeout instead of immediate "database is locked".
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let location = path.display().to_string();
        let url = format!("sqlite:{location}?mode=rwc");
        let options = AnyConnectOptions::from_str(&url).map_err(|source| Error::Database {
            backend: Backend::Sqlite,
            location: location.clone(),
            source,
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| Error::Database {
                backend: Backend::Sqlite,
                location: location.clone(),
                source,
            })?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
            location,
            sqlite_path: Some(path.to_path_buf()),
            commit: Arc::default(),
        })
    }

    pub async fn open_postgres(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let location = redacted_location(url);
        let options = AnyConnectOptions::from_str(url).map_err(|_| Error::Database {
            backend: Backend::Postgres,
            location: location.clone(),
            // The parse error may quote the URL, password included: replace it.
            source: sqlx::Error::Configuration("DATABASE_URL is not a valid PostgreSQL URL".into()),
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|source| Error::Database {
                backend: Backend::Postgres,
                location: location.clone(),
                source,
            })?;
        Ok(Self {
            pool,
            backend: Backend::Postgres,
            location,
            sqlite_path: None,
            commit: Arc::default(),
        })
    }

    /// Applies pending migrations (idempotent) and records the pitcrew version that created
    /// the database. Returns how many migrations were applied now.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.pool).await?;
        sqlx::query("INSERT INTO pitcrew_meta (key, value) VALUES ('created_by', $1) ON CONFLICT (key) DO NOTHING")
            .bind(concat!("pitcrew ", env!("CARGO_PKG_VERSION")))
            .execute(&self.pool)
            .await
            .map_err(|source| self.error(source))?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    /// How many migrations this pitcrew's schema has.
    pub fn known_migrations(&self) -> usize {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.migrations.len(),
            Backend::Postgres => POSTGRES_MIGRATIONS.migrations.len(),
        }
    }

    /// How many migrations this database has applied (0 for a new one).
    pub async fn applied_migrations(&self) -> Result<usize> {
        let exists_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'"
            }
        };
        let exists: i64 = sqlx::query_scalar(exists_sql)
            .fetch_one(&self.pool)
            .await
            .map_err(|source| self.error(source))?;
        if exists == 0 {
            return Ok(0);
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(|source| self.error(source))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// One statement, durably, through the group commit; returns the rows it affected. The
    /// common case of [`Database::write`].
    pub async fn execute(
        &self,
        sql: &'static str,
        values: Vec<Value>,
    ) -> std::result::Result<u64, sqlx::Error> {
        self.write(move |conn| {
            let mut query = sqlx::query(sql);
            for value in values.iter().cloned() {
                query = match value {
                    Value::Text(t) => query.bind(t),
                    Value::Int(i) => query.bind(i),
                    Value::Null => query.bind(None::<String>),
                };
            }
            Box::pin(async move { Ok(query.execute(conn).await?.rows_affected()) })
        })
        .await
    }

    /// Runs `write` durably, in a transaction shared with the writes of other callers made
    /// at the same time (group commit; see `group_commit.rs`). `Ok` means committed.
    pub async fn write<T, F>(&self, write: F) -> std::result::Result<T, sqlx::Error>
    where
        T: Send + 'static,
        F: for<'c> Fn(
                &'c mut sqlx::AnyConnection,
            )
                -> futures::future::BoxFuture<'c, std::result::Result<T, sqlx::Error>>
            + Send
            + Sync
            + 'static,
    {
        self.commit.write(&self.pool, write).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's place for messages, without credentials.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn error(&self, source: sqlx::Error) -> Error {
        Error::Database {
            backend: self.backend,
            location: self.location.clone(),
            source,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `postgres://user:secret@host:5432/db?x=y` → `postgres://user@host:5432/db`.
fn redacted_location(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("?");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let user = if u.username().is_empty() {
                String::new()
            } else {
                format!("{}@", u.username())
            };
            format!("{}://{user}{host}{port}{}", u.scheme(), u.path())
        }
        Err(_) => "(unparseable DATABASE_URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_never_carry_passwords() {
        let shown =
            redacted_location("postgres://app:hunter2@db.internal:5433/pitcrew?sslmode=require");
        assert_eq!(shown, "postgres://app@db.internal:5433/pitcrew");
        assert!(!redacted_location("not a url hunter2").contains("hunter2"));
    }
}
