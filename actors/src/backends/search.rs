//! The search port: a full-text index of bookmarks, queried with the language of
//! [`crate::domain::search_query`]. A Tantivy index under the data directory in the embedded
//! default, Meilisearch in production.
//!
//! The database is the source of truth. The outbox relay feeds the index with
//! [`SearchIndex::upsert`] and [`SearchIndex::delete`], and a start-up check compares
//! [`SearchIndex::count`] with the database and backfills what is missing.

use crate::domain::search_query::{BookmarkStatus, SearchQuery};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The largest `offset + limit` a search accepts. Deep pages cost the engine more than they
/// help anyone, and Meilisearch stops counting hits at this number.
pub const MAX_RESULT_WINDOW: usize = 10_000;

/// The indexed form of one bookmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BookmarkDocument {
    pub id: i64,
    pub user_id: i64,
    pub url: String,
    /// The URL's host as the `url` crate serializes it: lower-case, IDNA-encoded.
    pub host: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub site_name: Option<String>,
    /// The tags as the user wrote them. Engines index their [`tag_key`] forms.
    ///
    /// [`tag_key`]: crate::domain::search_query::tag_key
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub unread: bool,
    pub status: BookmarkStatus,
    pub created_at: DateTime<Utc>,
    /// The page language (BCP 47), stored but not searched.
    pub lang: Option<String>,
}

/// One page of a user's search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The user whose bookmarks are searched. No other user's document is ever returned.
    pub user_id: i64,
    pub query: SearchQuery,
    pub limit: usize,
    pub offset: usize,
}

/// The bookmark ids of one page, best match first, and the number of matches in all pages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchHits {
    pub ids: Vec<i64>,
    /// Exact with Tantivy. Meilisearch stops counting at [`MAX_RESULT_WINDOW`].
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The engine could not be reached or failed; the request may succeed later.
    #[error("search engine {backend} failed during {operation}: {message}")]
    Unavailable {
        backend: &'static str,
        operation: &'static str,
        message: String,
    },
    /// The page asked for lies beyond [`MAX_RESULT_WINDOW`].
    #[error(
        "offset {offset} plus limit {limit} exceeds the maximum result window of \
         {MAX_RESULT_WINDOW}; narrow the query instead of paging further"
    )]
    ResultWindowTooLarge { offset: usize, limit: usize },
}

impl SearchError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "backend_unavailable",
            Self::ResultWindowTooLarge { .. } => "result_window_too_large",
        }
    }

    /// Checks a request's page against [`MAX_RESULT_WINDOW`].
    pub fn check_window(request: &SearchRequest) -> Result<(), Self> {
        let end = request.offset.saturating_add(request.limit);
        if end > MAX_RESULT_WINDOW {
            return Err(Self::ResultWindowTooLarge {
                offset: request.offset,
                limit: request.limit,
            });
        }
        Ok(())
    }
}

/// A bookmark search index. Every method is scoped or safe to retry: writes are idempotent, so
/// the outbox relay can repeat them after a failure.
///
/// Results are ordered by relevance, then by `created_at`, newest first. A query without words or
/// phrases ranks every match the same, so its results are simply newest first.
#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Returns the engine's name for logs and 503 responses: `tantivy` or `meilisearch`.
    fn name(&self) -> &'static str;

    /// Creates the index if needed and applies its schema and its searchable, filterable and
    /// sortable attributes. Called once at start-up, and safe to call again.
    async fn apply_settings(&self) -> Result<(), SearchError>;

    /// Adds documents, replacing any document with the same id. When this returns, the documents
    /// are durable and visible to searches.
    async fn upsert(&self, documents: Vec<BookmarkDocument>) -> Result<(), SearchError>;

    /// Deletes documents by id. Ids that are not indexed are ignored. When this returns, the
    /// deletion is durable and visible to searches.
    async fn delete(&self, ids: &[i64]) -> Result<(), SearchError>;

    /// Returns one page of the user's matching bookmarks.
    async fn search(&self, request: &SearchRequest) -> Result<SearchHits, SearchError>;

    /// Counts indexed documents: every user's, or one user's.
    async fn count(&self, user_id: Option<i64>) -> Result<u64, SearchError>;

    /// Deletes every document, for `linkyard reindex`. Settings stay as they are.
    async fn delete_all(&self) -> Result<(), SearchError>;

    /// Makes every write accepted so far durable and visible now, without waiting for the next
    /// batch. Writes already wait for this, so callers need it only before shutdown.
    async fn flush(&self) -> Result<(), SearchError>;

    /// Checks that the engine is reachable and healthy, for `/readyz`.
    async fn ping(&self) -> Result<(), SearchError>;
}
