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
use std::sync::Arc;

/// Builds the configured backend. Redis is connected before this returns, or is still being
/// reconnected to in the background after `connect_timeout_ms`
/// (see [`redis::RedisCache::connect`]).
pub async fn connect(settings: &CacheSettings) -> Result<Arc<dyn Cache>, CacheError> {
    let cache: Arc<dyn Cache> = match settings.backend {
        CacheBackend::Memory => Arc::new(memory::MemoryCache::new(settings)),
        CacheBackend::Redis => Arc::new(redis::RedisCache::connect(settings).await?),
    };
    tracing::info!(backend = cache.name(), "cache backend started");
    Ok(cache)
}
