//! The cache and counters backends: [`memory::MemoryCache`] in this process and
//! [`redis::RedisCache`] shared through Redis. The port is
//! [`linkyard_actors::backends::cache::Cache`].

mod hyperloglog;
pub mod live;
mod log_throttle;
pub mod memory;
pub mod redis;
mod token_bucket;

use crate::settings::{CacheBackend, CacheSettings};
use linkyard_actors::backends::cache::{Cache, CacheError};
use std::path::Path;
use std::sync::Arc;

/// Builds the configured backend. Redis is connected before this returns, or is still being
/// reconnected to in the background after `connect_timeout_ms`
/// (see [`redis::RedisCache::connect`]). The in-process backend keeps its unique-visitor
/// sketches in `data_dir`, so a restart does not reset the counts.
pub async fn connect(
    settings: &CacheSettings,
    data_dir: &Path,
) -> Result<Arc<dyn Cache>, CacheError> {
    let cache: Arc<dyn Cache> = match settings.backend {
        CacheBackend::Memory => {
            memory::MemoryCache::with_snapshot(settings, data_dir.join("unique-visitors.bin"))
        }
        CacheBackend::Redis => Arc::new(redis::RedisCache::connect(settings).await?),
    };
    tracing::info!(backend = cache.name(), "cache backend started");
    Ok(cache)
}
