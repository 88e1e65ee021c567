use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookmarks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// The URL as the user gave it, after WHATWG parsing.
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The duplicate-detection form of `url`; see `domain::bookmark_url`.
    #[sea_orm(column_type = "Text")]
    pub normalized_url: String,
    /// Hex SHA-256 of `normalized_url`, unique per user.
    pub normalized_url_hash: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub final_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub canonical_url: Option<String>,
    /// The title the user gave, which enrichment never overwrites.
    #[sea_orm(column_type = "Text", nullable)]
    pub title: Option<String>,
    /// The description the user gave, which enrichment never overwrites.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// The title extracted from the page.
    #[sea_orm(column_type = "Text", nullable)]
    pub page_title: Option<String>,
    /// The description extracted from the page.
    #[sea_orm(column_type = "Text", nullable)]
    pub page_description: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub site_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub image_url: Option<String>,
    /// Hex SHA-256 of the stored favicon; a row of `favicons`.
    pub favicon_hash: Option<String>,
    /// URL the favicon was fetched from.
    #[sea_orm(column_type = "Text", nullable)]
    pub favicon_source_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub author: Option<String>,
    pub published_at: Option<DateTimeUtc>,
    pub lang: Option<String>,
    /// JSON array of tags as the user wrote them.
    #[sea_orm(column_type = "Text")]
    pub tags: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub unread: bool,
    /// `pending`, `active` or `failed`.
    pub status: String,
    /// Why the last enrichment failed, as `code: message`.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub enriched_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
