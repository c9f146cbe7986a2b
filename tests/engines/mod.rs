//! The two stores a test server can run on: a SQLite file in a temporary folder, or a
//! PostgreSQL database made for the test and dropped after it. PostgreSQL is found at
//! `SYNCDESK_TEST_POSTGRES` (an admin URL; default the local server, as `.ci/run` starts
//! it); a test on it fails, naming that variable, when none answers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use syncdesk::store::Database;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database for one test, removed when dropped.
pub struct TestDb {
    database: Database,
    /// Keeps the SQLite file's folder; for PostgreSQL, the database to drop.
    owned: Owned,
}

enum Owned {
    Folder(#[allow(dead_code)] tempfile::TempDir),
    Postgres { name: String },
}

fn admin_url() -> String {
    std::env::var("SYNCDESK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs admin statements on a thread of their own (the blocking client refuses to run
/// inside an async test).
fn admin(statements: Vec<String>) {
    std::thread::spawn(move || {
        let url = admin_url();
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("no PostgreSQL at {url} (set SYNCDESK_TEST_POSTGRES): {e}"));
        for statement in statements {
            client.batch_execute(&statement).unwrap();
        }
    })
    .join()
    .unwrap();
}

impl TestDb {
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Self {
                    database: Database::Sqlite(dir.path().join("syncdesk.db")),
                    owned: Owned::Folder(dir),
                }
            }
            Kind::Postgres => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let name = format!(
                    "syncdesk_test_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                admin(vec![
                    format!("DROP DATABASE IF EXISTS {name}"),
                    format!("CREATE DATABASE {name}"),
                ]);
                let admin = admin_url();
                let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
                Self {
                    database: Database::Postgres(format!("{server}/{name}")),
                    owned: Owned::Postgres { name },
                }
            }
        }
    }

    pub fn database(&self) -> Database {
        self.database.clone()
    }

    /// The setting as `--db` takes it.
    pub fn setting(&self) -> String {
        match &self.database {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Owned::Postgres { name } = &self.owned {
            admin(vec![format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]);
        }
    }
}

/// Each test named runs twice: `on_sqlite::NAME` and `on_postgres::NAME`, calling
/// `NAME(Kind)` of the file that uses it.
#[macro_export]
macro_rules! on_both_engines {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::engines::Kind::Sqlite).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::engines::Kind::Postgres).await
                }
            )*
        }
    };
}

/// A real server on 127.0.0.1 for `db`, with this configuration and clock: its URL, and
/// its task (abort it to stop the server).
pub async fn serve_on(
    db: &TestDb,
    config: &str,
    clock: syncdesk::server::clock::Clock,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let config = syncdesk::server::config::Config::from_toml(config).unwrap();
    let mut state = syncdesk::server::http::AppState::open(config, db.database()).unwrap();
    state.clock = clock;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(syncdesk::server::http::serve(
        std::sync::Arc::new(state),
        listener,
    ));
    (base, task)
}
