//! Queries on the `pastes` table. Every read that serves a paste filters out expired rows in
//! the query itself, so an expired paste is gone on every path the moment it expires, before
//! the sweeper deletes it.

use super::entities::pastes::{self, Column, Entity};
use super::{DbError, DbResultExt};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveValue, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashSet;

/// Rows that have not expired at `now`.
fn live(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::ExpiresAt.is_null())
        .add(Column::ExpiresAt.gt(now))
}

fn active_model(row: pastes::Model) -> pastes::ActiveModel {
    pastes::ActiveModel {
        id: ActiveValue::Set(row.id),
        owner_id: ActiveValue::Set(row.owner_id),
        title: ActiveValue::Set(row.title),
        syntax: ActiveValue::Set(row.syntax),
        size: ActiveValue::Set(row.size),
        binary: ActiveValue::Set(row.binary),
        burn: ActiveValue::Set(row.burn),
        private: ActiveValue::Set(row.private),
        password_hash: ActiveValue::Set(row.password_hash),
        delete_token_hash: ActiveValue::Set(row.delete_token_hash),
        created_at: ActiveValue::Set(row.created_at),
        expires_at: ActiveValue::Set(row.expires_at),
    }
}

/// Returns the paste `id` unless it is missing or expired at `now`.
pub async fn find_live(
    db: &DatabaseConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<pastes::Model>, DbError> {
    Entity::find_by_id(id.to_owned())
        .filter(live(now))
        .one(db)
        .await
        .during("find paste")
}

/// Deletes the paste `id` if it has not expired at `now`, and returns whether it did. The
/// condition and the delete are one statement, so of several concurrent calls exactly one
/// returns true.
pub async fn delete_live(
    db: &DatabaseConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let result = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(live(now))
        .exec(db)
        .await
        .during("delete paste")?;
    Ok(result.rows_affected == 1)
}

/// Returns up to `limit` ids of pastes that expired before `now`, oldest expiry first.
pub async fn expired_ids(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<String>, DbError> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::ExpiresAt.lte(now))
        .order_by_asc(Column::ExpiresAt)
        .limit(limit)
        .into_tuple::<String>()
        .all(db)
        .await
        .during("find expired pastes")
}

/// Deletes the rows of `ids` that expired before `now`. A paste whose expiry changed in
/// between is kept.
pub async fn delete_expired(
    db: &DatabaseConnection,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    let result = Entity::delete_many()
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .filter(Column::ExpiresAt.lte(now))
        .exec(db)
        .await
        .during("delete expired pastes")?;
    Ok(result.rows_affected)
}

/// Returns which of `ids` have a row, expired or not.
pub async fn existing_ids(
    db: &DatabaseConnection,
    ids: &[String],
) -> Result<HashSet<String>, DbError> {
    let found = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.is_in(ids.iter().cloned()))
        .into_tuple::<String>()
        .all(db)
        .await
        .during("find paste ids")?;
    Ok(found.into_iter().collect())
}

/// Inserts a batch of pastes in one transaction, so one commit (and on SQLite one fsync)
/// covers many creates.
pub async fn insert_batch(
    db: &DatabaseConnection,
    rows: Vec<pastes::Model>,
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let active: Vec<pastes::ActiveModel> = rows.into_iter().map(active_model).collect();
    let transaction = super::begin_write(db, "begin paste batch").await?;
    Entity::insert_many(active)
        .exec_without_returning(&transaction)
        .await
        .during("insert pastes")?;
    transaction.commit().await.during("commit paste batch")
}
