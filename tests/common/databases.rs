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

/// A PostgreSQL server of one test's own (its own data directory and port), for tests that
/// stop and restart the database under pitcrew. Uses the server binaries the test script
/// found (`PITCREW_TEST_PG_BIN`), run as `PITCREW_TEST_PG_USER` when the tests run as root
/// (initdb refuses root). Stopped when dropped.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    user: Option<String>,
    pub port: u16,
}

impl OwnPostgres {
    /// Initialises and starts a server. `None` when PostgreSQL tests are explicitly skipped.
    pub fn start() -> Option<OwnPostgres> {
        let bin = std::path::PathBuf::from(require_env(Part::Postgres, "PITCREW_TEST_PG_BIN")?);
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let user = root
            .then(|| std::env::var("PITCREW_TEST_PG_USER").unwrap_or_else(|_| "postgres".into()));
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = OwnPostgres {
            dir,
            bin,
            user,
            port,
        };
        if let Some(user) = &pg.user {
            let chown = std::process::Command::new("chown")
                .args(["-R", user])
                .arg(pg.dir.path())
                .status()
                .expect("chown");
            assert!(chown.success(), "chown the data directory to {user}");
        }
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-U",
                "pitcrew",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        );
        pg.start_again();
        Some(pg)
    }

    pub fn url(&self) -> String {
        format!("postgres://pitcrew@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => std::process::Command::new(&exe),
        };
        let out = command.args(args).output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// Stops the server as a crash would (`immediate`: no checkpoint, connections cut).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        if let Some(user) = &self.user {
            let _ = std::process::Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }
}
