//! The connection options of `db::connect` on SQLite.

use crate::support::sqlite_pragma as pragma;
use linkyard_actors::db::{self, Commits, DbOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::time::Duration;

async fn open(path: &std::path::Path, commits: Commits) -> DatabaseConnection {
    let options = DbOptions {
        url: format!("sqlite://{}?mode=rwc", path.display()),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(10),
        commits,
    };
    db::connect(&options).await.expect("connect")
}

#[tokio::test]
async fn pools_share_one_wal_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("linkyard.db");
    let durable = open(&path, Commits::Durable).await;
    let relaxed = open(&path, Commits::Relaxed).await;

    // SQLite numbers the levels OFF 0, NORMAL 1, FULL 2.
    assert_eq!(pragma(&durable, "synchronous").await, "2");
    assert_eq!(pragma(&relaxed, "synchronous").await, "1");
    assert_eq!(pragma(&durable, "journal_mode").await, "wal");
    assert_eq!(pragma(&relaxed, "journal_mode").await, "wal");

    // A row committed on the relaxed pool is visible to the durable one at once.
    relaxed
        .execute_unprepared(
            "CREATE TABLE shared (id INTEGER PRIMARY KEY); INSERT INTO shared VALUES (7)",
        )
        .await
        .expect("write on the relaxed pool");
    let row = durable
        .query_one_raw(Statement::from_string(
            durable.get_database_backend(),
            "SELECT id FROM shared".to_owned(),
        ))
        .await
        .expect("read on the durable pool")
        .expect("a row");
    assert_eq!(row.try_get_by_index::<i64>(0).expect("id"), 7);
    durable.close().await.expect("close");
    relaxed.close().await.expect("close");
}
