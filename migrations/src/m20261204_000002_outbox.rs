//! The transactional outbox: one row per job, written in the same transaction as the change that
//! caused it. The embedded queue polls these rows and runs them; the RabbitMQ relay publishes them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(outbox()).await?;

        // Pollers and the relay select rows with `published_at IS NULL AND parked_at IS NULL
        // AND available_at <= now ORDER BY available_at`: one range of this index, in order. The
        // purge of published rows uses its first column.
        manager
            .create_index(
                Index::create()
                    .name("outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::PublishedAt)
                    .col(Outbox::ParkedAt)
                    .col(Outbox::AvailableAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}

fn outbox() -> TableCreateStatement {
    Table::create()
        .table(Outbox::Table)
        .col(big_pk_auto(Outbox::Id))
        // The idempotency key: enqueueing an id that is still in the table does nothing.
        .col(string_uniq(Outbox::JobId))
        .col(string(Outbox::Kind))
        // The job's JSON payload as text, so both backends store it the same way.
        .col(text(Outbox::Payload))
        .col(string_null(Outbox::RequestId))
        .col(timestamp_with_time_zone(Outbox::CreatedAt))
        // When the row is due: the enqueue time, or the time of the next retry.
        .col(timestamp_with_time_zone(Outbox::AvailableAt))
        // How many times a poller has claimed the row to run it.
        .col(integer(Outbox::Attempts).default(0))
        // The poller or relay that claimed the row, and until when; a crashed claimer's rows
        // become due again when the lease runs out.
        .col(string_null(Outbox::LeaseOwner))
        .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
        .col(text_null(Outbox::LastError))
        // Set by the RabbitMQ relay once the broker confirmed the message.
        .col(timestamp_with_time_zone_null(Outbox::PublishedAt))
        // Set when the job failed permanently or ran out of attempts; parked rows are never
        // claimed until an operator requeues them.
        .col(timestamp_with_time_zone_null(Outbox::ParkedAt))
        .to_owned()
}

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
