use sea_orm::entity::prelude::*;

/// One tag key of a bookmark, for filtering lists by tag.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookmark_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub bookmark_id: i64,
    pub user_id: i64,
    /// The tag's `search_query::tag_key`: NFC, lower case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
