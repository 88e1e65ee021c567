//! The database port: SQLite (embedded default) or PostgreSQL, both through sea-orm.

pub mod bookmarks;
pub mod clicks;
pub mod entities;
pub mod ids;
pub mod links;
pub mod outbox;
pub mod pastes;
pub mod secrets;
pub mod users;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use std::time::Duration;

/// A failed database operation. Unique and foreign-key violations that a caller can cause are
/// turned into domain errors where the query runs, so what reaches this type is our fault or an
/// outage.
#[derive(Debug, thiserror::Error)]
#[error("database {operation} failed: {source}")]
pub struct DbError {
    pub operation: &'static str,
    #[source]
    pub source: DbErr,
}

impl DbError {
    pub fn new(operation: &'static str, source: DbErr) -> Self {
        Self { operation, source }
    }

    /// Whether the failure is the database being unreachable rather than a bad statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.source, DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
    }
}

/// Extension for attaching the operation name to a sea-orm result.
pub trait DbResultExt<T> {
    fn during(self, operation: &'static str) -> Result<T, DbError>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn during(self, operation: &'static str) -> Result<T, DbError> {
        self.map_err(|source| DbError::new(operation, source))
    }
}

/// Connection settings that do not depend on the backend.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// The flush policy of commits on SQLite.
    pub commits: Commits,
}

/// The flush policy of commits: whether each waits until the database's log is on disk.
/// PostgreSQL pools ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    /// Every commit waits for the flush (`synchronous = FULL`) and survives a power cut.
    Durable,
    /// Commits return before the flush (`synchronous = NORMAL`). They survive a crash of the
    /// process. A power cut or a crash of the system rolls back those made since the log was
    /// last flushed, by a durable commit of any pool or a checkpoint, never half a transaction.
    /// Only for writes whose loss repeats work and loses nothing, such as claiming and deleting
    /// outbox rows: a lost claim or delete runs the job again.
    Relaxed,
}

/// Opens a connection pool. SQLite gets WAL journaling with `synchronous = FULL` (or `NORMAL`
/// for [`Commits::Relaxed`]), foreign keys on, and a busy timeout so that concurrent writers
/// wait instead of failing.
pub async fn connect(options: &DbOptions) -> Result<DatabaseConnection, DbError> {
    let synchronous = match options.commits {
        Commits::Durable => sea_orm::sqlx::sqlite::SqliteSynchronous::Full,
        Commits::Relaxed => sea_orm::sqlx::sqlite::SqliteSynchronous::Normal,
    };
    let mut connect = ConnectOptions::new(options.url.clone());
    connect
        .max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(connect).await.during("connect")
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a deferred transaction that reads first and writes later cannot wait for the
/// lock and fails with "database is locked" whenever another connection is writing.
pub async fn begin_write(
    db: &DatabaseConnection,
    operation: &'static str,
) -> Result<sea_orm::DatabaseTransaction, DbError> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    db.begin_with_options(options).await.during(operation)
}

/// Runs a trivial query, for readiness checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbError> {
    db.execute_unprepared("SELECT 1").await.during("ping")?;
    Ok(())
}

/// Whether `error` is a unique-constraint violation, on either backend.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

pub fn backend(db: &DatabaseConnection) -> DbBackend {
    db.get_database_backend()
}
