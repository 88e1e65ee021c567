//! `QrRenderer`: the handle that request handlers and background jobs use for QR images.
//!
//! An image is looked up in the blob store under its content key first. On a miss it is rendered
//! by the worker pool, returned, and stored in the background. Concurrent requests for one image
//! share a single lookup and render. The blob store is only a cache here, so a failed read
//! renders anyway and a failed write still returns the image. Both failures are logged and
//! counted.

use super::key::{blob_key, cache_key};
use super::pool::{QrFactory, QrJob};
use super::render::{QrFormat, Rendered};
use super::{QrError, QrOptions};
use crate::backends::blob::BlobStore;
use crate::supervisor::ActorSlot;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use ractor::factory::{Job, JobOptions};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A lookup-and-render in progress, awaited by every request for the same image.
type Flight = Shared<BoxFuture<'static, Result<Rendered, QrError>>>;

/// The cheap, cloneable handle on the QR pool and its blob store cache.
#[derive(Clone)]
pub struct QrRenderer {
    inner: Arc<Inner>,
}

struct Inner {
    pool: ActorSlot<QrFactory>,
    store: Arc<dyn BlobStore>,
    /// How long a caller waits for the pool, queueing included.
    timeout: Duration,
    /// Flights by cache key. An entry lives until its image is stored, so a request that arrives
    /// during the write joins the finished flight instead of rendering again.
    flights: Mutex<HashMap<String, Flight>>,
    /// Recently served images, so a popular code is answered without reading the store.
    memory: moka::sync::Cache<String, Rendered>,
    stats: Counters,
}

/// Bytes of images kept in memory.
const MEMORY_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Default)]
struct Counters {
    renders: AtomicU64,
    cache_hits: AtomicU64,
    store_failures: AtomicU64,
}

/// Counts since the handle was built, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrStats {
    /// Images rendered by the pool.
    pub renders: u64,
    /// Images served from the blob store.
    pub cache_hits: u64,
    /// Blob store reads and writes that failed.
    pub store_failures: u64,
}

