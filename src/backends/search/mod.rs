//! Bookmark search engines behind [`SearchIndex`]: Tantivy embedded in the process, or a
//! Meilisearch server. [`build`] picks the one the configuration names.

pub mod meili;
pub mod tantivy;

use crate::settings::{SearchBackend, Settings};
use linkyard_actors::backends::search::{SearchError, SearchIndex};
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

/// Opens the configured search engine. Its settings are not applied yet: call
/// [`SearchIndex::apply_settings`] once at start-up.
pub async fn build(settings: &Settings) -> Result<Arc<dyn SearchIndex>, SearchError> {
    let search = &settings.search;
    match search.backend {
        SearchBackend::Tantivy => {
            let options = tantivy::TantivyOptions {
                path: settings.search_index_dir(),
                commit_interval: Duration::from_millis(search.commit_interval_ms),
            };
            Ok(Arc::new(tantivy::TantivySearch::open(options).await?))
        }
        SearchBackend::Meilisearch => {
            let options = meili::MeiliOptions {
                url: search.meili_url.clone(),
                key: Some(search.meili_key.clone()).filter(|key| !key.is_empty()),
                index_prefix: search.index_prefix.clone(),
                timeout: Duration::from_millis(search.meili_timeout_ms),
            };
            Ok(Arc::new(meili::MeiliSearch::new(options)?))
        }
    }
}

/// Wraps an engine failure as [`SearchError::Unavailable`].
fn unavailable(backend: &'static str, operation: &'static str, error: impl Display) -> SearchError {
    SearchError::Unavailable {
        backend,
        operation,
        message: error.to_string(),
    }
}
