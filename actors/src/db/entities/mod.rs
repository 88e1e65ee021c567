//! sea-orm entities, one module per table.

pub mod api_keys;
pub mod app_secrets;
pub mod bookmark_tags;
pub mod bookmarks;
pub mod favicons;
pub mod id_counters;
pub mod links;
pub mod pastes;
pub mod users;
