//! `Bookmarks`: the handle that request handlers and the CLI use for bookmarks. It validates
//! input, writes each change and the jobs it needs in one transaction (enrichment, search
//! indexing), and reads pages of a user's bookmarks.
//!
//! Enrichment itself runs in the [`pool`] of `EnrichmentWorker`s; [`enrich`] contains its steps.

pub mod document;
pub mod enrich;
pub mod favicon;
pub mod netscape;
pub mod pool;

use crate::backends::queue::{
    self, DELETE_BOOKMARK_DOCUMENT, ENRICH_BOOKMARK, INDEX_BOOKMARK, JobQueue, NewJob, QueueError,
};
use crate::db::entities::bookmarks::{self, Model};
use crate::db::{self, DbError};
use crate::domain::bookmark_url::BookmarkUrl;
use crate::domain::search_query::{BookmarkStatus, tag_key};
use crate::domain::{UrlError, UrlPolicy};
use crate::links::{LinkError, MAX_TAG_CHARS, MAX_TAGS, check_tags};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, NotSet, Set};
use std::sync::Arc;

pub use db::bookmarks::ListFilter;

/// Maximum length of a title the user gives, in characters.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Maximum length of a description the user gives, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Maximum length of a note, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;
pub const MAX_PAGE_SIZE: u64 = 100;
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Bookmarks written in one transaction of an import.
const IMPORT_BATCH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum BookmarkError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(
        "tag '{tag}' is invalid; tags are 1 to {MAX_TAG_CHARS} characters without control characters"
    )]
    InvalidTag { tag: String },
    #[error("{count} tags given; the maximum is {MAX_TAGS}")]
    TooManyTags { count: usize },
    #[error("{field} is {chars} characters long; the maximum is {max}")]
    TooLong {
        field: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("cursor '{value}' is invalid; pass the next_cursor of the previous page")]
    InvalidCursor { value: String },
    #[error("limit {value} is invalid; use 1 to {MAX_PAGE_SIZE}")]
    InvalidLimit { value: i64 },
    #[error("status '{value}' is invalid; use pending, active or failed")]
    InvalidStatus { value: String },
    #[error("a bookmark of '{}' exists already (id {})", .existing.normalized_url, .existing.id)]
    Exists { existing: Box<Model> },
    #[error("no bookmark has the id '{id}'")]
    NotFound { id: String },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<LinkError> for BookmarkError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::InvalidTag { tag } => Self::InvalidTag { tag },
            LinkError::TooManyTags { count } => Self::TooManyTags { count },
            other => Self::InvalidTag {
                tag: other.to_string(),
            },
        }
    }
}

/// A create request as the client sent it; [`Bookmarks::create`] validates every field.
#[derive(Debug, Clone, Default)]
pub struct NewBookmark {
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub note: Option<String>,
    pub unread: Option<bool>,
}

/// A partial update: `None` keeps a field, `Some(None)` clears a nullable one. Clearing the
/// title or description shows the page's own again.
#[derive(Debug, Clone, Default)]
pub struct BookmarkPatch {
    pub title: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub note: Option<Option<String>>,
    pub unread: Option<bool>,
}

/// The counts of one import. They add up to the number of bookmarks in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub imported: u64,
    /// Bookmarks whose normalized URL the user had already, or that appeared earlier in the file.
    pub duplicates: u64,
    /// Bookmarks with a missing or unusable URL, or with invalid tags.
    pub invalid: u64,
}

/// The cheap, cloneable handle on bookmarks.
#[derive(Clone)]
pub struct Bookmarks {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    queue: Arc<dyn JobQueue>,
    policy: UrlPolicy,
}

/// A validated bookmark, ready to insert.
struct Valid {
    url: BookmarkUrl,
    title: Option<String>,
    description: Option<String>,
    tags: Vec<String>,
    note: Option<String>,
    unread: bool,
    created_at: DateTime<Utc>,
}

impl Bookmarks {
    /// `policy` checks bookmark URLs like link targets: http or https, no userinfo, a maximum
    /// length.
    pub fn new(db: DatabaseConnection, queue: Arc<dyn JobQueue>, policy: UrlPolicy) -> Self {
        Self {
            inner: Arc::new(Inner { db, queue, policy }),
        }
    }

    pub fn policy(&self) -> &UrlPolicy {
        &self.inner.policy
    }

