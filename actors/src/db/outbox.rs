//! Queries on the `outbox` table: enqueueing inside a caller's transaction, claiming due rows
//! under a lease, and settling them (delete, reschedule, park, mark published).
//!
//! Timestamps come from the application clock, not the database's, so the same statements run on
//! SQLite (which stores them as RFC 3339 text that sorts in time order) and PostgreSQL.

use super::{DbError, DbResultExt};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Asterisk, Expr, ExprTrait, Func, LockBehavior, LockType, OnConflict, Order, Query,
    UpdateStatement,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DeriveIden, FromQueryResult};

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    JobId,
    Kind,
    Payload,
    RequestId,
    CreatedAt,
    AvailableAt,
    Attempts,
    LeaseOwner,
    LeaseUntil,
    LastError,
    PublishedAt,
    ParkedAt,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct OutboxRow {
    pub id: i64,
    pub job_id: String,
    pub kind: String,
    /// The job's payload as JSON text.
    pub payload: String,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub available_at: DateTime<Utc>,
    /// How many times a poller has claimed the row to run it, including the current claim.
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub parked_at: Option<DateTime<Utc>>,
}

/// The values of a new row.
#[derive(Debug, Clone, Copy)]
pub struct NewRow<'a> {
    pub job_id: &'a str,
    pub kind: &'a str,
    pub payload: &'a str,
    pub request_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Inserts a row, on whatever connection or transaction `db` is, so the caller commits it with
/// its own changes. Returns false when a row with this job id already exists; it is kept as is.
pub async fn insert(db: &impl ConnectionTrait, row: NewRow<'_>) -> Result<bool, DbError> {
    let insert = Query::insert()
        .into_table(Outbox::Table)
        .columns([
            Outbox::JobId,
            Outbox::Kind,
            Outbox::Payload,
            Outbox::RequestId,
            Outbox::CreatedAt,
            Outbox::AvailableAt,
            Outbox::Attempts,
        ])
        .values_panic([
            row.job_id.into(),
            row.kind.into(),
            row.payload.into(),
            row.request_id.map(str::to_owned).into(),
            row.now.into(),
            row.now.into(),
            0i32.into(),
        ])
        .on_conflict(OnConflict::column(Outbox::JobId).do_nothing().to_owned())
        .to_owned();
    let result = db.execute(&insert).await.during("enqueue job")?;
    Ok(result.rows_affected() == 1)
}

/// The parameters of a claim: which rows it selects and how it marks them.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The claimer's id, stored in `lease_owner`.
    pub owner: &'a str,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    pub limit: u64,
    /// Only rows of these kinds; `None` takes every kind.
    pub kinds: Option<&'a [String]>,
    /// Whether the claim counts as an attempt to run the job. The relay's claims do not.
    pub count_attempt: bool,
}

