use sea_orm::entity::prelude::*;

/// A favicon stored in the blob store at `favicons/<hash>`, shared by every bookmark that uses
/// the same image.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "favicons")]
pub struct Model {
    /// Hex SHA-256 of the image bytes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    /// The sniffed media type, such as `image/png`.
    pub media_type: String,
    pub size: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