    /// Validates and stores a new bookmark as `pending`, with its enrichment and indexing jobs
    /// in the same transaction. The same normalized URL twice for one user is
    /// [`BookmarkError::Exists`].
    pub async fn create(
        &self,
        user_id: i64,
        input: NewBookmark,
        request_id: Option<String>,
    ) -> Result<Model, BookmarkError> {
        let valid = self.validate(input, Utc::now())?;
        let hash = valid.url.normalized_hash();

        let txn = db::begin_write(&self.inner.db, "begin bookmark insert").await?;
        let Some(model) = insert_valid(&txn, user_id, &valid, request_id, true).await? else {
            drop(txn);
            let existing = db::bookmarks::find_by_url_hash(&self.inner.db, user_id, &hash)
                .await?
                .ok_or_else(|| BookmarkError::NotFound { id: hash.clone() })?;
            return Err(BookmarkError::Exists {
                existing: Box::new(existing),
            });
        };
        commit(txn, "commit bookmark insert").await?;
        self.inner.queue.wake();
        Ok(model)
    }

    /// Returns the caller's bookmark `id`. Another user's bookmark is not found, so ids reveal
    /// nothing.
    pub async fn get(&self, user_id: i64, id: &str) -> Result<Model, BookmarkError> {
        let not_found = || BookmarkError::NotFound { id: id.to_owned() };
        let id = parse_id(id).ok_or_else(not_found)?;
        db::bookmarks::find(&self.inner.db, id)
            .await?
            .filter(|bookmark| bookmark.user_id == user_id)
            .ok_or_else(not_found)
    }

    /// Applies a partial update and queues the bookmark's reindexing.
    pub async fn update(
        &self,
        user_id: i64,
        id: &str,
        patch: BookmarkPatch,
    ) -> Result<Model, BookmarkError> {
        let existing = self.get(user_id, id).await?;
        let (changes, tags) = validate_patch(patch)?;

        let txn = db::begin_write(&self.inner.db, "begin bookmark update").await?;
        if !db::bookmarks::update(&txn, existing.id, changes).await? {
            return Err(BookmarkError::NotFound { id: id.to_owned() });
        }
        if let Some(tags) = tags {
            let keys: Vec<String> = tags.iter().map(|tag| tag_key(tag)).collect();
            db::bookmarks::replace_tags(&txn, existing.id, user_id, &keys).await?;
        }
        queue::enqueue(&txn, &bookmark_job(INDEX_BOOKMARK, existing.id)).await?;
        let updated = db::bookmarks::find(&txn, existing.id)
            .await?
            .ok_or_else(|| BookmarkError::NotFound { id: id.to_owned() })?;
        commit(txn, "commit bookmark update").await?;
        self.inner.queue.wake();
        Ok(updated)
    }

    /// Deletes a bookmark and queues the removal of its search document.
    pub async fn delete(&self, user_id: i64, id: &str) -> Result<(), BookmarkError> {
        let existing = self.get(user_id, id).await?;
        let txn = db::begin_write(&self.inner.db, "begin bookmark delete").await?;
        if !db::bookmarks::delete(&txn, existing.id).await? {
            return Err(BookmarkError::NotFound { id: id.to_owned() });
        }
        queue::enqueue(&txn, &bookmark_job(DELETE_BOOKMARK_DOCUMENT, existing.id)).await?;
        commit(txn, "commit bookmark delete").await?;
        self.inner.queue.wake();
        Ok(())
    }

