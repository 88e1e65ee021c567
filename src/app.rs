//! Wiring: `Application::build` connects the backends, starts the supervision tree and the HTTP
//! server. `main` and the tests both use it.

use crate::backends::cache::live::CacheCounters;
use crate::http::client_ip::TrustedProxies;
use crate::http::rate_limit::RateLimiter;
use crate::http::router::{self, Router};
use crate::settings::Settings;
use anyhow::Context;
use linkyard_actors::accounts::Accounts;
use linkyard_actors::analytics::LiveCounters;
use linkyard_actors::analytics::click_aggregator::{
    ClickAggregator, ClickAggregatorArguments, ClickBuffer, ClickMessage, Clicks, CountryLookup,
};
use linkyard_actors::backends::blob::BlobStore;
use linkyard_actors::backends::cache::{Cache, Invalidation};
use linkyard_actors::backends::queue::JobQueue;
use linkyard_actors::backends::search::SearchIndex;
use linkyard_actors::bookmarks::Bookmarks;
use linkyard_actors::bookmarks::enrich::PageFetcher;
use linkyard_actors::bookmarks::pool::EnrichmentPool;
use linkyard_actors::db::{self, Commits, DbOptions};
use linkyard_actors::domain::{CodeCodec, ReservedNames, UrlPolicy};
use linkyard_actors::id_allocator::{
    IdAllocator, IdAllocatorArguments, IdAllocatorHandle, IdAllocatorMessage,
};
use linkyard_actors::link_writer::{LinkWriter, LinkWriterArguments, LinkWriterMessage};
use linkyard_actors::links::{LinkParts, LinkRules, Links};
use linkyard_actors::pastes::{ExpiresIn, PasteMessage, PasteRules, PasteStoreArguments, Pastes};
use linkyard_actors::qr::{QrFactory, QrPoolConfig, QrRenderer};
use linkyard_actors::supervisor::{
    ActorSlot, ChildSpec, Supervisor, SupervisorArguments, SupervisorMessage,
};
use linkyard_actors::url_shard::{self, ShardFactory, SharedCache};
use ractor::{Actor, ActorRef};
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use url::Url;

mod bookmarks;

/// Connections of the queue's own SQLite pool. Its users (claims, lease renewals, deletes,
/// reschedules, parks, the relay's bookkeeping and readiness checks) nearly all write, and SQLite
/// runs one write at a time, so more connections would only wait for its lock.
const QUEUE_SQLITE_CONNECTIONS: u32 = 2;

pub use bookmarks::{close_tantivy, open_search};
use bookmarks::{enrichment_pool, page_fetcher, session_key, spawn_search_backfill};

/// Everything a request handler can reach.
pub struct AppState {
    pub settings: Settings,
    /// The base of every public URL, without a trailing slash.
    pub public_base: String,
    pub db: DatabaseConnection,
    pub blobs: Arc<dyn BlobStore>,
    pub cache: Arc<dyn Cache>,
    pub queue: Arc<dyn JobQueue>,
    pub links: Links,
    pub qr: QrRenderer,
    pub pastes: Pastes,
    pub clicks: Clicks,
    pub live: Arc<dyn LiveCounters>,
    pub accounts: Accounts,
    pub trusted_proxies: TrustedProxies,
    pub limiter: Arc<RateLimiter>,
    pub actor_restarts: Arc<AtomicU64>,
    pub click_flushes: Arc<AtomicU64>,
    pub search: Arc<dyn SearchIndex>,
    pub bookmarks: Bookmarks,
    pub enrichment: EnrichmentPool,
    /// Signs the session cookies of the web UI.
    pub session_key: Arc<[u8]>,
}

impl AppState {
    /// The short URL of a code: the public base, then the percent-encoded code.
    pub fn short_url(&self, code: &str) -> String {
        format!("{}/{}", self.public_base, encode_segment(code))
    }

    /// The API URL of one resource, such as `/api/links/{code}`.
    pub fn api_url(&self, collection: &str, id: &str) -> String {
        format!(
            "{}/api/{collection}/{}",
            self.public_base,
            encode_segment(id)
        )
    }

