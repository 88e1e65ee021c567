//! Click analytics tables: hourly counters and daily dimension counts, written in batched
//! additive upserts so several instances can flush into the same rows.

use super::{DbError, DbResultExt};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DeriveIden};
use std::collections::HashSet;

/// Rows per statement; keeps every statement under both backends' bind-parameter limits.
const CHUNK: usize = 400;

#[derive(DeriveIden)]
enum ClickHours {
    Table,
    LinkId,
    Hour,
    Total,
    Humans,
    Bots,
}

#[derive(DeriveIden)]
enum ClickDimensions {
    Table,
    LinkId,
    Day,
    Kind,
    Value,
    Count,
}

#[derive(DeriveIden)]
enum Links {
    Table,
    Id,
    Visits,
}

/// Counts of one link in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourCounts {
    pub total: i64,
    pub humans: i64,
    pub bots: i64,
}

/// Everything one flush writes.
#[derive(Debug, Default)]
pub struct ClickRows {
    /// `(link id, hour start in unix seconds, counts)`.
    pub hours: Vec<(i64, i64, HourCounts)>,
    /// `(link id, day start in unix seconds, dimension, value or "" for unknown, count)`.
    pub dimensions: Vec<(i64, i64, &'static str, String, i64)>,
    /// `(link id, human visits to add to links.visits)`.
    pub visits: Vec<(i64, i64)>,
}

/// Writes one flush in one transaction. Rows of links that were deleted meanwhile are dropped.
pub async fn flush(db: &DatabaseConnection, mut rows: ClickRows) -> Result<(), DbError> {
    let transaction = super::begin_write(db, "begin click flush").await?;
    let existing = existing_links(&transaction, &rows).await?;
    rows.hours.retain(|(link, _, _)| existing.contains(link));
    rows.dimensions.retain(|(link, ..)| existing.contains(link));
    rows.visits.retain(|(link, _)| existing.contains(link));

    for chunk in rows.hours.chunks(CHUNK) {
        transaction
            .execute(&upsert_hours(chunk))
            .await
            .during("upsert click hours")?;
    }
    for chunk in rows.dimensions.chunks(CHUNK) {
        transaction
            .execute(&upsert_dimensions(chunk))
            .await
            .during("upsert click dimensions")?;
    }
    for (link, count) in &rows.visits {
        let update = Query::update()
            .table(Links::Table)
            .value(Links::Visits, Expr::col(Links::Visits).add(*count))
            .and_where(Expr::col(Links::Id).eq(*link))
            .to_owned();
        transaction.execute(&update).await.during("add visits")?;
    }
    transaction.commit().await.during("commit click flush")
}

async fn existing_links<C: ConnectionTrait>(
    db: &C,
    rows: &ClickRows,
) -> Result<HashSet<i64>, DbError> {
    let mut ids: Vec<i64> = rows.hours.iter().map(|(link, _, _)| *link).collect();
    ids.extend(rows.visits.iter().map(|(link, _)| *link));
    ids.sort_unstable();
    ids.dedup();
    let mut existing = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let select = Query::select()
            .column(Links::Id)
            .from(Links::Table)
            .and_where(Expr::col(Links::Id).is_in(chunk.iter().copied()))
            .to_owned();
        for row in db.query_all(&select).await.during("check click links")? {
            existing.insert(row.try_get_by_index::<i64>(0).during("check click links")?);
        }
    }
    Ok(existing)
}

fn upsert_hours(rows: &[(i64, i64, HourCounts)]) -> sea_orm::sea_query::InsertStatement {
    let mut insert = Query::insert();
    insert.into_table(ClickHours::Table).columns([
        ClickHours::LinkId,
        ClickHours::Hour,
        ClickHours::Total,
        ClickHours::Humans,
        ClickHours::Bots,
    ]);
    for (link, hour, counts) in rows {
        insert.values_panic([
            (*link).into(),
            (*hour).into(),
            counts.total.into(),
            counts.humans.into(),
            counts.bots.into(),
        ]);
    }
    insert.on_conflict(
        OnConflict::columns([ClickHours::LinkId, ClickHours::Hour])
            .value(
                ClickHours::Total,
                Expr::cust("click_hours.total + excluded.total"),
            )
            .value(
                ClickHours::Humans,
                Expr::cust("click_hours.humans + excluded.humans"),
            )
            .value(
                ClickHours::Bots,
                Expr::cust("click_hours.bots + excluded.bots"),
            )
            .to_owned(),
    );
    insert
}

