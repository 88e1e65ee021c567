//! Users and their API keys.

use super::entities::{api_keys, users};
use super::{DbError, DbResultExt, is_unique_violation};
use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

/// Inserts a user. Returns `Ok(None)` when the email is already registered.
pub async fn insert_user(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<users::Model>, DbError> {
    let row = users::ActiveModel {
        email: Set(email.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    match users::Entity::insert(row).exec_with_returning(db).await {
        Ok(user) => Ok(Some(user)),
        Err(error) if is_unique_violation(&error) => Ok(None),
        Err(error) => Err(DbError::new("insert user", error)),
    }
}

pub async fn find_user_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<users::Model>, DbError> {
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await
        .during("find user")
}

pub async fn find_user(db: &DatabaseConnection, id: i64) -> Result<Option<users::Model>, DbError> {
    users::Entity::find_by_id(id)
        .one(db)
        .await
        .during("find user")
}

pub async fn insert_api_key(
    db: &DatabaseConnection,
    user_id: i64,
    key_hash: &str,
    key_prefix: &str,
) -> Result<(), DbError> {
    let row = api_keys::ActiveModel {
        user_id: Set(user_id),
        key_hash: Set(key_hash.to_owned()),
        key_prefix: Set(key_prefix.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    api_keys::Entity::insert(row)
        .exec(db)
        .await
        .during("insert api key")?;
    Ok(())
}

/// Returns the user that owns the key with this hash.
pub async fn find_user_by_key_hash(
    db: &DatabaseConnection,
    key_hash: &str,
) -> Result<Option<users::Model>, DbError> {
    let key = api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(key_hash))
        .one(db)
        .await
        .during("find api key")?;
    match key {
        Some(key) => find_user(db, key.user_id).await,
        None => Ok(None),
    }
}
