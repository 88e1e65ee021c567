//! The steps of one enrichment: fetch the page, extract its metadata, store its favicon, and
//! update the bookmark to `active` (or `failed` with the reason once retries are spent), with
//! its reindexing queued in the same transaction.
//!
//! A redelivered job does no harm: a bookmark that is no longer `pending` is skipped, every
//! write sets absolute values, and favicons are stored under their content hash. Enrichment
//! writes only the page's columns (`page_title`, `site_name`, …), so what the user gave is
//! never overwritten.

use super::favicon::{self, sniff_image_type};
use super::{BookmarkJobPayload, bookmark_job};
use crate::backends::blob::BlobStore;
use crate::backends::queue::{self, INDEX_BOOKMARK, JobFailure};
use crate::db::entities::bookmarks::{self, Model};
use crate::db::{self, DbError};
use crate::domain::search_query::BookmarkStatus;
use crate::enrich::{PageMetadata, detect_block_page, extract_page};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use sea_orm::{DatabaseConnection, Set};
use std::fmt;
use std::sync::Arc;
use url::Url;

/// The fetcher port of enrichment. The real one is the guarded page fetcher of the binary;
/// tests may inject their own.
#[async_trait]
pub trait PageFetcher: Send + Sync + 'static {
    /// Fetches the page at `url`, following redirects. A status of 400 or more is an error.
    async fn fetch_page(&self, url: &Url) -> Result<FetchedDocument, FetchFailure>;

    /// Fetches the raw bytes at `url`, such as a favicon, up to `max_bytes`.
    async fn fetch_bytes(&self, url: &Url, max_bytes: usize) -> Result<Bytes, FetchFailure>;
}

/// A fetched page.
#[derive(Debug, Clone)]
pub struct FetchedDocument {
    /// The URL after redirects.
    pub final_url: Url,
    pub status: u16,
    /// The decoded body when the page is HTML.
    pub html: Option<String>,
}

/// A failed fetch, with its reason.
#[derive(Debug, Clone)]
pub struct FetchFailure {
    /// A stable snake_case code, such as `timeout` or `http_status`.
    pub code: &'static str,
    pub message: String,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
    /// The HTTP status of an error response.
    pub status: Option<u16>,
    /// The decoded body of an HTML error response, for bot-wall detection.
    pub html: Option<String>,
}

impl fmt::Display for FetchFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code, self.message)
    }
}

/// Limits of enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrichConfig {
    /// The queue's delivery limit. The last attempt marks the bookmark `failed` instead of
    /// asking for a retry that would never come.
    pub max_attempts: u32,
    /// The largest favicon stored, in bytes.
    pub favicon_max_bytes: usize,
    /// How many favicon candidates are tried, best first.
    pub favicon_candidates: usize,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            favicon_max_bytes: 256 * 1024,
            favicon_candidates: 4,
        }
    }
}

/// The result of one enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrichOutcome {
    /// The page was read and the bookmark is `active`.
    Active,
    /// The page could not be read and the bookmark is `failed`.
    Failed,
    /// The bookmark is gone or no longer `pending`, as when a job is redelivered.
    Skipped,
}

/// Runs enrichments. Cheap to share behind an `Arc`.
pub struct Enricher {
    pub db: DatabaseConnection,
    pub fetcher: Arc<dyn PageFetcher>,
    pub blobs: Arc<dyn BlobStore>,
    pub config: EnrichConfig,
}

/// The facts read from a page.
struct PageFacts {
    final_url: Url,
    metadata: PageMetadata,
    icons: Vec<Url>,
}

impl Enricher {
    /// Enriches bookmark `payload.bookmark_id` on delivery `attempt` (from 1).
    pub async fn run(
        &self,
        payload: BookmarkJobPayload,
        attempt: u32,
    ) -> Result<EnrichOutcome, JobFailure> {
        let id = payload.bookmark_id;
        let bookmark = db::bookmarks::find(&self.db, id)
            .await
            .map_err(JobFailure::retryable)?;
        let Some(bookmark) = bookmark else {
            tracing::debug!(bookmark_id = id, "bookmark is gone; nothing to enrich");
            return Ok(EnrichOutcome::Skipped);
        };
        if bookmark.status() != BookmarkStatus::Pending {
            tracing::debug!(bookmark_id = id, status = %bookmark.status, "bookmark is not pending");
            return Ok(EnrichOutcome::Skipped);
        }

        let page = match Url::parse(&bookmark.url) {
            Ok(url) => self.read_page(&url).await,
            Err(error) => Err(FetchFailure {
                code: "invalid_url",
                message: format!("the stored URL '{}' is invalid: {error}", bookmark.url),
                retryable: false,
                status: None,
                html: None,
            }),
        };
        match page {
            Ok(page) => {
                let icon = self.store_favicon(&page.icons).await;
                self.mark_active(&bookmark, page, icon).await
            }
            Err(failure) if failure.retryable && attempt < self.config.max_attempts => {
                tracing::info!(bookmark_id = id, attempt, %failure, "page fetch failed; will retry");
                Err(JobFailure::retryable(failure))
            }
            Err(failure) => self.mark_failed(&bookmark, &failure).await,
        }
    }

