//! Pastes: the metadata of each paste. The body lives in the blob store under a key derived
//! from the id, written before the row and deleted after it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(pastes()).await?;
        // The sweeper reads expired rows in `expires_at` order.
        manager
            .create_index(
                Index::create()
                    .name("pastes_expires_at")
                    .table(Pastes::Table)
                    .col(Pastes::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pastes_owner_id")
                    .table(Pastes::Table)
                    .col(Pastes::OwnerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Pastes::Table).to_owned())
            .await
    }
}

fn pastes() -> TableCreateStatement {
    Table::create()
        .table(Pastes::Table)
        .col(string(Pastes::Id).primary_key())
        .col(big_integer_null(Pastes::OwnerId))
        .col(string_null(Pastes::Title))
        .col(string_null(Pastes::Syntax))
        .col(big_integer(Pastes::Size))
        .col(boolean(Pastes::Binary))
        .col(boolean(Pastes::Burn))
        .col(boolean(Pastes::Private))
        .col(string_null(Pastes::PasswordHash))
        .col(string(Pastes::DeleteTokenHash))
        .col(timestamp_with_time_zone(Pastes::CreatedAt))
        .col(timestamp_with_time_zone_null(Pastes::ExpiresAt))
        .foreign_key(
            ForeignKey::create()
                .from(Pastes::Table, Pastes::OwnerId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::SetNull),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Pastes {
    Table,
    Id,
    OwnerId,
    Title,
    Syntax,
    Size,
    Binary,
    Burn,
    Private,
    PasswordHash,
    DeleteTokenHash,
    CreatedAt,
    ExpiresAt,
}
