//! The background jobs this service runs, and the handler of each kind.

use crate::app::AppState;
use async_trait::async_trait;
use linkyard_actors::backends::queue::{
    DELETE_BOOKMARK_DOCUMENT, ENRICH_BOOKMARK, INDEX_BOOKMARK, Job, JobFailure, JobHandler,
    JobHandlers, RENDER_QR,
};
use linkyard_actors::bookmarks::BookmarkJobPayload;
use linkyard_actors::bookmarks::document::document_of;
use linkyard_actors::db;
use linkyard_actors::links::LinkError;
use linkyard_actors::qr::QrError;
use std::sync::{Arc, Weak};

/// Returns a handler for every job kind, sharing the application's state.
pub fn handlers(state: &Arc<AppState>) -> JobHandlers {
    let mut handlers = JobHandlers::new();
    let render: Arc<dyn JobHandler> = Arc::new(RenderQr {
        state: Arc::downgrade(state),
    });
    handlers.insert(RENDER_QR.to_owned(), render);
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
    handlers
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

/// Renders the default PNG of a new link's short URL into the blob store.
struct RenderQr {
    /// Weak, so that queued jobs never keep a stopped application alive.
    state: Weak<AppState>,
}

#[derive(serde::Deserialize)]
struct RenderQrPayload {
    /// The code of the link whose QR image to render.
    link: String,
}

#[async_trait]
impl JobHandler for RenderQr {
    async fn handle(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: RenderQrPayload = job.payload_as()?;
        let state = self
            .state
            .upgrade()
            .ok_or_else(|| JobFailure::retryable("the application is stopping"))?;

        // A link deleted before its job ran needs no image.
        match state.links.resolve(&payload.link).await {
            Ok(_) => {}
            Err(LinkError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(JobFailure::retryable(error)),
        }
        let data = state.short_url(&payload.link);
        state
            .qr
            .prerender(&data)
            .await
            .map_err(|error| match error {
                QrError::Backend { .. } | QrError::Unavailable(_) => JobFailure::retryable(error),
                other => JobFailure::permanent(other),
            })
    }
}
