//! Domain types parsed at the edge. Their fields are private, so the rest of the code cannot hold
//! an invalid value.

pub mod alias;
pub mod bookmark_url;
pub mod code;
pub mod search_query;
pub mod target_url;

pub use alias::{Alias, AliasError, ReservedNames};
pub use code::CodeCodec;
pub use search_query::{BookmarkStatus, SearchQuery, SearchQueryError};
pub use target_url::{TargetUrl, UrlError, UrlPolicy};