fn upsert_dimensions(
    rows: &[(i64, i64, &'static str, String, i64)],
) -> sea_orm::sea_query::InsertStatement {
    let mut insert = Query::insert();
    insert.into_table(ClickDimensions::Table).columns([
        ClickDimensions::LinkId,
        ClickDimensions::Day,
        ClickDimensions::Kind,
        ClickDimensions::Value,
        ClickDimensions::Count,
    ]);
    for (link, day, kind, value, count) in rows {
        insert.values_panic([
            (*link).into(),
            (*day).into(),
            (*kind).into(),
            value.clone().into(),
            (*count).into(),
        ]);
    }
    insert.on_conflict(
        OnConflict::columns([
            ClickDimensions::LinkId,
            ClickDimensions::Day,
            ClickDimensions::Kind,
            ClickDimensions::Value,
        ])
        .value(
            ClickDimensions::Count,
            Expr::cust("click_dimensions.count + excluded.count"),
        )
        .to_owned(),
    );
    insert
}

/// Hourly counts of a link with `from <= hour < to`, oldest first.
pub async fn hours(
    db: &DatabaseConnection,
    link: i64,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, HourCounts)>, DbError> {
    let select = Query::select()
        .columns([
            ClickHours::Hour,
            ClickHours::Total,
            ClickHours::Humans,
            ClickHours::Bots,
        ])
        .from(ClickHours::Table)
        .and_where(Expr::col(ClickHours::LinkId).eq(link))
        .and_where(Expr::col(ClickHours::Hour).gte(from))
        .and_where(Expr::col(ClickHours::Hour).lt(to))
        .order_by(ClickHours::Hour, Order::Asc)
        .to_owned();
    let rows = db.query_all(&select).await.during("read click hours")?;
    rows.into_iter()
        .map(|row| {
            let counts = HourCounts {
                total: row.try_get_by_index(1)?,
                humans: row.try_get_by_index(2)?,
                bots: row.try_get_by_index(3)?,
            };
            Ok((row.try_get_by_index(0)?, counts))
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .during("read click hours")
}

/// The `limit` most frequent values of one dimension of a link with `from <= day < to`, most
/// frequent first. An empty value stands for unknown.
pub async fn top_values(
    db: &DatabaseConnection,
    link: i64,
    kind: &str,
    from: i64,
    to: i64,
    limit: u64,
) -> Result<Vec<(String, i64)>, DbError> {
    // PostgreSQL sums BIGINT into NUMERIC; the cast keeps the column an integer on both.
    let total = Expr::cust("CAST(SUM(count) AS BIGINT)");
    let select = Query::select()
        .column(ClickDimensions::Value)
        .expr_as(total.clone(), "total")
        .from(ClickDimensions::Table)
        .and_where(Expr::col(ClickDimensions::LinkId).eq(link))
        .and_where(Expr::col(ClickDimensions::Kind).eq(kind))
        .and_where(Expr::col(ClickDimensions::Day).gte(from))
        .and_where(Expr::col(ClickDimensions::Day).lt(to))
        .group_by_col(ClickDimensions::Value)
        .order_by_expr(total, Order::Desc)
        .order_by(ClickDimensions::Value, Order::Asc)
        .limit(limit)
        .to_owned();
    let rows = db
        .query_all(&select)
        .await
        .during("read click dimensions")?;
    rows.into_iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect::<Result<_, sea_orm::DbErr>>()
        .during("read click dimensions")
}