impl QrRenderer {
    /// Builds the handle. `timeout` bounds how long a request waits for a worker and its render,
    /// and jobs still queued after it are dropped.
    pub fn new(pool: ActorSlot<QrFactory>, store: Arc<dyn BlobStore>, timeout: Duration) -> Self {
        let inner = Inner {
            pool,
            store,
            timeout,
            flights: Mutex::new(HashMap::new()),
            memory: moka::sync::Cache::builder()
                .max_capacity(MEMORY_BYTES)
                .weigher(|key: &String, image: &Rendered| {
                    u32::try_from(key.len() + image.bytes.len()).unwrap_or(u32::MAX)
                })
                .build(),
            stats: Counters::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Returns the image of `data`, from the blob store when it is there, otherwise rendered by
    /// the pool and then stored.
    pub async fn image(
        &self,
        data: &str,
        options: &QrOptions,
        format: QrFormat,
    ) -> Result<Rendered, QrError> {
        let key = cache_key(data, options, format);
        if let Some(image) = self.inner.memory.get(&key) {
            self.inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(image);
        }
        let image = self
            .join_or_start(key.clone(), data, options, format)
            .await?;
        self.inner.memory.insert(key, image.clone());
        Ok(image)
    }

    /// Renders and stores the default PNG of `data` unless the store has a whole copy already.
    /// Background jobs call it when a link is created, so the first scan is served from the
    /// store. Unlike [`QrRenderer::image`], a failed write is an error, so the job can retry.
    pub async fn prerender(&self, data: &str) -> Result<(), QrError> {
        let options = QrOptions::default();
        let format = QrFormat::Png;
        let key = cache_key(data, &options, format);
        let path = blob_key(&key, format);
        match self.inner.store.get(&path).await {
            Ok(Some(blob)) if format.is_complete(&blob.bytes) => return Ok(()),
            Ok(Some(_)) => {
                tracing::warn!(key = path, "stored qr image is damaged; rendering it again");
            }
            Ok(None) => {}
            Err(error) => self.store_failed("get", &path, &error),
        }

        let rendered = self.render(key, data, &options, format).await?;
        let backend = self.inner.store.name();
        self.inner
            .store
            .put_cache(&path, rendered.bytes, rendered.content_type)
            .await
            .map_err(|error| QrError::Backend {
                backend,
                source: Arc::new(error),
            })
    }

    /// Returns the counters since the handle was built.
    pub fn stats(&self) -> QrStats {
        let counters = &self.inner.stats;
        QrStats {
            renders: counters.renders.load(Ordering::Relaxed),
            cache_hits: counters.cache_hits.load(Ordering::Relaxed),
            store_failures: counters.store_failures.load(Ordering::Relaxed),
        }
    }

    /// Returns the flight for `key`, starting one if none is in progress. The flight runs as its
    /// own task, so a caller that goes away does not cancel it for the others.
    fn join_or_start(
        &self,
        key: String,
        data: &str,
        options: &QrOptions,
        format: QrFormat,
    ) -> Flight {
        let mut flights = self.flights();
        if let Some(flight) = flights.get(&key) {
            return flight.clone();
        }

        let this = self.clone();
        let task_key = key.clone();
        let data = data.to_owned();
        let options = *options;
        let task = tokio::spawn(async move { this.fetch(task_key, &data, &options, format).await });
        let flight = async move {
            task.await.unwrap_or_else(|error| {
                tracing::error!(%error, "qr image task failed");
                Err(QrError::EncodingFailed {
                    format: "QR image",
                    message: error.to_string(),
                })
            })
        }
        .boxed()
        .shared();
        flights.insert(key, flight.clone());
        flight
    }

    /// Reads the image from the store or renders it, then stores it in the background. The
    /// flight of `key` ends when `finished` drops, which is on return after a hit or a failure
    /// and after the background write when the image was rendered.
    async fn fetch(
        self,
        key: String,
        data: &str,
        options: &QrOptions,
        format: QrFormat,
    ) -> Result<Rendered, QrError> {
        let finished = FlightEnd {
            renderer: self.clone(),
            key: key.clone(),
        };
        let path = blob_key(&key, format);
        match self.inner.store.get(&path).await {
            Ok(Some(blob)) if format.is_complete(&blob.bytes) => {
                self.inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Rendered {
                    bytes: blob.bytes,
                    content_type: format.content_type(),
                });
            }
            Ok(Some(_)) => {
                tracing::warn!(key = path, "stored qr image is damaged; rendering it again");
            }
            Ok(None) => {}
            Err(error) => self.store_failed("get", &path, &error),
        }

        let rendered = self.render(key, data, options, format).await?;
        let stored = rendered.clone();
        tokio::spawn(async move {
            let store = &finished.renderer.inner.store;
            let written = store
                .put_cache(&path, stored.bytes, stored.content_type)
                .await;
            if let Err(error) = written {
                finished.renderer.store_failed("put", &path, &error);
            }
            drop(finished);
        });
        Ok(rendered)
    }

    /// Renders through the pool, waiting at most the configured timeout.
    async fn render(
        &self,
        key: String,
        data: &str,
        options: &QrOptions,
        format: QrFormat,
    ) -> Result<Rendered, QrError> {
        let timeout = self.inner.timeout;
        let job_options = JobOptions::new(Some(timeout));
        let build = |reply| {
            let job = QrJob::Render {
                data: data.to_owned(),
                options: *options,
                format,
                reply,
            };
            QrFactory::Dispatch(Job::with_options(key, job, job_options))
        };
        let rendered = self.inner.pool.call(build, timeout).await??;
        self.inner.stats.renders.fetch_add(1, Ordering::Relaxed);
        Ok(rendered)
    }

    fn store_failed(&self, operation: &str, path: &str, error: &dyn std::error::Error) {
        self.inner
            .stats
            .store_failures
            .fetch_add(1, Ordering::Relaxed);
        let backend = self.inner.store.name();
        tracing::warn!(backend, operation, key = path, %error, "qr image cache operation failed");
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight>> {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Ends the flight of `key` when dropped, also when its task panics.
struct FlightEnd {
    renderer: QrRenderer,
    key: String,
}

impl Drop for FlightEnd {
    fn drop(&mut self) {
        self.renderer.flights().remove(&self.key);
    }
}