    /// Checks every configured backend at once, for `/readyz`.
    pub async fn check_backends(&self) -> Vec<(&'static str, Result<(), String>)> {
        let (database, blob, cache, queue) = tokio::join!(
            db::ping(&self.db),
            self.blobs.ping(),
            self.cache.ping(),
            self.queue.ping(),
        );
        let search = self.search.ping().await;
        vec![
            ("database", database.map_err(|error| error.to_string())),
            (self.blobs.name(), blob.map_err(|error| error.to_string())),
            (self.cache.name(), cache.map_err(|error| error.to_string())),
            (self.queue.name(), queue.map_err(|error| error.to_string())),
            (
                self.search.name(),
                search.map_err(|error| error.to_string()),
            ),
        ]
    }
}

/// Percent-encodes a path segment: everything but unreserved ASCII.
pub fn encode_segment(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Role of a process: the HTTP server with everything behind it, or only the queue consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `linkyard serve`: HTTP, actors, the outbox relay and (unless `queue.consume_in_serve` is
    /// off) the job consumers.
    Serve,
    /// `linkyard worker`: the actors, the outbox relay and the job consumers, no HTTP listener.
    Worker,
}

/// A running linkyard: HTTP server, actors and backends.
pub struct Application {
    local_addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
    invalidations: JoinHandle<()>,
    supervisor: ActorRef<SupervisorMessage>,
    supervisor_task: JoinHandle<()>,
    backfill: JoinHandle<()>,
    /// The queue's own pool when it is not `state.db`, closed before the database on shutdown.
    queue_db: Option<DatabaseConnection>,
    /// The embedded index, closed on shutdown so that its lock is free for the next process.
    tantivy: Option<Arc<crate::backends::search::tantivy::TantivySearch>>,
}

impl Application {
    /// Connects the database (migrating it when configured), starts the actors and starts
    /// serving on the configured address, which may use port 0.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::start(settings, Role::Serve, None).await
    }

    /// Like [`Application::build`], with `fetcher` fetching the pages of bookmark enrichment in
    /// place of the guarded fetcher that the `[fetcher]` settings describe. Benchmarks use it
    /// to keep every fetch on their own local site.
    pub async fn build_with_fetcher(
        settings: Settings,
        fetcher: Arc<dyn PageFetcher>,
    ) -> anyhow::Result<Self> {
        Self::start(settings, Role::Serve, Some(fetcher)).await
    }

    /// Starts a queue worker: everything `build` starts except the HTTP listener.
    pub async fn build_worker(settings: Settings) -> anyhow::Result<Self> {
        Self::start(settings, Role::Worker, None).await
    }

    async fn start(
        settings: Settings,
        role: Role,
        fetcher: Option<Arc<dyn PageFetcher>>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.storage.data_dir).with_context(|| {
            format!(
                "creating data directory {}",
                settings.storage.data_dir.display()
            )
        })?;
        let db = connect_database(&settings).await?;
        if settings.database.migrate_on_start {
            crate::migrate::run(&db)
                .await
                .context("migrating the database")?;
        }

        let listener = match role {
            Role::Serve => Some(
                TcpListener::bind(settings.server.listen)
                    .await
                    .with_context(|| format!("binding {}", settings.server.listen))?,
            ),
            Role::Worker => None,
        };
        let local_addr = match &listener {
            Some(listener) => listener.local_addr().context("reading the bound address")?,
            None => settings.server.listen,
        };
        let public_url = public_url(&settings, local_addr)?;
        let routes = router::routes();
        let reserved = ReservedNames::new(router::reserved_names(&routes));
        let router = Arc::new(Router::new(routes).context("building the router")?);

        let secret = code_secret(&settings, &db).await?;
        let codec = CodeCodec::new(secret.as_bytes());
        let blobs = crate::backends::blob::connect(&settings)
            .await
            .context("opening the blob store")?;
        let cache = crate::backends::cache::connect(&settings.cache, &settings.storage.data_dir)
            .await
            .context("connecting the cache")?;
        let queue_db = connect_queue_database(&settings).await?;
        let queue = crate::backends::queue::build(
            &settings.queue,
            queue_db.clone().unwrap_or_else(|| db.clone()),
        )
        .context("building the job queue")?;
        let live: Arc<dyn LiveCounters> = Arc::new(CacheCounters::new(Arc::clone(&cache)));

        let actor_restarts = Arc::new(AtomicU64::new(0));
        let click_flushes = Arc::new(AtomicU64::new(0));
        let shared = SharedCache {
            enabled: cache.name() != "memory",
            cache: Arc::clone(&cache),
            ttl: Duration::from_secs(settings.links.cache_ttl_secs.max(1)),
            negative_ttl: Duration::from_secs(settings.links.negative_cache_ttl_secs.max(1)),
            generation: Arc::new(AtomicU64::new(0)),
            stats: Arc::default(),
        };
        let (links, mut children) = links_and_actors(
            &settings,
            &db,
            codec,
            &public_url,
            reserved,
            shared,
            Arc::clone(&queue),
        );
        let (qr, qr_pool) = qr_renderer(&settings, Arc::clone(&blobs));
        children.push(qr_pool);
        let (pastes, paste_store) = paste_store(&settings, &db, Arc::clone(&blobs))?;
        children.push(paste_store);
        let invalidations = spawn_invalidation_listener(&cache, links.clone());
        let (clicks, aggregator) = clicks_and_aggregator(
            &settings,
            &db,
            Arc::clone(&live),
            secret.as_bytes(),
            Arc::clone(&click_flushes),
        )?;
        children.push(aggregator);
        let (search, tantivy) = open_search(&settings).await?;
        let bookmarks = Bookmarks::new(
            db.clone(),
            Arc::clone(&queue),
            UrlPolicy::new(Vec::<String>::new(), settings.links.max_url_bytes),
        );
        let fetcher = match fetcher {
            Some(fetcher) => fetcher,
            None => page_fetcher(&settings)?,
        };
        let (enrichment, enrichment_pool) =
            enrichment_pool(&settings, &db, fetcher, Arc::clone(&blobs));
        children.push(enrichment_pool);
        let session_key = session_key(&db).await?;
        let (supervisor, supervisor_task) = Actor::spawn(
            None,
            Supervisor,
            SupervisorArguments {
                children,
                restarts: Arc::clone(&actor_restarts),
            },
        )
        .await
        .context("starting the actors")?;

        let accounts = Accounts::new(
            db.clone(),
            Duration::from_secs(settings.auth.key_cache_ttl_secs),
        );
        let trusted_proxies = trusted_proxies(&settings)?;
        let limiter = Arc::new(RateLimiter::new(
            Arc::clone(&cache),
            settings.rate_limit.clone(),
        ));
        let public_base = public_url.as_str().trim_end_matches('/').to_owned();
        let state = Arc::new(AppState {
            settings,
            public_base,
            db,
            blobs,
            cache,
            queue,
            links,
            qr,
            pastes,
            clicks,
            live,
            accounts,
            trusted_proxies,
            limiter,
            actor_restarts,
            click_flushes,
            search,
            bookmarks,
            enrichment,
            session_key,
        });

        let (shutdown, shutdown_rx) = watch::channel(false);
        let consume = role == Role::Worker || state.settings.queue.consume_in_serve;
        let worker = spawn_queue_worker(&state, consume, shutdown_rx.clone());
        let backfill = spawn_search_backfill(&state);
        let server = match listener {
            Some(listener) => {
                tracing::info!(address = %local_addr, public_url = %state.public_base, "linkyard listening");
                tokio::spawn(crate::http::serve(
                    listener,
                    Arc::clone(&state),
                    router,
                    shutdown_rx,
                ))
            }
            None => {
                tracing::info!(queue = state.queue.name(), "linkyard worker running");
                tokio::spawn(async {})
            }
        };
        Ok(Self {
            local_addr,
            state,
            shutdown,
            server,
            worker,
            invalidations,
            supervisor,
            supervisor_task,
            backfill,
            queue_db,
            tantivy,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Returns the pool the job queue writes its own rows through: a second pool on SQLite
    /// (see [`connect_queue_database`]), the main pool on PostgreSQL.
    pub fn queue_database(&self) -> &DatabaseConnection {
        self.queue_db.as_ref().unwrap_or(&self.state.db)
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        self.shutdown().await
    }

    /// Stops accepting connections, lets open requests finish, then stops the actors in reverse
    /// start order so that each one drains its mailbox.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        if let Err(error) = self.server.await {
            tracing::warn!(%error, "the HTTP server task failed");
        }
        if let Err(error) = self.worker.await {
            tracing::warn!(%error, "the queue worker task failed");
        }
        self.invalidations.abort();
        self.backfill.abort();
        let _ = self.backfill.await;
        let stopped = self
            .supervisor
            .call(SupervisorMessage::Shutdown, Some(Duration::from_secs(60)))
            .await;
        if stopped.is_err() {
            tracing::warn!("the supervisor did not confirm the shutdown");
        }
        let _ = self.supervisor_task.await;
        self.state.cache.close().await;
        if let Err(error) = self.state.search.flush().await {
            tracing::warn!(%error, "flushing the search index failed");
        }
        let db = self.state.db.clone();
        drop(self.state);
        close_tantivy(self.tantivy).await;
        if let Some(queue_db) = self.queue_db {
            queue_db
                .close()
                .await
                .context("closing the queue's database pool")?;
        }
        db.close().await.context("closing the database")?;
        tracing::info!("linkyard stopped");
        Ok(())
    }
}