/// Claims up to `claim.limit` due rows that no claimer holds, oldest first, in one statement.
///
/// A row is due when it is neither published nor parked, its `available_at` has passed and any
/// earlier lease has run out. On PostgreSQL the inner select takes row locks with `SKIP LOCKED`,
/// so concurrent claimers skip each other's rows instead of claiming them twice. The outer
/// `WHERE` repeats the lease check, because PostgreSQL evaluates it again on a row that changed
/// while the statement waited for its lock. SQLite runs one write statement at a time, which
/// gives the same guarantee.
pub async fn claim(db: &DatabaseConnection, claim: Claim<'_>) -> Result<Vec<OutboxRow>, DbError> {
    let update = claim_statement(claim);
    let rows = db.query_all(&update).await.during("claim outbox rows")?;
    let mut claimed = rows
        .iter()
        .map(|row| OutboxRow::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()
        .during("claim outbox rows")?;
    // RETURNING gives no order on either backend.
    claimed.sort_by_key(|row| (row.available_at, row.id));
    Ok(claimed)
}

fn claim_statement(claim: Claim<'_>) -> UpdateStatement {
    let mut due = Query::select();
    due.column(Outbox::Id)
        .from(Outbox::Table)
        .and_where(Expr::col(Outbox::PublishedAt).is_null())
        .and_where(Expr::col(Outbox::ParkedAt).is_null())
        .and_where(Expr::col(Outbox::AvailableAt).lte(claim.now))
        .and_where(lease_expired(claim.now))
        .order_by(Outbox::AvailableAt, Order::Asc)
        .order_by(Outbox::Id, Order::Asc)
        .limit(claim.limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    if let Some(kinds) = claim.kinds {
        due.and_where(Expr::col(Outbox::Kind).is_in(kinds.iter().map(String::as_str)));
    }

    let mut update = Query::update();
    update
        .table(Outbox::Table)
        .value(Outbox::LeaseOwner, claim.owner)
        .value(Outbox::LeaseUntil, claim.lease_until)
        .and_where(Expr::col(Outbox::Id).in_subquery(due))
        .and_where(lease_expired(claim.now))
        .returning_all();
    if claim.count_attempt {
        update.value(Outbox::Attempts, Expr::col(Outbox::Attempts).add(1));
    }
    update
}

fn lease_expired(now: DateTime<Utc>) -> Expr {
    Expr::col(Outbox::LeaseUntil)
        .is_null()
        .or(Expr::col(Outbox::LeaseUntil).lte(now))
}

fn held_by(id: i64, owner: &str) -> Expr {
    Expr::col(Outbox::Id)
        .eq(id)
        .and(Expr::col(Outbox::LeaseOwner).eq(owner))
}

/// Extends the lease of a row that `owner` still holds. Returns false when the row is gone or
/// another claimer took it over.
pub async fn renew_lease(
    db: &DatabaseConnection,
    id: i64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbError> {
    let update = Query::update()
        .table(Outbox::Table)
        .value(Outbox::LeaseUntil, lease_until)
        .and_where(held_by(id, owner))
        .to_owned();
    let result = db.execute(&update).await.during("renew outbox lease")?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a row whose job succeeded, regardless of which claimer holds it, because the job is
/// done either way.
pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<(), DbError> {
    let delete = Query::delete()
        .from_table(Outbox::Table)
        .and_where(Expr::col(Outbox::Id).eq(id))
        .to_owned();
    db.execute(&delete).await.during("delete outbox row")?;
    Ok(())
}

/// Deletes the rows of several succeeded jobs in one statement.
pub async fn delete_many(db: &DatabaseConnection, ids: &[i64]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let delete = Query::delete()
        .from_table(Outbox::Table)
        .and_where(Expr::col(Outbox::Id).is_in(ids.iter().copied()))
        .to_owned();
    db.execute(&delete).await.during("delete outbox rows")?;
    Ok(())
}

/// Releases a row that `owner` holds so that it becomes due again at `available_at`, recording
/// why the attempt failed. Returns false when `owner` no longer holds it.
pub async fn reschedule(
    db: &DatabaseConnection,
    id: i64,
    owner: &str,
    available_at: DateTime<Utc>,
    error: &str,
) -> Result<bool, DbError> {
    let update = Query::update()
        .table(Outbox::Table)
        .value(Outbox::AvailableAt, available_at)
        .value(Outbox::LastError, error)
        .values(cleared_lease())
        .and_where(held_by(id, owner))
        .to_owned();
    let result = db.execute(&update).await.during("reschedule outbox row")?;
    Ok(result.rows_affected() == 1)
}

/// Parks a row that `owner` holds: it stays in the table with its reason and is not claimed
/// again until [`requeue_parked`]. Returns false when `owner` no longer holds it.
pub async fn park(
    db: &DatabaseConnection,
    id: i64,
    owner: &str,
    now: DateTime<Utc>,
    error: &str,
) -> Result<bool, DbError> {
    let update = Query::update()
        .table(Outbox::Table)
        .value(Outbox::ParkedAt, now)
        .value(Outbox::LastError, error)
        .values(cleared_lease())
        .and_where(held_by(id, owner))
        .to_owned();
    let result = db.execute(&update).await.during("park outbox row")?;
    Ok(result.rows_affected() == 1)
}

fn cleared_lease() -> [(Outbox, Expr); 2] {
    [
        (Outbox::LeaseOwner, Expr::value(Option::<String>::None)),
        (
            Outbox::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        ),
    ]
}

/// Marks rows as published to the broker and releases their lease.
pub async fn mark_published(
    db: &DatabaseConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let update = Query::update()
        .table(Outbox::Table)
        .value(Outbox::PublishedAt, now)
        .values(cleared_lease())
        .and_where(Expr::col(Outbox::Id).is_in(ids.iter().copied()))
        .to_owned();
    db.execute(&update)
        .await
        .during("mark outbox rows published")?;
    Ok(())
}

/// Releases the lease on rows the relay could not publish, so that they become due again at
/// `available_at`. `error` replaces `last_error` when given.
pub async fn release(
    db: &DatabaseConnection,
    ids: &[i64],
    available_at: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut update = Query::update();
    update
        .table(Outbox::Table)
        .value(Outbox::AvailableAt, available_at)
        .values(cleared_lease())
        .and_where(Expr::col(Outbox::Id).is_in(ids.iter().copied()));
    if let Some(error) = error {
        update.value(Outbox::LastError, error);
    }
    db.execute(&update).await.during("release outbox rows")?;
    Ok(())
}

/// Deletes up to `limit` rows published before `before`. Returns how many it deleted.
pub async fn purge_published(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbError> {
    let oldest = Query::select()
        .column(Outbox::Id)
        .from(Outbox::Table)
        .and_where(Expr::col(Outbox::PublishedAt).lt(before))
        .limit(limit)
        .to_owned();
    let delete = Query::delete()
        .from_table(Outbox::Table)
        .and_where(Expr::col(Outbox::Id).in_subquery(oldest))
        .to_owned();
    let result = db
        .execute(&delete)
        .await
        .during("purge published outbox rows")?;
    Ok(result.rows_affected())
}

/// Returns up to `limit` parked rows, most recently parked first.
pub async fn list_parked(db: &DatabaseConnection, limit: u64) -> Result<Vec<OutboxRow>, DbError> {
    let select = Query::select()
        .column(Asterisk)
        .from(Outbox::Table)
        .and_where(Expr::col(Outbox::ParkedAt).is_not_null())
        .order_by(Outbox::ParkedAt, Order::Desc)
        .order_by(Outbox::Id, Order::Desc)
        .limit(limit)
        .to_owned();
    let rows = db.query_all(&select).await.during("list parked jobs")?;
    rows.iter()
        .map(|row| OutboxRow::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()
        .during("list parked jobs")
}

/// Puts a parked job back in the queue with a fresh attempt count. Returns false when no parked
/// row has this job id.
pub async fn requeue_parked(
    db: &DatabaseConnection,
    job_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let update = Query::update()
        .table(Outbox::Table)
        .value(Outbox::ParkedAt, Option::<DateTime<Utc>>::None)
        .value(Outbox::AvailableAt, now)
        .value(Outbox::Attempts, 0i32)
        .and_where(Expr::col(Outbox::JobId).eq(job_id))
        .and_where(Expr::col(Outbox::ParkedAt).is_not_null())
        .to_owned();
    let result = db.execute(&update).await.during("requeue parked job")?;
    Ok(result.rows_affected() == 1)
}

/// Returns the row of a job, whatever its state.
pub async fn find(db: &DatabaseConnection, job_id: &str) -> Result<Option<OutboxRow>, DbError> {
    let select = Query::select()
        .column(Asterisk)
        .from(Outbox::Table)
        .and_where(Expr::col(Outbox::JobId).eq(job_id))
        .to_owned();
    let row = db.query_one(&select).await.during("find outbox row")?;
    row.map(|row| OutboxRow::from_query_result(&row, ""))
        .transpose()
        .during("find outbox row")
}

/// Counts rows that are neither published nor parked: the jobs still waiting to run or to be
/// relayed.
pub async fn count_pending(db: &DatabaseConnection) -> Result<u64, DbError> {
    let select = Query::select()
        .expr(Func::count(Expr::col(Outbox::Id)))
        .from(Outbox::Table)
        .and_where(Expr::col(Outbox::PublishedAt).is_null())
        .and_where(Expr::col(Outbox::ParkedAt).is_null())
        .to_owned();
    let row = db.query_one(&select).await.during("count pending jobs")?;
    let count: i64 = match row {
        Some(row) => row.try_get_by_index(0).during("count pending jobs")?,
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    fn claim_sql(count_attempt: bool) -> (String, String) {
        let kinds = ["render_qr".to_owned()];
        let now = Utc::now();
        let claim = Claim {
            owner: "poller-1",
            now,
            lease_until: now,
            limit: 4,
            kinds: Some(&kinds),
            count_attempt,
        };
        let statement = claim_statement(claim);
        (
            statement.to_string(PostgresQueryBuilder),
            statement.to_string(SqliteQueryBuilder),
        )
    }

    #[test]
    fn claim_skips_locked_rows_on_postgres_only() {
        let (postgres, sqlite) = claim_sql(true);
        assert!(postgres.contains("FOR UPDATE SKIP LOCKED"), "{postgres}");
        assert!(!sqlite.contains("FOR UPDATE"), "{sqlite}");
        for sql in [&postgres, &sqlite] {
            assert!(sql.contains("RETURNING"), "{sql}");
            assert!(sql.contains("\"attempts\" = \"attempts\" + 1"), "{sql}");
        }
    }

    #[test]
    fn relay_claim_does_not_count_an_attempt() {
        let (postgres, _) = claim_sql(false);
        assert!(!postgres.contains("\"attempts\""), "{postgres}");
    }
}
