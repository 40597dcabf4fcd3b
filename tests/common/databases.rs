//! A fresh database per test, on each back-end pitcrew supports.

use pitcrew::db::Database;
use sqlx::Connection;

use super::{Part, require_env, unique_suffix};

/// One of pitcrew's storage back-ends, freshly created for one test.
pub enum TestDb {
    Sqlite {
        dir: tempfile::TempDir,
        db: Database,
    },
    Postgres {
        admin_url: String,
        name: String,
        db: Database,
    },
}

impl TestDb {
    /// A new SQLite file in a temporary directory (removed with the value).
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = Database::open_sqlite(&dir.path().join("pitcrew.db"))
            .await
            .expect("open SQLite");
        TestDb::Sqlite { dir, db }
    }

    /// A new database on the test PostgreSQL server (dropped by [`TestDb::cleanup`]).
    /// `None` when PostgreSQL tests are explicitly skipped.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = require_env(Part::Postgres, "DATABASE_URL")?;
        let name = format!("t_{}", unique_suffix());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server (DATABASE_URL)");
        // `name` is made of our own hex digits, never of outside input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        admin.close().await.ok();
        let url = replace_db_name(&admin_url, &name);
        let db = Database::open_postgres(&url)
            .await
            .expect("open the test database");
        Some(TestDb::Postgres {
            admin_url,
            name,
            db,
        })
    }

    /// Every back-end available to this run: SQLite always, PostgreSQL unless skipped.
    pub async fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite().await];
        if let Some(pg) = TestDb::postgres().await {
            v.push(pg);
        }
        v
    }

    pub fn db(&self) -> &Database {
        match self {
            TestDb::Sqlite { db, .. } | TestDb::Postgres { db, .. } => db,
        }
    }

    /// A second pool on the same database, as another replica would open it.
    pub async fn another_replica(&self) -> Database {
        match self {
            TestDb::Sqlite { dir, .. } => Database::open_sqlite(&dir.path().join("pitcrew.db"))
                .await
                .expect("open SQLite again"),
            TestDb::Postgres {
                admin_url, name, ..
            } => Database::open_postgres(&replace_db_name(admin_url, name))
                .await
                .expect("open the test database again"),
        }
    }

    /// The `DATABASE_URL` of this PostgreSQL database, for pitcrew processes (None for SQLite).
    pub fn url(&self) -> Option<String> {
        match self {
            TestDb::Postgres {
                admin_url, name, ..
            } => Some(replace_db_name(admin_url, name)),
            TestDb::Sqlite { .. } => None,
        }
    }

    /// The PostgreSQL database's name (empty for SQLite).
    pub fn name(&self) -> &str {
        match self {
            TestDb::Postgres { name, .. } => name,
            TestDb::Sqlite { .. } => "",
        }
    }

    pub fn label(&self) -> &'static str {
        self.db().backend().as_str()
    }

    /// Closes the pool and removes the database.
    pub async fn cleanup(self) {
        match self {
            TestDb::Sqlite { dir, db } => {
                db.close().await;
                drop(dir);
            }
            TestDb::Postgres {
                admin_url,
                name,
                db,
            } => {
                db.close().await;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            }
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}{query}")
}
