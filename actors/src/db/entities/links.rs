use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "links")]
pub struct Model {
    /// Allocated by the `IdAllocator`; the generated code is derived from it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The generated code or the custom alias.
    #[sea_orm(unique)]
    pub code: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    pub owner_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub max_visits: Option<i64>,
    pub visits: i64,
    /// HTTP status of the redirect: 301, 302, 307 or 308.
    pub redirect: i16,
    pub forward_query: bool,
    /// JSON array of tag strings.
    #[sea_orm(column_type = "Text")]
    pub tags: String,
    pub disabled: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
