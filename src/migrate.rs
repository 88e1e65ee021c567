//! Schema migrations. On PostgreSQL they run under an advisory lock inside one transaction, so
//! instances starting together migrate once and never see a half-built schema.

use linkyard_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};

/// An arbitrary constant that identifies linkyard's migration lock.
const MIGRATION_LOCK_ID: i64 = 0x6c69_6e6b_7961_7264;

pub async fn run(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let transaction = db.begin().await?;
    transaction
        .execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"
        ))
        .await?;
    Migrator::up(&transaction, None).await?;
    transaction.commit().await
}
