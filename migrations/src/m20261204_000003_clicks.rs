//! Click analytics: per-link hourly counters and daily dimension counts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(click_hours()).await?;
        manager.create_table(click_dimensions()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClickDimensions::Table.into_iden(),
            ClickHours::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// One row per link and hour; `hour` is the unix time in seconds of the hour's start (UTC).
fn click_hours() -> TableCreateStatement {
    Table::create()
        .table(ClickHours::Table)
        .col(big_integer(ClickHours::LinkId))
        .col(big_integer(ClickHours::Hour))
        .col(big_integer(ClickHours::Total))
        .col(big_integer(ClickHours::Humans))
        .col(big_integer(ClickHours::Bots))
        .primary_key(
            Index::create()
                .col(ClickHours::LinkId)
                .col(ClickHours::Hour),
        )
        .foreign_key(
            ForeignKey::create()
                .from(ClickHours::Table, ClickHours::LinkId)
                .to(Links::Table, Links::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

/// One row per link, day, dimension and value; `day` is the unix time in seconds of the day's
/// start (UTC) and an empty `value` means unknown.
fn click_dimensions() -> TableCreateStatement {
    Table::create()
        .table(ClickDimensions::Table)
        .col(big_integer(ClickDimensions::LinkId))
        .col(big_integer(ClickDimensions::Day))
        .col(string(ClickDimensions::Kind))
        .col(string(ClickDimensions::Value))
        .col(big_integer(ClickDimensions::Count))
        .primary_key(
            Index::create()
                .col(ClickDimensions::LinkId)
                .col(ClickDimensions::Day)
                .col(ClickDimensions::Kind)
                .col(ClickDimensions::Value),
        )
        .foreign_key(
            ForeignKey::create()
                .from(ClickDimensions::Table, ClickDimensions::LinkId)
                .to(Links::Table, Links::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Links {
    Table,
    Id,
}

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
