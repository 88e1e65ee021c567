use sea_orm::entity::prelude::*;

/// The metadata of one paste. Its body is the blob under [`crate::pastes::PasteId::blob_key`].
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pastes")]
pub struct Model {
    /// 13 random characters of `[0-9a-z]`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: Option<i64>,
    pub title: Option<String>,
    pub syntax: Option<String>,
    /// The body's length in bytes.
    pub size: i64,
    /// Whether the body is not UTF-8 or contains a NUL byte.
    pub binary: bool,
    /// Burn after reading: the one explicit reveal deletes the paste.
    pub burn: bool,
    /// Private pastes are visible to their owner only.
    pub private: bool,
    /// Argon2id PHC string of the password, with its own salt.
    pub password_hash: Option<String>,
    /// Hex SHA-256 of the delete token handed out at creation.
    pub delete_token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
