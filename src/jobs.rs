//! The background jobs this service runs, and the handler of each kind.

use crate::app::AppState;
use async_trait::async_trait;
use linkyard_actors::backends::queue::{Job, JobFailure, JobHandler, JobHandlers, RENDER_QR};
use linkyard_actors::links::LinkError;
use linkyard_actors::qr::QrError;
use std::sync::{Arc, Weak};

mod bookmarks;

/// Returns a handler for every job kind, sharing the application's state.
pub fn handlers(state: &Arc<AppState>) -> JobHandlers {
    let mut handlers = JobHandlers::new();
    let render: Arc<dyn JobHandler> = Arc::new(RenderQr {
        state: Arc::downgrade(state),
    });
    handlers.insert(RENDER_QR.to_owned(), render);
    bookmarks::register(&mut handlers, state);
    handlers
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