    /// Fetches and reads the page. A bot wall or error page is a failure, never metadata.
    async fn read_page(&self, url: &Url) -> Result<PageFacts, FetchFailure> {
        let document = self
            .fetcher
            .fetch_page(url)
            .await
            .map_err(|failure| classify_error_page(url, failure))?;
        let Some(html) = &document.html else {
            // A PDF or an image: nothing to extract, but the bookmark is fine.
            let icons = origin_favicon(&document.final_url).into_iter().collect();
            return Ok(PageFacts {
                final_url: document.final_url,
                metadata: PageMetadata::default(),
                icons,
            });
        };

        let extracted = extract_page(html, &document.final_url);
        if let Some(reason) = detect_block_page(document.status, html, &extracted.metadata) {
            return Err(FetchFailure {
                code: reason.code(),
                message: format!("{}: {reason}", document.final_url),
                retryable: reason.is_retryable(),
                status: Some(document.status),
                html: None,
            });
        }
        Ok(PageFacts {
            final_url: document.final_url,
            metadata: extracted.metadata,
            icons: extracted.icons.into_iter().map(|icon| icon.url).collect(),
        })
    }

    /// Tries the favicon candidates in order and stores the first real image. A favicon is an
    /// extra, so every failure here is logged and the bookmark goes on without one.
    async fn store_favicon(&self, candidates: &[Url]) -> Option<(String, Url)> {
        for url in candidates.iter().take(self.config.favicon_candidates) {
            let bytes = match self
                .fetcher
                .fetch_bytes(url, self.config.favicon_max_bytes)
                .await
            {
                Ok(bytes) => bytes,
                Err(failure) => {
                    tracing::debug!(%url, %failure, "favicon candidate failed");
                    continue;
                }
            };
            let Some(media_type) = sniff_image_type(&bytes) else {
                tracing::debug!(%url, "favicon candidate is not an image");
                continue;
            };
            match favicon::store(&self.db, self.blobs.as_ref(), bytes, media_type).await {
                Ok(hash) => return Some((hash, url.clone())),
                Err(error) => {
                    tracing::warn!(%url, %error, "storing a favicon failed");
                    return None;
                }
            }
        }
        None
    }

    async fn mark_active(
        &self,
        bookmark: &Model,
        page: PageFacts,
        icon: Option<(String, Url)>,
    ) -> Result<EnrichOutcome, JobFailure> {
        let now = Utc::now();
        let metadata = page.metadata;
        let (favicon_hash, favicon_source) = icon.unzip();
        let changes = bookmarks::ActiveModel {
            final_url: Set(Some(page.final_url.to_string())),
            canonical_url: Set(metadata.canonical_url.map(String::from)),
            page_title: Set(metadata.title),
            page_description: Set(metadata.description),
            site_name: Set(metadata.site_name),
            image_url: Set(metadata.image_url.map(String::from)),
            favicon_hash: Set(favicon_hash),
            favicon_source_url: Set(favicon_source.map(String::from)),
            author: Set(metadata.author),
            published_at: Set(metadata.published_at),
            lang: Set(metadata.lang),
            status: Set(BookmarkStatus::Active.as_str().to_owned()),
            error: Set(None),
            updated_at: Set(now),
            enriched_at: Set(Some(now)),
            ..Default::default()
        };
        self.write(bookmark.id, changes)
            .await
            .map_err(JobFailure::retryable)?;
        tracing::info!(bookmark_id = bookmark.id, "bookmark enriched");
        Ok(EnrichOutcome::Active)
    }

    async fn mark_failed(
        &self,
        bookmark: &Model,
        failure: &FetchFailure,
    ) -> Result<EnrichOutcome, JobFailure> {
        let changes = bookmarks::ActiveModel {
            status: Set(BookmarkStatus::Failed.as_str().to_owned()),
            error: Set(Some(failure.to_string())),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        self.write(bookmark.id, changes)
            .await
            .map_err(JobFailure::retryable)?;
        tracing::info!(bookmark_id = bookmark.id, %failure, "bookmark enrichment failed");
        Ok(EnrichOutcome::Failed)
    }

    /// Updates the row and queues its reindexing in one transaction. A row deleted meanwhile
    /// needs neither.
    async fn write(&self, id: i64, changes: bookmarks::ActiveModel) -> Result<(), DbError> {
        let txn = db::begin_write(&self.db, "begin bookmark enrichment").await?;
        if db::bookmarks::update(&txn, id, changes).await? {
            queue::enqueue(&txn, &bookmark_job(INDEX_BOOKMARK, id))
                .await
                .map_err(|error| {
                    DbError::new(
                        "enqueue bookmark indexing",
                        sea_orm::DbErr::Custom(error.to_string()),
                    )
                })?;
        }
        txn.commit()
            .await
            .map_err(|source| DbError::new("commit bookmark enrichment", source))
    }
}

/// Turns an HTML error response that is a bot wall into that reason, which retries even on a
/// status such as 200 or 404 that would otherwise be final.
fn classify_error_page(url: &Url, failure: FetchFailure) -> FetchFailure {
    let (Some(html), Some(status)) = (&failure.html, failure.status) else {
        return failure;
    };
    let extracted = extract_page(html, url);
    match detect_block_page(status, html, &extracted.metadata) {
        Some(reason) if reason.code() != "http_error" => FetchFailure {
            code: reason.code(),
            message: format!("{url}: {reason} (HTTP {status})"),
            retryable: failure.retryable || reason.is_retryable(),
            status: Some(status),
            html: None,
        },
        _ => failure,
    }
}

/// Returns `/favicon.ico` at the origin of `url`.
fn origin_favicon(url: &Url) -> Option<Url> {
    url.join("/favicon.ico").ok()
}
