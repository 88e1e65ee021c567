//! Test support shared by the integration test binaries: isolated PostgreSQL databases and
//! polling with a deadline instead of sleeping.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod mmdb;
pub mod proxy;
pub mod redis;

use std::future::Future;
use std::time::{Duration, Instant};

/// The PostgreSQL server the tests use, without a database name.
pub fn postgres_server_url() -> String {
    std::env::var("LINKYARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database created for one test and dropped when this value is dropped, even when the test
/// panics.
pub struct PostgresDatabase {
    pub url: String,
    name: String,
}

impl PostgresDatabase {
    /// Creates a fresh database, or returns `None` (after printing one line) when the server is
    /// unreachable, so the rest of the suite still runs on a machine without PostgreSQL.
    pub async fn create() -> Option<Self> {
        use sea_orm::{ConnectionTrait, Database};
        let server = postgres_server_url();
        let admin = match Database::connect(format!("{server}/postgres")).await {
            Ok(admin) => admin,
            Err(error) => {
                eprintln!("skipped: PostgreSQL at {server} is unreachable ({error})");
                return None;
            }
        };
        let name = format!("linkyard_test_{:016x}", rand::random::<u64>());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        Some(Self {
            url: format!("{server}/{name}"),
            name,
        })
    }
}

impl PostgresDatabase {
    /// Closes every connection to this database and refuses new ones, standing in for a
    /// database outage. `restore` lets connections in again.
    pub async fn cut_off(&self) {
        self.admin_sql(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            self.name
        ))
        .await;
        self.admin_sql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .await;
    }

    pub async fn restore(&self) {
        self.admin_sql(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ))
        .await;
    }

    async fn admin_sql(&self, sql: &str) {
        use sea_orm::{ConnectionTrait, Database};
        let admin = Database::connect(format!("{}/postgres", postgres_server_url()))
            .await
            .expect("connect to the postgres database");
        admin
            .execute_unprepared(sql)
            .await
            .expect("admin statement");
        let _ = admin.close().await;
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let server = postgres_server_url();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on a future, so the cleanup
        // gets a thread and a small runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                use sea_orm::{ConnectionTrait, Database};
                if let Ok(admin) = Database::connect(format!("{server}/postgres")).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(error) = admin.execute_unprepared(&sql).await {
                        eprintln!("dropping test database {name} failed: {error}");
                    }
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads one `PRAGMA` of a SQLite connection, numbers and text alike as text.
pub async fn sqlite_pragma(db: &sea_orm::DatabaseConnection, name: &str) -> String {
    use sea_orm::ConnectionTrait;
    let statement =
        sea_orm::Statement::from_string(db.get_database_backend(), format!("PRAGMA {name}"));
    let row = db
        .query_one_raw(statement)
        .await
        .expect("pragma query")
        .expect("pragma row");
    row.try_get_by_index::<i64>(0)
        .map(|value| value.to_string())
        .or_else(|_| row.try_get_by_index::<String>(0))
        .expect("pragma value")
}
