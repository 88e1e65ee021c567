//! Users, their API keys, the id counters and short links.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(users()).await?;
        manager.create_table(api_keys()).await?;
        manager.create_table(id_counters()).await?;
        manager.create_table(app_secrets()).await?;
        manager.create_table(links()).await?;
        manager
            .create_index(
                Index::create()
                    .name("links_owner_id_id")
                    .table(Links::Table)
                    .col(Links::OwnerId)
                    .col(Links::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Links::Table.into_iden(),
            IdCounters::Table.into_iden(),
            AppSecrets::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn users() -> TableCreateStatement {
    Table::create()
        .table(Users::Table)
        .col(big_pk_auto(Users::Id))
        .col(string_uniq(Users::Email))
        .col(timestamp_with_time_zone(Users::CreatedAt))
        .to_owned()
}

fn api_keys() -> TableCreateStatement {
    Table::create()
        .table(ApiKeys::Table)
        .col(big_pk_auto(ApiKeys::Id))
        .col(big_integer(ApiKeys::UserId))
        .col(string_uniq(ApiKeys::KeyHash))
        .col(string(ApiKeys::KeyPrefix))
        .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
        .foreign_key(
            ForeignKey::create()
                .from(ApiKeys::Table, ApiKeys::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn id_counters() -> TableCreateStatement {
    Table::create()
        .table(IdCounters::Table)
        .col(string(IdCounters::Name).primary_key())
        .col(big_integer(IdCounters::NextId))
        .to_owned()
}

fn app_secrets() -> TableCreateStatement {
    Table::create()
        .table(AppSecrets::Table)
        .col(string(AppSecrets::Name).primary_key())
        .col(string(AppSecrets::Value))
        .to_owned()
}

fn links() -> TableCreateStatement {
    Table::create()
        .table(Links::Table)
        .col(big_integer(Links::Id).primary_key())
        .col(string_uniq(Links::Code))
        .col(text(Links::Url))
        .col(big_integer_null(Links::OwnerId))
        .col(timestamp_with_time_zone(Links::CreatedAt))
        .col(timestamp_with_time_zone(Links::UpdatedAt))
        .col(timestamp_with_time_zone_null(Links::ExpiresAt))
        .col(big_integer_null(Links::MaxVisits))
        .col(big_integer(Links::Visits).default(0))
        .col(small_integer(Links::Redirect))
        .col(boolean(Links::ForwardQuery))
        .col(text(Links::Tags))
        .col(boolean(Links::Disabled).default(false))
        .foreign_key(
            ForeignKey::create()
                .from(Links::Table, Links::OwnerId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    KeyHash,
    KeyPrefix,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdCounters {
    Table,
    Name,
    NextId,
}

#[derive(DeriveIden)]
enum AppSecrets {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Links {
    Table,
    Id,
    Code,
    Url,
    OwnerId,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
    MaxVisits,
    Visits,
    Redirect,
    ForwardQuery,
    Tags,
    Disabled,
}
