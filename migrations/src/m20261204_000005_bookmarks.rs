//! Bookmarks, their tag keys for filtering, and the favicons stored once per content hash.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(bookmarks()).await?;
        manager.create_table(bookmark_tags()).await?;
        manager.create_table(favicons()).await?;
        // One bookmark per normalized URL and user. The URL itself can be 8 KiB, more than a
        // PostgreSQL B-tree entry holds, so the index covers its SHA-256 instead.
        manager
            .create_index(
                Index::create()
                    .name("bookmarks_user_id_url_hash")
                    .table(Bookmarks::Table)
                    .col(Bookmarks::UserId)
                    .col(Bookmarks::NormalizedUrlHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bookmarks_user_id_id")
                    .table(Bookmarks::Table)
                    .col(Bookmarks::UserId)
                    .col(Bookmarks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("bookmark_tags_user_id_tag")
                    .table(BookmarkTags::Table)
                    .col(BookmarkTags::UserId)
                    .col(BookmarkTags::Tag)
                    .col(BookmarkTags::BookmarkId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Favicons::Table.into_iden(),
            BookmarkTags::Table.into_iden(),
            Bookmarks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn bookmarks() -> TableCreateStatement {
    Table::create()
        .table(Bookmarks::Table)
        .col(big_pk_auto(Bookmarks::Id))
        .col(big_integer(Bookmarks::UserId))
        .col(text(Bookmarks::Url))
        .col(text(Bookmarks::NormalizedUrl))
        .col(string_len(Bookmarks::NormalizedUrlHash, 64))
        .col(text_null(Bookmarks::FinalUrl))
        .col(text_null(Bookmarks::CanonicalUrl))
        .col(text_null(Bookmarks::Title))
        .col(text_null(Bookmarks::Description))
        .col(text_null(Bookmarks::PageTitle))
        .col(text_null(Bookmarks::PageDescription))
        .col(text_null(Bookmarks::SiteName))
        .col(text_null(Bookmarks::ImageUrl))
        .col(string_len_null(Bookmarks::FaviconHash, 64))
        .col(text_null(Bookmarks::FaviconSourceUrl))
        .col(text_null(Bookmarks::Author))
        .col(timestamp_with_time_zone_null(Bookmarks::PublishedAt))
        .col(string_len_null(Bookmarks::Lang, 64))
        .col(text(Bookmarks::Tags))
        .col(text_null(Bookmarks::Note))
        .col(boolean(Bookmarks::Unread))
        .col(string_len(Bookmarks::Status, 16))
        .col(text_null(Bookmarks::Error))
        .col(timestamp_with_time_zone(Bookmarks::CreatedAt))
        .col(timestamp_with_time_zone(Bookmarks::UpdatedAt))
        .col(timestamp_with_time_zone_null(Bookmarks::EnrichedAt))
        .foreign_key(
            ForeignKey::create()
                .from(Bookmarks::Table, Bookmarks::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn bookmark_tags() -> TableCreateStatement {
    Table::create()
        .table(BookmarkTags::Table)
        .col(big_integer(BookmarkTags::BookmarkId))
        .col(big_integer(BookmarkTags::UserId))
        .col(string_len(BookmarkTags::Tag, 256))
        .primary_key(
            Index::create()
                .col(BookmarkTags::BookmarkId)
                .col(BookmarkTags::Tag),
        )
        .foreign_key(
            ForeignKey::create()
                .from(BookmarkTags::Table, BookmarkTags::BookmarkId)
                .to(Bookmarks::Table, Bookmarks::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn favicons() -> TableCreateStatement {
    Table::create()
        .table(Favicons::Table)
        .col(string_len(Favicons::Hash, 64).primary_key())
        .col(string_len(Favicons::MediaType, 64))
        .col(big_integer(Favicons::Size))
        .col(timestamp_with_time_zone(Favicons::CreatedAt))
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Bookmarks {
    Table,
    Id,
    UserId,
    Url,
    NormalizedUrl,
    NormalizedUrlHash,
    FinalUrl,
    CanonicalUrl,
    Title,
    Description,
    PageTitle,
    PageDescription,
    SiteName,
    ImageUrl,
    FaviconHash,
    FaviconSourceUrl,
    Author,
    PublishedAt,
    Lang,
    Tags,
    Note,
    Unread,
    Status,
    Error,
    CreatedAt,
    UpdatedAt,
    EnrichedAt,
}

#[derive(DeriveIden)]
enum BookmarkTags {
    Table,
    BookmarkId,
    UserId,
    Tag,
}

#[derive(DeriveIden)]
enum Favicons {
    Table,
    Hash,
    MediaType,
    Size,
    CreatedAt,
}
