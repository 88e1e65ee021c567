//! The bookmark parts of the wiring: the search index, the page fetcher, the enrichment pool,
//! the web session key and the start-up check of the search index.

use super::AppState;
use crate::settings::Settings;
use anyhow::Context;
use linkyard_actors::backends::blob::BlobStore;
use linkyard_actors::backends::search::SearchIndex;
use linkyard_actors::bookmarks::enrich::{EnrichConfig, Enricher, PageFetcher};
use linkyard_actors::bookmarks::pool::{EnrichFactory, EnrichPoolConfig, EnrichmentPool};
use linkyard_actors::db;
use linkyard_actors::supervisor::{ActorSlot, ChildSpec};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Opens the configured search index and applies its settings. A Meilisearch that is down does
/// not stop the start: searches return 503 until it is back, and the start-up check backfills.
/// The Tantivy index is also returned typed, so that shutdown can close it.
pub async fn open_search(
    settings: &Settings,
) -> anyhow::Result<(
    Arc<dyn SearchIndex>,
    Option<Arc<crate::backends::search::tantivy::TantivySearch>>,
)> {
    use crate::backends::search::tantivy::{TantivyOptions, TantivySearch};
    use crate::settings::SearchBackend;
    let (search, tantivy): (Arc<dyn SearchIndex>, _) = match settings.search.backend {
        SearchBackend::Tantivy => {
            let options = TantivyOptions {
                path: settings.search_index_dir(),
                commit_interval: Duration::from_millis(settings.search.commit_interval_ms),
            };
            let index = Arc::new(
                TantivySearch::open(options)
                    .await
                    .context("opening the Tantivy search index")?,
            );
            (index.clone(), Some(index))
        }
        SearchBackend::Meilisearch => (
            crate::backends::search::build(settings)
                .await
                .context("configuring Meilisearch")?,
            None,
        ),
    };
    if let Err(error) = search.apply_settings().await {
        tracing::warn!(%error, "applying the search index settings failed; searches may fail");
    }
    Ok((search, tantivy))
}

/// Closes the embedded index once nothing else holds it, which releases its lock file.
pub async fn close_tantivy(tantivy: Option<Arc<crate::backends::search::tantivy::TantivySearch>>) {
    let Some(tantivy) = tantivy else { return };
    match Arc::try_unwrap(tantivy) {
        Ok(index) => {
            if let Err(error) = index.close().await {
                tracing::warn!(%error, "closing the search index failed");
            }
        }
        Err(_) => tracing::warn!("the search index is still in use; it closes when released"),
    }
}

/// Builds the guarded page fetcher of enrichment from the `[fetcher]` settings.
pub(super) fn page_fetcher(settings: &Settings) -> anyhow::Result<Arc<dyn PageFetcher>> {
    use crate::backends::fetch::{Fetcher, FetcherConfig};
    let config = FetcherConfig::from_settings(&settings.fetcher)
        .context("reading the [fetcher] settings")?;
    let fetcher = Fetcher::with_system_resolver(config).context("building the page fetcher")?;
    Ok(Arc::new(fetcher))
}

/// Builds the enrichment handle and the supervisor's recipe for its worker pool.
pub(super) fn enrichment_pool(
    settings: &Settings,
    db: &DatabaseConnection,
    fetcher: Arc<dyn PageFetcher>,
    blobs: Arc<dyn BlobStore>,
) -> (EnrichmentPool, ChildSpec) {
    let config = &settings.bookmarks;
    let workers = match config.workers {
        0 => 4 * std::thread::available_parallelism().map_or(1, usize::from),
        workers => workers,
    };
    let enricher = Arc::new(Enricher {
        db: db.clone(),
        fetcher,
        blobs,
        config: EnrichConfig {
            max_attempts: settings.queue.max_attempts.max(1),
            favicon_max_bytes: config.favicon_max_bytes.max(1),
            ..EnrichConfig::default()
        },
    });
    // A job the pool drops goes back to the queue as a failed attempt, so the pool must take
    // every job that this process's queue consumers run at once.
    let pool = EnrichPoolConfig {
        workers,
        queue_limit: config.queue_limit.max(settings.queue.concurrency).max(1),
    };
    let slot = ActorSlot::<EnrichFactory>::new("enrichment_worker");
    let timeout = Duration::from_millis(settings.queue.job_timeout_ms.max(1));
    let handle = EnrichmentPool::new(slot.clone(), timeout);
    let child = linkyard_actors::bookmarks::pool::child_spec(slot, pool, enricher);
    (handle, child)
}

/// Reads the key that signs web session cookies, generating it once per database so that every
/// instance accepts every other instance's cookies.
pub(super) async fn session_key(db: &DatabaseConnection) -> anyhow::Result<Arc<[u8]>> {
    let generated: [u8; 32] = rand::random();
    let generated: String = generated.iter().map(|byte| format!("{byte:02x}")).collect();
    let key = db::secrets::get_or_insert(db, "session_key", generated)
        .await
        .context("reading the shared session key")?;
    Ok(Arc::from(key.into_bytes()))
}

/// Compares the search index with the database in the background and backfills what is
/// missing, so a lost index directory or a search outage heals on the next start.
pub(super) fn spawn_search_backfill(state: &Arc<AppState>) -> JoinHandle<()> {
    let db = state.db.clone();
    let search = Arc::clone(&state.search);
    tokio::spawn(async move {
        match linkyard_actors::bookmarks::document::backfill(&db, search.as_ref()).await {
            Ok(0) => tracing::debug!("search index matches the database"),
            Ok(written) => tracing::info!(written, "search index backfilled"),
            Err(error) => tracing::warn!(%error, "checking the search index failed"),
        }
    })
}
