//! Id blocks leased from the `id_counters` table.

use super::{DbError, DbResultExt};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DeriveIden};
use std::ops::Range;

#[derive(DeriveIden)]
enum IdCounters {
    Table,
    Name,
    NextId,
}

/// Leases the next `count` ids of the sequence `name` with one atomic `UPDATE … RETURNING`, so
/// several instances never receive overlapping blocks. Ids start at 1.
pub async fn lease_block(
    db: &DatabaseConnection,
    name: &str,
    count: u64,
) -> Result<Range<u64>, DbError> {
    ensure_counter(db, name).await?;

    let update = Query::update()
        .table(IdCounters::Table)
        .value(
            IdCounters::NextId,
            Expr::col(IdCounters::NextId).add(count as i64),
        )
        .and_where(Expr::col(IdCounters::Name).eq(name))
        .returning_col(IdCounters::NextId)
        .to_owned();
    let row = db.query_one(&update).await.during("lease id block")?;
    let end: i64 = row
        .ok_or_else(|| missing_counter(name))?
        .try_get_by_index(0)
        .during("lease id block")?;

    let end = end as u64;
    Ok(end - count..end)
}

/// Returns the first id that no instance has leased yet.
pub async fn high_water(db: &DatabaseConnection, name: &str) -> Result<u64, DbError> {
    let select = Query::select()
        .column(IdCounters::NextId)
        .from(IdCounters::Table)
        .and_where(Expr::col(IdCounters::Name).eq(name))
        .to_owned();
    let row = db.query_one(&select).await.during("read id counter")?;
    match row {
        Some(row) => Ok(row.try_get_by_index::<i64>(0).during("read id counter")? as u64),
        None => Ok(1),
    }
}

async fn ensure_counter(db: &DatabaseConnection, name: &str) -> Result<(), DbError> {
    let insert = Query::insert()
        .into_table(IdCounters::Table)
        .columns([IdCounters::Name, IdCounters::NextId])
        .values_panic([name.into(), 1i64.into()])
        .on_conflict(OnConflict::column(IdCounters::Name).do_nothing().to_owned())
        .to_owned();
    db.execute(&insert).await.during("create id counter")?;
    Ok(())
}

fn missing_counter(name: &str) -> DbError {
    DbError::new(
        "lease id block",
        sea_orm::DbErr::RecordNotFound(format!("id counter {name}")),
    )
}
