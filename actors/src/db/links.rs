//! Queries on the `links` table.

use super::entities::links::{self, Column, Entity};
use super::{DbError, DbResultExt};
use crate::backends::queue::NewJob;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashSet;

/// Inserts a batch of links in one transaction and returns the codes that were inserted. A row
/// whose code is already taken is skipped, not an error, so one conflicting alias does not fail
/// the other rows of the batch. Each inserted row's job, if any, is written to the outbox in the
/// same transaction, so the job exists exactly when the link does.
pub async fn insert_batch(
    db: &DatabaseConnection,
    rows: Vec<(links::ActiveModel, Option<NewJob>)>,
) -> Result<HashSet<String>, DbError> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let (rows, jobs): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let codes: Vec<Option<String>> = rows
        .iter()
        .map(|row| row.code.try_as_ref().cloned())
        .collect();

    let transaction = super::begin_write(db, "begin link batch").await?;
    let inserted: HashSet<String> = Entity::insert_many(rows)
        .on_conflict(OnConflict::column(Column::Code).do_nothing().to_owned())
        .exec_with_returning(&transaction)
        .await
        .during("insert links")?
        .into_iter()
        .map(|row| row.code)
        .collect();

    let mut enqueued = HashSet::new();
    for (code, job) in codes.into_iter().zip(jobs) {
        let (Some(code), Some(job)) = (code, job) else {
            continue;
        };
        // Two rows of one batch may carry one alias; only the first one's job is written.
        if inserted.contains(&code) && enqueued.insert(code) {
            crate::backends::queue::enqueue(&transaction, &job)
                .await
                .map_err(|error| {
                    DbError::new(
                        "enqueue link job",
                        sea_orm::DbErr::Custom(error.to_string()),
                    )
                })?;
        }
    }
    transaction.commit().await.during("commit link batch")?;
    Ok(inserted)
}

pub async fn find_by_code(
    db: &DatabaseConnection,
    code: &str,
) -> Result<Option<links::Model>, DbError> {
    Entity::find()
        .filter(Column::Code.eq(code))
        .one(db)
        .await
        .during("find link")
}

/// Returns the links with any of these codes.
pub async fn find_by_codes(
    db: &DatabaseConnection,
    codes: &[String],
) -> Result<Vec<links::Model>, DbError> {
    Entity::find()
        .filter(Column::Code.is_in(codes.iter().cloned()))
        .all(db)
        .await
        .during("find links")
}

pub async fn update(
    db: &DatabaseConnection,
    row: links::ActiveModel,
) -> Result<links::Model, DbError> {
    sea_orm::ActiveModelTrait::update(row, db)
        .await
        .during("update link")
}

/// Deletes the link with this id. Returns whether a row was deleted.
pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<bool, DbError> {
    let result = Entity::delete_by_id(id)
        .exec(db)
        .await
        .during("delete link")?;
    Ok(result.rows_affected > 0)
}

/// Returns up to `limit` links of `owner_id`, newest first, with ids below `before_id`.
pub async fn list_by_owner(
    db: &DatabaseConnection,
    owner_id: i64,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<links::Model>, DbError> {
    let mut query = Entity::find().filter(Column::OwnerId.eq(owner_id));
    if let Some(before_id) = before_id {
        query = query.filter(Column::Id.lt(before_id));
    }
    query
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .during("list links")
}

/// Returns the links among `ids` that belong to `owner_id`.
pub async fn find_owned_by_ids(
    db: &DatabaseConnection,
    owner_id: i64,
    ids: &[i64],
) -> Result<Vec<links::Model>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::OwnerId.eq(owner_id))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .during("find links by id")
}

/// Counts one visit of a link that has a visit limit, atomically: the row is only updated while
/// `visits < max_visits`, so concurrent requests can never take more visits than the limit.
/// Returns whether the visit was granted.
pub async fn take_limited_visit(db: &DatabaseConnection, id: i64) -> Result<bool, DbError> {
    let result = Entity::update_many()
        .col_expr(Column::Visits, Expr::col(Column::Visits).add(1))
        .filter(Column::Id.eq(id))
        .filter(Expr::col(Column::Visits).lt(Expr::col(Column::MaxVisits)))
        .exec(db)
        .await
        .during("count limited visit")?;
    Ok(result.rows_affected == 1)
}

/// Adds counted visits to links in one transaction. `visits` holds `(link id, count)` pairs.
pub async fn add_visits(db: &DatabaseConnection, visits: &[(i64, i64)]) -> Result<(), DbError> {
    let transaction = super::begin_write(db, "begin visit flush").await?;
    for (id, count) in visits {
        let update = sea_orm::sea_query::Query::update()
            .table(Entity)
            .value(Column::Visits, Expr::col(Column::Visits).add(*count))
            .and_where(Column::Id.eq(*id))
            .to_owned();
        transaction.execute(&update).await.during("add visits")?;
    }
    transaction.commit().await.during("commit visit flush")
}
