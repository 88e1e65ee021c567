//! The fetcher as the enrichment workers see it: [`PageFetcher`] over [`Fetcher`].

use super::{FetchError, Fetcher};
use async_trait::async_trait;
use bytes::Bytes;
use linkyard_actors::bookmarks::enrich::{FetchFailure, FetchedDocument, PageFetcher};
use url::Url;

#[async_trait]
impl PageFetcher for Fetcher {
    async fn fetch_page(&self, url: &Url) -> Result<FetchedDocument, FetchFailure> {
        let page = Fetcher::fetch_page(self, url).await.map_err(failure)?;
        Ok(FetchedDocument {
            final_url: page.final_url,
            status: page.status.as_u16(),
            html: page.content.html().map(|decoded| decoded.text.clone()),
        })
    }

    async fn fetch_bytes(&self, url: &Url, max_bytes: usize) -> Result<Bytes, FetchFailure> {
        let fetched = Fetcher::fetch_bytes(self, url, max_bytes)
            .await
            .map_err(failure)?;
        Ok(fetched.bytes)
    }
}

fn failure(error: FetchError) -> FetchFailure {
    let (status, html) = match &error {
        FetchError::HttpStatus(page) => (Some(page.status.as_u16()), page.html.clone()),
        _ => (None, None),
    };
    FetchFailure {
        code: error.code(),
        message: error.to_string(),
        retryable: error.is_retryable(),
        status,
        html,
    }
}