pub async fn connect_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let options = DbOptions {
        url: settings.database_url(),
        max_connections: settings.database.max_connections,
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
        commits: Commits::Durable,
    };
    db::connect(&options)
        .await
        .context("connecting to the database")
}

/// Opens the pool for the queue's own writes on SQLite: claiming, renewing, deleting,
/// rescheduling and parking outbox rows, and with RabbitMQ marking them published. Its commits
/// do not wait for the disk ([`Commits::Relaxed`]), so they hold SQLite's one writer for
/// microseconds instead of a flush while the group commits of new links wait. What a power cut
/// loses of them only runs or publishes a job again, and the handlers allow that. Jobs are still
/// enqueued on the main pool, in the transaction of the row they belong to. PostgreSQL commits
/// concurrently, so the queue shares the main pool there (`None`).
async fn connect_queue_database(settings: &Settings) -> anyhow::Result<Option<DatabaseConnection>> {
    if !settings.uses_sqlite() {
        return Ok(None);
    }
    let options = DbOptions {
        url: settings.database_url(),
        max_connections: QUEUE_SQLITE_CONNECTIONS,
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
        commits: Commits::Relaxed,
    };
    let db = db::connect(&options)
        .await
        .context("connecting the queue's database pool")?;
    Ok(Some(db))
}

