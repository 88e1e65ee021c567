//! Queries on the `bookmarks`, `bookmark_tags` and `favicons` tables.

use super::entities::bookmark_tags;
use super::entities::bookmarks::{self, Column, Entity};
use super::entities::favicons;
use super::{DbError, DbResultExt};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TryInsertResult,
};

/// The filters of a bookmark list; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// A tag key (see `search_query::tag_key`).
    pub tag: Option<String>,
    pub status: Option<String>,
    pub unread: Option<bool>,
}

/// Inserts a bookmark unless the user already has one with the same normalized URL. Returns
/// the inserted row, or `None` on that conflict.
/// `user_id` and `hash` must be the row's.
pub async fn insert(
    db: &impl ConnectionTrait,
    user_id: i64,
    hash: &str,
    row: bookmarks::ActiveModel,
) -> Result<Option<bookmarks::Model>, DbError> {
    // RETURNING yields no row on a conflict, which sea-orm reports inconsistently, so the row
    // is read back by its unique key instead.
    let result = Entity::insert(row)
        .on_conflict_do_nothing_on([Column::UserId, Column::NormalizedUrlHash])
        .exec_without_returning(db)
        .await
        .during("insert bookmark")?;
    match result {
        TryInsertResult::Inserted(1) => find_by_url_hash(db, user_id, hash).await,
        _ => Ok(None),
    }
}

/// Replaces the tag keys of a bookmark.
pub async fn replace_tags(
    db: &impl ConnectionTrait,
    bookmark_id: i64,
    user_id: i64,
    tag_keys: &[String],
) -> Result<(), DbError> {
    bookmark_tags::Entity::delete_many()
        .filter(bookmark_tags::Column::BookmarkId.eq(bookmark_id))
        .exec(db)
        .await
        .during("delete bookmark tags")?;
    let mut keys: Vec<&String> = tag_keys.iter().collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    let rows = keys.into_iter().map(|tag| bookmark_tags::ActiveModel {
        bookmark_id: Set(bookmark_id),
        user_id: Set(user_id),
        tag: Set(tag.clone()),
    });
    bookmark_tags::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .during("insert bookmark tags")?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<bookmarks::Model>, DbError> {
    Entity::find_by_id(id).one(db).await.during("find bookmark")
}

/// Returns the user's bookmark with this normalized URL hash.
pub async fn find_by_url_hash(
    db: &impl ConnectionTrait,
    user_id: i64,
    hash: &str,
) -> Result<Option<bookmarks::Model>, DbError> {
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::NormalizedUrlHash.eq(hash))
        .one(db)
        .await
        .during("find bookmark by URL")
}

/// Returns the user's bookmarks among `ids`, in no particular order.
pub async fn find_many(
    db: &impl ConnectionTrait,
    user_id: i64,
    ids: &[i64],
) -> Result<Vec<bookmarks::Model>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .during("find bookmarks")
}

/// Returns up to `limit` of the user's bookmarks with ids below `before_id`, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: i64,
    filter: &ListFilter,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<bookmarks::Model>, DbError> {
    let mut query = Entity::find().filter(Column::UserId.eq(user_id));
    if let Some(before_id) = before_id {
        query = query.filter(Column::Id.lt(before_id));
    }
    if let Some(status) = &filter.status {
        query = query.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(unread) = filter.unread {
        query = query.filter(Column::Unread.eq(unread));
    }
    if let Some(tag) = &filter.tag {
        let tagged = Query::select()
            .column(bookmark_tags::Column::BookmarkId)
            .from(bookmark_tags::Entity)
            .and_where(bookmark_tags::Column::UserId.eq(user_id))
            .and_where(bookmark_tags::Column::Tag.eq(tag.as_str()))
            .to_owned();
        query = query.filter(Column::Id.in_subquery(tagged));
    }
    query
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .during("list bookmarks")
}

/// Returns up to `limit` bookmarks of every user with ids above `after_id`, in id order, for
/// rebuilding the search index.
pub async fn scan(
    db: &impl ConnectionTrait,
    after_id: i64,
    limit: u64,
) -> Result<Vec<bookmarks::Model>, DbError> {
    Entity::find()
        .filter(Column::Id.gt(after_id))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .during("scan bookmarks")
}

/// Counts every user's bookmarks.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbError> {
    Entity::find().count(db).await.during("count bookmarks")
}

/// Writes the set columns of `changes` to bookmark `id`. Returns false when the row is gone.
pub async fn update(
    db: &impl ConnectionTrait,
    id: i64,
    changes: bookmarks::ActiveModel,
) -> Result<bool, DbError> {
    let result = Entity::update_many()
        .set(changes)
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .during("update bookmark")?;
    Ok(result.rows_affected == 1)
}

/// Deletes a bookmark and its tag keys. Returns false when the row was already gone.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbError> {
    bookmark_tags::Entity::delete_many()
        .filter(bookmark_tags::Column::BookmarkId.eq(id))
        .exec(db)
        .await
        .during("delete bookmark tags")?;
    let result = Entity::delete_by_id(id)
        .exec(db)
        .await
        .during("delete bookmark")?;
    Ok(result.rows_affected == 1)
}

/// Records a stored favicon. A row that exists already is kept.
pub async fn insert_favicon(
    db: &impl ConnectionTrait,
    hash: &str,
    media_type: &str,
    size: usize,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let row = favicons::ActiveModel {
        hash: Set(hash.to_owned()),
        media_type: Set(media_type.to_owned()),
        size: Set(i64::try_from(size).unwrap_or(i64::MAX)),
        created_at: Set(now),
    };
    favicons::Entity::insert(row)
        .on_conflict(
            OnConflict::column(favicons::Column::Hash)
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_without_returning(db)
        .await
        .during("insert favicon")?;
    Ok(())
}

pub async fn find_favicon(
    db: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<favicons::Model>, DbError> {
    favicons::Entity::find_by_id(hash.to_owned())
        .one(db)
        .await
        .during("find favicon")
}
