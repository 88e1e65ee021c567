//! linkyard's database schema. Every migration runs on both SQLite and PostgreSQL, so they use
//! only portable column types and build their statements with sea-query.

pub use sea_orm_migration::prelude::*;

mod m20261204_000001_users_and_links;
mod m20261204_000002_outbox;
mod m20261204_000003_clicks;
mod m20261204_000004_pastes;
mod m20261204_000005_bookmarks;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_users_and_links::Migration),
            Box::new(m20261204_000002_outbox::Migration),
            Box::new(m20261204_000003_clicks::Migration),
            Box::new(m20261204_000004_pastes::Migration),
            Box::new(m20261204_000005_bookmarks::Migration),
        ]
    }
}