fn public_url(settings: &Settings, local_addr: SocketAddr) -> anyhow::Result<Url> {
    match &settings.server.public_url {
        Some(url) => Ok(url.clone()),
        None => Url::parse(&format!("http://{local_addr}")).context("building the public URL"),
    }
}

async fn code_secret(settings: &Settings, db: &DatabaseConnection) -> anyhow::Result<String> {
    if !settings.links.code_secret.is_empty() {
        return Ok(settings.links.code_secret.clone());
    }
    let generated: [u8; 32] = rand::random();
    let generated: String = generated.iter().map(|byte| format!("{byte:02x}")).collect();
    db::secrets::get_or_insert(db, "code_secret", generated)
        .await
        .context("reading the shared code secret")
}

/// Builds the links handle and the supervisor's children that serve it.
fn links_and_actors(
    settings: &Settings,
    db: &DatabaseConnection,
    codec: CodeCodec,
    public_url: &Url,
    reserved: ReservedNames,
    shared: SharedCache,
    queue: Arc<dyn JobQueue>,
) -> (Links, Vec<ChildSpec>) {
    let config = &settings.links;
    let high_water = Arc::new(AtomicU64::new(0));
    let ids_slot = ActorSlot::<IdAllocatorMessage>::new("id_allocator");
    let writer_slot = ActorSlot::<LinkWriterMessage>::new("link_writer");
    let shards_slot = ActorSlot::<ShardFactory>::new("url_shard");

    let shards = config.shards.max(1);
    let per_shard = (config.hot_cache_capacity / shards as u64).max(1);
    let caches: Vec<_> = (0..shards)
        .map(|_| {
            url_shard::ShardCache::new(
                per_shard,
                Duration::from_secs(config.cache_ttl_secs),
                Duration::from_secs(config.negative_cache_ttl_secs),
            )
        })
        .collect();

    let ids_db = db.clone();
    let ids_water = Arc::clone(&high_water);
    let block_size = config.id_block_size.max(1);
    let writer_db = db.clone();
    let max_batch = config.write_batch_max.max(1);
    let children = vec![
        ChildSpec::actor(ids_slot.clone(), IdAllocator, move || {
            IdAllocatorArguments {
                db: ids_db.clone(),
                sequence: "links",
                block_size,
                high_water: Arc::clone(&ids_water),
            }
        }),
        ChildSpec::actor(writer_slot.clone(), LinkWriter, move || {
            LinkWriterArguments {
                db: writer_db.clone(),
                max_batch,
            }
        }),
        url_shard::child_spec(
            shards_slot.clone(),
            db.clone(),
            writer_slot,
            caches.clone(),
            shared.clone(),
            config.read_concurrency,
        ),
    ];

    let mut own_hosts: Vec<String> = settings.server.own_hosts.clone();
    own_hosts.extend(public_url.host_str().map(str::to_owned));
    let rules = LinkRules {
        anonymous_create: config.anonymous_create,
        prerender_qr: settings.qr.prerender,
        policy: UrlPolicy::new(own_hosts, config.max_url_bytes),
        reserved,
    };
    let slack = config.high_water_slack;
    let ids = IdAllocatorHandle::new(ids_slot, high_water, slack);
    let links = Links::new(LinkParts {
        db: db.clone(),
        codec,
        ids,
        shards: shards_slot,
        caches,
        shared,
        queue,
        rules,
    });
    (links, children)
}

