//! The handlers of the bookmark jobs: enrichment on the `EnrichmentWorker` pool, and the search
//! document's indexing and deletion.

use crate::app::AppState;
use async_trait::async_trait;
use linkyard_actors::backends::queue::{
    DELETE_BOOKMARK_DOCUMENT, ENRICH_BOOKMARK, INDEX_BOOKMARK, Job, JobFailure, JobHandler,
    JobHandlers,
};
use linkyard_actors::bookmarks::BookmarkJobPayload;
use linkyard_actors::bookmarks::document::document_of;
use linkyard_actors::db;
use std::sync::{Arc, Weak};

/// Adds a handler for each bookmark job kind.
pub fn register(handlers: &mut JobHandlers, state: &Arc<AppState>) {
    let weak = Arc::downgrade(state);
    let bookmark_kinds: [(&str, BookmarkJob); 3] = [
        (ENRICH_BOOKMARK, BookmarkJob::Enrich),
        (INDEX_BOOKMARK, BookmarkJob::Index),
        (DELETE_BOOKMARK_DOCUMENT, BookmarkJob::DeleteDocument),
    ];
    for (kind, job) in bookmark_kinds {
        let handler: Arc<dyn JobHandler> = Arc::new(BookmarkHandler {
            state: weak.clone(),
            job,
        });
        handlers.insert(kind.to_owned(), handler);
    }
}

/// The bookmark job kinds.
#[derive(Debug, Clone, Copy)]
enum BookmarkJob {
    /// Fetch the page and update the row, on the enrichment pool.
    Enrich,
    /// Rebuild the bookmark's search document from its row; a row that is gone removes it.
    Index,
    /// Remove a deleted bookmark's search document.
    DeleteDocument,
}

struct BookmarkHandler {
    /// Weak, so that queued jobs never keep a stopped application alive.
    state: Weak<AppState>,
    job: BookmarkJob,
}

#[async_trait]
impl JobHandler for BookmarkHandler {
    async fn handle(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: BookmarkJobPayload = job.payload_as()?;
        let state = self
            .state
            .upgrade()
            .ok_or_else(|| JobFailure::retryable("the application is stopping"))?;
        let id = payload.bookmark_id;
        match self.job {
            BookmarkJob::Enrich => {
                let outcome = state.enrichment.enrich(payload, job.attempt).await?;
                tracing::debug!(bookmark_id = id, ?outcome, "enrichment job done");
                Ok(())
            }
            BookmarkJob::Index => {
                let row = db::bookmarks::find(&state.db, id)
                    .await
                    .map_err(JobFailure::retryable)?;
                let written = match row {
                    Some(bookmark) => state.search.upsert(vec![document_of(&bookmark)]).await,
                    None => state.search.delete(&[id]).await,
                };
                written.map_err(JobFailure::retryable)
            }
            BookmarkJob::DeleteDocument => {
                // A bookmark id is never reused, so the document is deleted whatever the row contains.
                state
                    .search
                    .delete(&[id])
                    .await
                    .map_err(JobFailure::retryable)
            }
        }
    }
}