    /// Sets the bookmark back to `pending` and queues a new enrichment. What the user gave is
    /// kept; the page's metadata is replaced when the enrichment succeeds.
    pub async fn refresh(&self, user_id: i64, id: &str) -> Result<Model, BookmarkError> {
        let existing = self.get(user_id, id).await?;
        let changes = bookmarks::ActiveModel {
            status: Set(BookmarkStatus::Pending.as_str().to_owned()),
            error: Set(None),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        let txn = db::begin_write(&self.inner.db, "begin bookmark refresh").await?;
        if !db::bookmarks::update(&txn, existing.id, changes).await? {
            return Err(BookmarkError::NotFound { id: id.to_owned() });
        }
        queue::enqueue(&txn, &bookmark_job(ENRICH_BOOKMARK, existing.id)).await?;
        queue::enqueue(&txn, &bookmark_job(INDEX_BOOKMARK, existing.id)).await?;
        let refreshed = db::bookmarks::find(&txn, existing.id)
            .await?
            .ok_or_else(|| BookmarkError::NotFound { id: id.to_owned() })?;
        commit(txn, "commit bookmark refresh").await?;
        self.inner.queue.wake();
        Ok(refreshed)
    }

    /// Returns one page of the caller's bookmarks, newest first, and the cursor of the next.
    pub async fn list(
        &self,
        user_id: i64,
        filter: &ListFilter,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<(Vec<Model>, Option<String>), BookmarkError> {
        let limit = match limit {
            None => DEFAULT_PAGE_SIZE,
            Some(value) if (1..=MAX_PAGE_SIZE as i64).contains(&value) => value as u64,
            Some(value) => return Err(BookmarkError::InvalidLimit { value }),
        };
        let before_id = cursor
            .map(|value| {
                parse_id(value).ok_or_else(|| BookmarkError::InvalidCursor {
                    value: value.to_owned(),
                })
            })
            .transpose()?;

        let mut page =
            db::bookmarks::list(&self.inner.db, user_id, filter, before_id, limit + 1).await?;
        let next = if page.len() as u64 > limit {
            page.truncate(limit as usize);
            page.last().map(|bookmark| bookmark.id.to_string())
        } else {
            None
        };
        Ok((page, next))
    }

    /// Returns the caller's bookmarks among `ids` in the order of `ids`, skipping ids that are
    /// gone or belong to someone else.
    pub async fn find_ordered(&self, user_id: i64, ids: &[i64]) -> Result<Vec<Model>, DbError> {
        let mut found = db::bookmarks::find_many(&self.inner.db, user_id, ids).await?;
        found.sort_by_key(|bookmark| ids.iter().position(|id| *id == bookmark.id));
        Ok(found)
    }

    /// Returns every bookmark of the user, newest first, for the export.
    // NOTE: the whole list is held in memory and the export is built as one string, so a user
    // with hundreds of thousands of bookmarks costs that much memory per export request.
    pub async fn all_of(&self, user_id: i64) -> Result<Vec<Model>, DbError> {
        let mut all = Vec::new();
        let mut before_id = None;
        loop {
            let page = db::bookmarks::list(
                &self.inner.db,
                user_id,
                &ListFilter::default(),
                before_id,
                500,
            )
            .await?;
            let Some(last) = page.last() else {
                return Ok(all);
            };
            before_id = Some(last.id);
            all.extend(page);
        }
    }

    /// Imports parsed entries of a bookmark file. Each batch of entries is one transaction, so
    /// a failure keeps the batches before it. `progress` is called with the number of entries
    /// handled so far.
    pub async fn import(
        &self,
        user_id: i64,
        entries: Vec<netscape::ImportEntry>,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<ImportSummary, BookmarkError> {
        let now = Utc::now();
        let plan = netscape::plan_import(entries, |entry| self.validate_entry(entry, now));
        let mut summary = ImportSummary {
            imported: 0,
            duplicates: plan.duplicates,
            invalid: plan.invalid,
        };
        let mut handled = plan.duplicates + plan.invalid;
        progress(handled);

        for batch in plan.valid.chunks(IMPORT_BATCH) {
            let txn = db::begin_write(&self.inner.db, "begin bookmark import").await?;
            for valid in batch {
                match insert_valid(&txn, user_id, valid, None, false).await? {
                    Some(_) => summary.imported += 1,
                    None => summary.duplicates += 1,
                }
            }
            commit(txn, "commit bookmark import").await?;
            self.inner.queue.wake();
            handled += batch.len() as u64;
            progress(handled);
        }
        Ok(summary)
    }

    fn validate(&self, input: NewBookmark, now: DateTime<Utc>) -> Result<Valid, BookmarkError> {
        Ok(Valid {
            url: BookmarkUrl::parse(&input.url, &self.inner.policy)?,
            title: clean_text("title", input.title, MAX_TITLE_CHARS)?,
            description: clean_text("description", input.description, MAX_DESCRIPTION_CHARS)?,
            tags: check_tags(input.tags.unwrap_or_default())?,
            note: clean_text("note", input.note, MAX_NOTE_CHARS)?,
            unread: input.unread.unwrap_or(true),
            created_at: now,
        })
    }

    /// Validates an imported entry. Titles and descriptions that are too long are cut rather
    /// than rejected, because the user cannot fix a file exported by a browser.
    fn validate_entry(&self, entry: netscape::ImportEntry, now: DateTime<Utc>) -> Option<Valid> {
        let tags: Vec<String> = entry
            .tags
            .into_iter()
            .filter(|tag| !tag.trim().is_empty())
            .collect();
        Some(Valid {
            url: BookmarkUrl::parse(&entry.url, &self.inner.policy).ok()?,
            title: truncate(entry.title, MAX_TITLE_CHARS),
            description: truncate(entry.description, MAX_DESCRIPTION_CHARS),
            tags: check_tags(tags).ok()?,
            note: None,
            unread: entry.unread,
            created_at: entry.added_at.filter(|added| *added <= now).unwrap_or(now),
        })
    }
}

/// Inserts a validated bookmark with its tags and its enrichment job, on the caller's
/// transaction. Returns `None` when the user has this normalized URL already.
///
/// With `index_now`, an indexing job makes the pending bookmark searchable at once. Imports
/// leave it out: indexing jobs hold a queue slot while they wait for the search engine's
/// commit, and the enrichment indexes the bookmark anyway when it ends, active or failed.
async fn insert_valid(
    txn: &impl ConnectionTrait,
    user_id: i64,
    valid: &Valid,
    request_id: Option<String>,
    index_now: bool,
) -> Result<Option<Model>, BookmarkError> {
    let hash = valid.url.normalized_hash();
    let row = bookmarks::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        url: Set(valid.url.as_str().to_owned()),
        normalized_url: Set(valid.url.normalized().to_owned()),
        normalized_url_hash: Set(hash.clone()),
        final_url: Set(None),
        canonical_url: Set(None),
        title: Set(valid.title.clone()),
        description: Set(valid.description.clone()),
        page_title: Set(None),
        page_description: Set(None),
        site_name: Set(None),
        image_url: Set(None),
        favicon_hash: Set(None),
        favicon_source_url: Set(None),
        author: Set(None),
        published_at: Set(None),
        lang: Set(None),
        tags: Set(tags_json(&valid.tags)),
        note: Set(valid.note.clone()),
        unread: Set(valid.unread),
        status: Set(BookmarkStatus::Pending.as_str().to_owned()),
        error: Set(None),
        created_at: Set(valid.created_at),
        updated_at: Set(valid.created_at),
        enriched_at: Set(None),
    };
    let Some(model) = db::bookmarks::insert(txn, user_id, &hash, row).await? else {
        return Ok(None);
    };
    let keys: Vec<String> = valid.tags.iter().map(|tag| tag_key(tag)).collect();
    db::bookmarks::replace_tags(txn, model.id, user_id, &keys).await?;
    let enrich = bookmark_job(ENRICH_BOOKMARK, model.id).with_request_id(request_id.clone());
    queue::enqueue(txn, &enrich).await?;
    if index_now {
        let index = bookmark_job(INDEX_BOOKMARK, model.id).with_request_id(request_id);
        queue::enqueue(txn, &index).await?;
    }
    Ok(Some(model))
}

async fn commit(txn: sea_orm::DatabaseTransaction, operation: &'static str) -> Result<(), DbError> {
    use sea_orm::DbErr;
    let result: Result<(), DbErr> = txn.commit().await;
    result.map_err(|source| DbError::new(operation, source))
}

/// Builds a job about one bookmark. Its id is random, because a job that collapsed into a
/// pending one of the same kind would be lost when that one had already read the row.
pub fn bookmark_job(kind: &str, bookmark_id: i64) -> NewJob {
    NewJob::new(kind, serde_json::json!({ "bookmark_id": bookmark_id }))
}

/// The payload of every bookmark job.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct BookmarkJobPayload {
    pub bookmark_id: i64,
}

fn validate_patch(
    patch: BookmarkPatch,
) -> Result<(bookmarks::ActiveModel, Option<Vec<String>>), BookmarkError> {
    let mut changes = bookmarks::ActiveModel {
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    if let Some(title) = patch.title {
        changes.title = Set(clean_text("title", title, MAX_TITLE_CHARS)?);
    }
    if let Some(description) = patch.description {
        changes.description = Set(clean_text(
            "description",
            description,
            MAX_DESCRIPTION_CHARS,
        )?);
    }
    if let Some(note) = patch.note {
        changes.note = Set(clean_text("note", note, MAX_NOTE_CHARS)?);
    }
    if let Some(unread) = patch.unread {
        changes.unread = Set(unread);
    }
    let tags = patch.tags.map(check_tags).transpose()?;
    if let Some(tags) = &tags {
        changes.tags = Set(tags_json(tags));
    }
    Ok((changes, tags))
}

/// Trims a text field; blank becomes `None`.
fn clean_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, BookmarkError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(BookmarkError::TooLong { field, chars, max });
    }
    Ok(Some(trimmed.to_owned()).filter(|text| !text.is_empty()))
}

fn truncate(value: Option<String>, max: usize) -> Option<String> {
    let trimmed = value?.trim().to_owned();
    let cut: String = trimmed.chars().take(max).collect();
    Some(cut).filter(|text| !text.is_empty())
}

/// Parses an id or a cursor: a positive whole number.
fn parse_id(value: &str) -> Option<i64> {
    value.parse::<i64>().ok().filter(|id| *id > 0)
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

impl Model {
    /// Returns the title to show: the user's, else the page's.
    pub fn display_title(&self) -> Option<&str> {
        self.title.as_deref().or(self.page_title.as_deref())
    }

    /// Returns the description to show: the user's, else the page's.
    pub fn display_description(&self) -> Option<&str> {
        self.description
            .as_deref()
            .or(self.page_description.as_deref())
    }

    /// Decodes the tags column.
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    /// Parses the status column; an unknown value reads as `pending`.
    pub fn status(&self) -> BookmarkStatus {
        BookmarkStatus::parse(&self.status).unwrap_or(BookmarkStatus::Pending)
    }
}