/// Builds the QR handle and the supervisor's recipe for its render pool.
fn qr_renderer(settings: &Settings, blobs: Arc<dyn BlobStore>) -> (QrRenderer, ChildSpec) {
    let config = &settings.qr;
    let mut pool = QrPoolConfig::default();
    if config.workers > 0 {
        pool.workers = config.workers;
    }
    pool.queue_limit = config.queue_limit.max(1);
    let slot = ActorSlot::<QrFactory>::new("qr_renderer");
    let timeout = Duration::from_millis(config.render_timeout_ms.max(1));
    let renderer = QrRenderer::new(slot.clone(), blobs, timeout);
    (renderer, linkyard_actors::qr::child_spec(slot, pool))
}

/// Builds the paste handle and the supervisor's recipe for the `PasteStore` actor.
fn paste_store(
    settings: &Settings,
    db: &DatabaseConnection,
    blobs: Arc<dyn BlobStore>,
) -> anyhow::Result<(Pastes, ChildSpec)> {
    let config = &settings.pastes;
    let default_expiry = ExpiresIn::parse(&config.default_expiry)
        .with_context(|| format!("pastes.default_expiry '{}'", config.default_expiry))?;
    let rules = PasteRules {
        anonymous_create: config.anonymous_create,
        max_bytes: config.max_bytes,
        max_expiry: (config.max_expiry_secs > 0)
            .then(|| Duration::from_secs(config.max_expiry_secs)),
        default_expiry,
        sweep_interval: Duration::from_secs(config.sweep_interval_secs),
        sweep_batch: config.sweep_batch.max(1),
        orphan_grace: Duration::from_secs(config.orphan_grace_secs),
    };
    let slot = ActorSlot::<PasteMessage>::new("paste_store");
    let db = db.clone();
    let actor_rules = rules.clone();
    let spec = linkyard_actors::pastes::child_spec(slot.clone(), move || PasteStoreArguments {
        db: db.clone(),
        blobs: Arc::clone(&blobs),
        rules: actor_rules.clone(),
    });
    Ok((Pastes::new(slot, rules), spec))
}

