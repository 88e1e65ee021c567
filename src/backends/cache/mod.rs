//! The cache and counters backends. The port is [`linkyard_actors::backends::cache::Cache`].

mod hyperloglog;
mod log_throttle;
pub mod memory;
mod token_bucket;

use crate::settings::{CacheBackend, CacheSettings};
use linkyard_actors::backends::cache::{Cache, CacheError};
use std::sync::Arc;

/// Builds the configured backend.
pub async fn connect(settings: &CacheSettings) -> Result<Arc<dyn Cache>, CacheError> {
    let cache: Arc<dyn Cache> = match settings.backend {
        CacheBackend::Memory => Arc::new(memory::MemoryCache::new(settings)),
        CacheBackend::Redis => {
            return Err(CacheError::InvalidArgument {
                name: "cache.backend",
                value: "redis".to_owned(),
                reason: "this build has no Redis backend".to_owned(),
            });
        }
    };
    tracing::info!(backend = cache.name(), "cache ready");
    Ok(cache)
}