/// Builds the click handle and the supervisor's recipe for the aggregator behind it.
fn clicks_and_aggregator(
    settings: &Settings,
    db: &DatabaseConnection,
    live: Arc<dyn LiveCounters>,
    secret: &[u8],
    flush_batches: Arc<AtomicU64>,
) -> anyhow::Result<(Clicks, ChildSpec)> {
    let config = &settings.analytics;
    let country = country_lookup(&config.geoip_db)?;
    let slot = ActorSlot::<ClickMessage>::new("click_aggregator");
    let buffer = Arc::new(ClickBuffer::default());
    let clicks = Clicks::new(slot.clone(), Arc::clone(&buffer), config.max_queued_clicks);

    let db = db.clone();
    let secret: Arc<[u8]> = Arc::from(secret);
    let flush_interval = Duration::from_millis(config.flush_interval_ms.max(10));
    let flush_max_events = config.flush_max_events.max(1);
    let child = ChildSpec::actor(slot, ClickAggregator, move || ClickAggregatorArguments {
        db: db.clone(),
        live: Arc::clone(&live),
        country: country.clone(),
        secret: Arc::clone(&secret),
        flush_interval,
        flush_max_events,
        buffer: Arc::clone(&buffer),
        flush_batches: Arc::clone(&flush_batches),
    });
    Ok((clicks, child))
}

/// Opens the MaxMind country database, if one is configured.
fn country_lookup(path: &std::path::Path) -> anyhow::Result<Option<CountryLookup>> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let reader = maxminddb::Reader::open_readfile(path)
        .with_context(|| format!("opening the country database {}", path.display()))?;
    let reader = Arc::new(reader);
    let lookup: CountryLookup = Arc::new(move |address| {
        let found = reader.lookup(address).ok()?;
        let country: maxminddb::geoip2::Country = found.decode().ok()??;
        country.country.iso_code.map(str::to_owned)
    });
    Ok(Some(lookup))
}

fn trusted_proxies(settings: &Settings) -> anyhow::Result<TrustedProxies> {
    let networks = settings
        .server
        .trusted_proxies
        .iter()
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| {
                    format!("server.trusted_proxies entry '{entry}' is not an address or CIDR")
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(TrustedProxies::new(networks))
}

/// Drops hot cache entries that other instances changed, as their invalidations arrive.
fn spawn_invalidation_listener(cache: &Arc<dyn Cache>, links: Links) -> JoinHandle<()> {
    let mut invalidations = cache.subscribe_invalidations();
    tokio::spawn(async move {
        loop {
            match invalidations.recv().await {
                Ok(Invalidation::Code(code)) => links.invalidate(&code),
                Ok(Invalidation::All) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    links.invalidate_all()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

/// Runs the queue's relay, and its consumers when `consume` is set, in this process until
/// shutdown. The relay always runs: it publishes the jobs this process commits.
fn spawn_queue_worker(
    state: &Arc<AppState>,
    consume: bool,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Arc::clone(&state.queue);
    let handlers = crate::jobs::handlers(state);
    tokio::spawn(async move {
        let result = if consume {
            crate::backends::queue::run_worker(queue, handlers, shutdown).await
        } else {
            tracing::info!(
                queue = queue.name(),
                "jobs are left to `linkyard worker` processes"
            );
            queue.run_relay(shutdown).await
        };
        if let Err(error) = result {
            tracing::error!(%error, "the queue worker stopped with an error");
        }
    })
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
