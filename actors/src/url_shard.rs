//! `UrlShard`: owns the links whose code hashes to it.
//!
//! Shards are workers of a ractor factory with key-persistent routing on the code, so every
//! request for one code reaches the same shard, in order. Each shard owns a hot cache that only it
//! writes; request handlers read it directly (see [`crate::links::Links::resolve`]), so a hot
//! redirect never waits for an actor. A miss reaches the shard, which coalesces concurrent misses
//! for one code into one database read. Writes update the cache before their caller is answered,
//! so a client reads its own writes on this instance.

use crate::backends::cache::{Cache, CacheValue};
use crate::backends::queue::NewJob;
use crate::db::entities::links;
use crate::db::{self, DbError};
use crate::link_reader::{LinkReader, MAX_CODES_PER_READ};
use crate::link_writer::LinkWriterMessage;
use crate::supervisor::ActorSlot;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ractor::factory::{FactoryMessage, Job, Worker, WorkerId};
use ractor::{ActorProcessingErr, ActorRef, RpcReplyPort};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the hot cache holds for one code: the link, or `None` for a code known not to exist.
pub type CacheEntry = Option<Arc<CachedLink>>;

/// The fields a redirect needs, kept in the hot cache.
#[derive(Debug, Clone)]
pub struct CachedLink {
    pub id: i64,
    pub code: String,
    /// The serialized target, ready to become a `Location` header. Only this form is kept,
    /// because a parsed URL per entry would make the hot cache much larger; see [`Self::target`].
    pub location: Bytes,
    pub redirect: u16,
    pub forward_query: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_visits: Option<i64>,
    pub disabled: bool,
    pub owner_id: Option<i64>,
}

impl CachedLink {
    pub fn from_model(model: &links::Model) -> Option<Self> {
        let url = url::Url::parse(&model.url).ok()?;
        Some(Self {
            id: model.id,
            code: model.code.clone(),
            location: Bytes::copy_from_slice(url.as_str().as_bytes()),
            redirect: u16::try_from(model.redirect).unwrap_or(302),
            forward_query: model.forward_query,
            expires_at: model.expires_at,
            max_visits: model.max_visits,
            disabled: model.disabled,
            owner_id: model.owner_id,
        })
    }
}

impl CachedLink {
    /// Returns the target as text. `location` was serialized from a parsed URL, so it is UTF-8.
    pub fn location_str(&self) -> &str {
        std::str::from_utf8(&self.location).unwrap_or_default()
    }

    /// Parses the target again, for the rare redirect that forwards a query string. `None` only
    /// if the stored form no longer parses, which validation at creation rules out.
    pub fn target(&self) -> Option<crate::domain::TargetUrl> {
        url::Url::parse(self.location_str())
            .ok()
            .map(crate::domain::TargetUrl::from_stored)
    }
}

/// A link as the shared cache holds it, so every instance can rebuild its [`CachedLink`].
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedEntry {
    id: i64,
    code: String,
    url: String,
    redirect: u16,
    forward_query: bool,
    expires_at: Option<DateTime<Utc>>,
    max_visits: Option<i64>,
    disabled: bool,
    owner_id: Option<i64>,
}

impl CachedLink {
    fn to_shared(&self) -> CacheValue {
        let entry = SharedEntry {
            id: self.id,
            code: self.code.clone(),
            url: self.location_str().to_owned(),
            redirect: self.redirect,
            forward_query: self.forward_query,
            expires_at: self.expires_at,
            max_visits: self.max_visits,
            disabled: self.disabled,
            owner_id: self.owner_id,
        };
        match serde_json::to_vec(&entry) {
            Ok(bytes) => CacheValue::Present(Bytes::from(bytes)),
            Err(_) => CacheValue::Negative,
        }
    }

    fn from_shared(bytes: &[u8]) -> Option<Self> {
        let entry: SharedEntry = serde_json::from_slice(bytes).ok()?;
        let url = url::Url::parse(&entry.url).ok()?;
        Some(Self {
            id: entry.id,
            code: entry.code,
            location: Bytes::copy_from_slice(url.as_str().as_bytes()),
            redirect: entry.redirect,
            forward_query: entry.forward_query,
            expires_at: entry.expires_at,
            max_visits: entry.max_visits,
            disabled: entry.disabled,
            owner_id: entry.owner_id,
        })
    }
}

/// The shared cache behind the shards' hot caches: Redis in production, so instances fill it
/// for each other, and a place to publish invalidations.
#[derive(Clone)]
pub struct SharedCache {
    pub cache: Arc<dyn Cache>,
    /// Off when the cache lives in this process: the hot caches already hold what it would, and
    /// there is no other instance to tell about writes.
    pub enabled: bool,
    pub ttl: Duration,
    pub negative_ttl: Duration,
    /// Bumped when every hot cache is dropped, so reads that overlapped the drop are not cached.
    pub generation: Arc<AtomicU64>,
    pub stats: Arc<LinkCacheStats>,
}

/// Counters of the link caches, for metrics and tests.
#[derive(Debug, Default)]
pub struct LinkCacheStats {
    /// Redirects answered from a hot cache without an actor call.
    pub hot_hits: AtomicU64,
    /// Look-ups that reached a shard.
    pub hot_misses: AtomicU64,
    /// Shard look-ups answered by the shared cache.
    pub shared_hits: AtomicU64,
    /// Queries for links sent to the database; one query reads every code a shard missed
    /// while the previous query ran.
    pub database_reads: AtomicU64,
}

impl SharedCache {
    fn key(code: &str) -> String {
        format!("link:{code}")
    }

    /// Looks a code up in the shared cache. `None` means the shared cache could not answer.
    pub(crate) async fn get(&self, code: &str) -> Option<CacheEntry> {
        if !self.enabled {
            return None;
        }
        match self.cache.get(&Self::key(code)).await {
            Ok(Some(CacheValue::Present(bytes))) => {
                CachedLink::from_shared(&bytes).map(|link| Some(Arc::new(link)))
            }
            Ok(Some(CacheValue::Negative)) => Some(None),
            Ok(None) | Err(_) => None,
        }
    }

    /// Fills the shared cache after a database read, never over a newer entry.
    pub(crate) async fn fill(&self, code: &str, entry: &CacheEntry) {
        if !self.enabled {
            return;
        }
        let (value, ttl) = self.value_of(entry);
        let _ = self
            .cache
            .set_if_absent(&Self::key(code), &value, ttl)
            .await;
    }

    /// Stores the outcome of a write and tells every instance to drop its hot entry. A failure
    /// is retried in the background so that other instances do not keep a stale entry.
    async fn publish(&self, code: &str, entry: &CacheEntry) {
        if !self.enabled || self.try_publish(code, entry).await {
            return;
        }
        let shared = self.clone();
        let code = code.to_owned();
        let entry = entry.clone();
        tokio::spawn(async move {
            for delay in [1, 5, 15, 30] {
                tokio::time::sleep(Duration::from_secs(delay)).await;
                if shared.try_publish(&code, &entry).await {
                    return;
                }
            }
            tracing::warn!(
                code,
                "other instances may serve a stale link until their cache entries expire"
            );
        });
    }

    async fn try_publish(&self, code: &str, entry: &CacheEntry) -> bool {
        let (value, ttl) = self.value_of(entry);
        let stored = self.cache.set(&Self::key(code), &value, ttl).await.is_ok();
        stored && self.cache.publish_invalidation(code).await.is_ok()
    }

    fn value_of(&self, entry: &CacheEntry) -> (CacheValue, Duration) {
        match entry {
            Some(link) => (link.to_shared(), self.ttl),
            None => (CacheValue::Negative, self.negative_ttl),
        }
    }
}

/// One shard's hot cache. Only the shard writes it, and request handlers read it directly.
/// Positive entries live `ttl` and negative ones `negative_ttl`. An expired entry reads as a
/// miss until the next fill replaces it or eviction removes it.
#[derive(Clone)]
pub struct ShardCache {
    entries: Arc<quick_cache::sync::Cache<String, (Instant, CacheEntry)>>,
    ttl: Duration,
    negative_ttl: Duration,
}

impl ShardCache {
    /// Creates a cache of about `capacity` entries (at least one).
    pub fn new(capacity: u64, ttl: Duration, negative_ttl: Duration) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        Self {
            entries: Arc::new(quick_cache::sync::Cache::new(capacity)),
            ttl,
            negative_ttl,
        }
    }

    /// Returns the entry for `code` unless it is missing or expired.
    pub fn get(&self, code: &str) -> Option<CacheEntry> {
        let (expires_at, entry) = self.entries.get(code)?;
        (Instant::now() < expires_at).then_some(entry)
    }

    pub fn insert(&self, code: String, entry: CacheEntry) {
        let ttl = if entry.is_some() {
            self.ttl
        } else {
            self.negative_ttl
        };
        self.entries.insert(code, (Instant::now() + ttl, entry));
    }

    pub fn invalidate(&self, code: &str) {
        self.entries.remove(code);
    }

    pub fn invalidate_all(&self) {
        self.entries.clear();
    }
}

pub type ShardError = Arc<DbError>;

pub type ShardFactory = FactoryMessage<String, UrlShardMessage>;

pub enum UrlShardMessage {
    /// Looks a code up, in the cache or with one coalesced database read.
    Resolve {
        code: String,
        reply: RpcReplyPort<Result<CacheEntry, ShardError>>,
    },
    /// Inserts a new link through the group-commit writer. Replies whether the code was free.
    Create {
        row: Box<links::ActiveModel>,
        /// A job to enqueue in the same transaction as the row.
        job: Option<NewJob>,
        code: String,
        reply: RpcReplyPort<Result<bool, ShardError>>,
    },
    /// Writes a changed link and refreshes the cache.
    Update {
        row: Box<links::ActiveModel>,
        code: String,
        reply: RpcReplyPort<Result<links::Model, ShardError>>,
    },
    Delete {
        id: i64,
        code: String,
        reply: RpcReplyPort<Result<bool, ShardError>>,
    },
    /// Drops a cached entry that another instance changed.
    Invalidate { code: String },
    /// Makes the shard fail, to exercise supervision.
    #[doc(hidden)]
    InjectFailure { code: String },
    Loaded {
        epoch: (u64, u64),
        results: Vec<(String, Result<CacheEntry, ShardError>)>,
    },
    Written {
        code: String,
        entry: CacheEntry,
        done: Box<dyn FnOnce() + Send>,
    },
}

#[derive(Clone)]
pub struct UrlShardArguments {
    pub db: DatabaseConnection,
    pub writer: ActorSlot<LinkWriterMessage>,
    pub cache: ShardCache,
    pub shared: SharedCache,
    /// The batched reader that all shards share.
    pub reader: Arc<LinkReader>,
}

pub struct UrlShard;

pub struct UrlShardState {
    arguments: UrlShardArguments,
    /// Callers waiting for the read of a code.
    pending: HashMap<String, Vec<RpcReplyPort<Result<CacheEntry, ShardError>>>>,
    /// Codes missed while a read ran; the next read takes them all at once.
    queued: Vec<String>,
    reading: bool,
    /// Counts completed writes, so a read that overlapped a write does not fill the cache.
    epoch: u64,
}

type Factory = ActorRef<ShardFactory>;

impl Worker for UrlShard {
    type Key = String;
    type Message = UrlShardMessage;
    type Arguments = UrlShardArguments;
    type State = UrlShardState;

    async fn pre_start(
        &self,
        wid: WorkerId,
        _factory: &Factory,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        // A restarted shard starts from an empty cache: the entries are cheap to reload and the
        // failure may have left a write half applied to them.
        arguments.cache.invalidate_all();
        tracing::debug!(shard = wid, "url shard started");
        Ok(UrlShardState {
            arguments,
            pending: HashMap::new(),
            queued: Vec::new(),
            reading: false,
            epoch: 0,
        })
    }

    async fn handle(
        &self,
        wid: WorkerId,
        factory: &Factory,
        Job { msg, key, .. }: Job<String, UrlShardMessage>,
        state: &mut Self::State,
    ) -> Result<String, ActorProcessingErr> {
        match msg {
            UrlShardMessage::Resolve { code, reply } => resolve(factory, state, code, reply),
            UrlShardMessage::Loaded { epoch, results } => {
                state.reading = false;
                for (code, result) in results {
                    loaded(state, code, epoch, result);
                }
                if !state.queued.is_empty() {
                    start_read(factory, state);
                }
            }
            UrlShardMessage::Create {
                row,
                job,
                code,
                reply,
            } => create(factory, state, row, job, code, reply),
            UrlShardMessage::Update { row, code, reply } => {
                update(factory, state, row, code, reply)
            }
            UrlShardMessage::Delete { id, code, reply } => delete(factory, state, id, code, reply),
            UrlShardMessage::Written { code, entry, done } => {
                state.epoch += 1;
                state.arguments.cache.insert(code, entry);
                done();
            }
            UrlShardMessage::Invalidate { code } => {
                state.epoch += 1;
                state.arguments.cache.invalidate(&code);
            }
            UrlShardMessage::InjectFailure { code } => {
                panic!("failure injected into url shard {wid} for code {code}");
            }
        }
        Ok(key)
    }
}

fn resolve(
    factory: &Factory,
    state: &mut UrlShardState,
    code: String,
    reply: RpcReplyPort<Result<CacheEntry, ShardError>>,
) {
    if let Some(entry) = state.arguments.cache.get(&code) {
        crate::reply(reply, Ok(entry));
        return;
    }
    if let Some(waiters) = state.pending.get_mut(&code) {
        waiters.push(reply);
        return;
    }
    state.pending.insert(code.clone(), vec![reply]);
    state.queued.push(code);
    if !state.reading {
        start_read(factory, state);
    }
}

/// Hands every queued code to the reader in one request. Misses that arrive meanwhile queue up
/// for the next request, so under load each request carries many codes (the read-side twin of
/// the group commit of new links).
fn start_read(factory: &Factory, state: &mut UrlShardState) {
    let take = state.queued.len().min(MAX_CODES_PER_READ);
    let codes: Vec<String> = state.queued.drain(..take).collect();
    let Some(first) = codes.first().cloned() else {
        return;
    };
    state.reading = true;

    let epoch = epoch_of(state);
    let factory = factory.clone();
    let deliver = Box::new(move |results| {
        if let Err(error) = factory.dispatch(first, UrlShardMessage::Loaded { epoch, results }) {
            tracing::debug!(%error, "read result dropped: url shards are stopping");
        }
    });
    state
        .arguments
        .reader
        .submit(crate::link_reader::ReadRequest { codes, deliver });
}

/// The shard's write count and the global drop count: a read that started under another pair
/// may be stale.
fn epoch_of(state: &UrlShardState) -> (u64, u64) {
    let generation = state.arguments.shared.generation.load(Ordering::Acquire);
    (state.epoch, generation)
}

fn loaded(
    state: &mut UrlShardState,
    code: String,
    epoch: (u64, u64),
    answer: Result<CacheEntry, ShardError>,
) {
    let waiters = state.pending.remove(&code).unwrap_or_default();
    if let Ok(entry) = &answer
        && epoch == epoch_of(state)
    {
        state.arguments.cache.insert(code, entry.clone());
    }
    for waiter in waiters {
        crate::reply(waiter, answer.clone());
    }
}

/// Runs `write` off the shard, then sends the resulting cache entry back through the factory so
/// that the shard updates its cache before the caller hears the outcome.
fn write_then_cache<T, W>(
    factory: &Factory,
    shared: &SharedCache,
    code: String,
    reply: RpcReplyPort<Result<T, ShardError>>,
    write: W,
) where
    T: Send + 'static,
    W: Future<Output = Result<(T, Option<CacheEntry>), ShardError>> + Send + 'static,
{
    let factory = factory.clone();
    let shared = shared.clone();
    tokio::spawn(async move {
        match write.await {
            Ok((value, Some(entry))) => {
                shared.publish(&code, &entry).await;
                let done = Box::new(move || crate::reply(reply, Ok(value)));
                let message = UrlShardMessage::Written {
                    code: code.clone(),
                    entry,
                    done,
                };
                if let Err(error) = factory.dispatch(code, message) {
                    tracing::debug!(%error, "cache refresh dropped: url shards are stopping");
                }
            }
            Ok((value, None)) => crate::reply(reply, Ok(value)),
            Err(error) => crate::reply(reply, Err(error)),
        }
    });
}

fn create(
    factory: &Factory,
    state: &mut UrlShardState,
    row: Box<links::ActiveModel>,
    job: Option<NewJob>,
    code: String,
    reply: RpcReplyPort<Result<bool, ShardError>>,
) {
    let writer = state.arguments.writer.clone();
    let entry = model_of(&row)
        .as_ref()
        .and_then(CachedLink::from_model)
        .map(Arc::new);
    let key = code.clone();
    write_then_cache(factory, &state.arguments.shared, key, reply, async move {
        let inserted = writer
            .call(
                |reply| LinkWriterMessage::Insert(row, job, code, reply),
                Duration::from_secs(30),
            )
            .await
            .map_err(|unavailable| {
                Arc::new(DbError::new(
                    "insert link",
                    sea_orm::DbErr::Custom(unavailable.to_string()),
                ))
            })??;
        Ok((inserted, inserted.then_some(entry)))
    });
}

fn update(
    factory: &Factory,
    state: &mut UrlShardState,
    row: Box<links::ActiveModel>,
    code: String,
    reply: RpcReplyPort<Result<links::Model, ShardError>>,
) {
    let db = state.arguments.db.clone();
    write_then_cache(factory, &state.arguments.shared, code, reply, async move {
        let model = db::links::update(&db, *row).await.map_err(Arc::new)?;
        let entry = CachedLink::from_model(&model).map(Arc::new);
        Ok((model, Some(entry)))
    });
}

fn delete(
    factory: &Factory,
    state: &mut UrlShardState,
    id: i64,
    code: String,
    reply: RpcReplyPort<Result<bool, ShardError>>,
) {
    let db = state.arguments.db.clone();
    write_then_cache(factory, &state.arguments.shared, code, reply, async move {
        let deleted = db::links::delete(&db, id).await.map_err(Arc::new)?;
        Ok((deleted, Some(None)))
    });
}

/// Reads the model out of a fully set active model, for filling the cache after an insert.
fn model_of(row: &links::ActiveModel) -> Option<links::Model> {
    use sea_orm::TryIntoModel;
    row.clone().try_into_model().ok()
}

/// The supervisor's recipe for the shard factory: `shards` workers with key-persistent routing
/// on the code, worker `i` owning `caches[i]`. The factory restarts a failed shard itself.
pub fn child_spec(
    slot: ActorSlot<ShardFactory>,
    db: DatabaseConnection,
    writer: ActorSlot<LinkWriterMessage>,
    caches: Vec<ShardCache>,
    shared: SharedCache,
    read_concurrency: usize,
) -> crate::supervisor::ChildSpec {
    use ractor::factory::{Factory, FactoryArguments, queues, routing, worker_builder};
    let name = slot.name();
    let start: crate::supervisor::StartFn = Box::new(move |supervisor| {
        let slot = slot.clone();
        let db = db.clone();
        let writer = writer.clone();
        let caches = caches.clone();
        let shared = shared.clone();
        let reader = LinkReader::new(db.clone(), shared.clone(), read_concurrency);
        Box::pin(async move {
            let shards = caches.len();
            let builder = worker_builder(move |wid: WorkerId| {
                let arguments = UrlShardArguments {
                    db: db.clone(),
                    writer: writer.clone(),
                    cache: caches[wid].clone(),
                    shared: shared.clone(),
                    reader: Arc::clone(&reader),
                };
                (UrlShard, arguments)
            });
            let factory = Factory::<
                String,
                UrlShardMessage,
                UrlShardArguments,
                UrlShard,
                routing::KeyPersistentRouting<String, UrlShardMessage>,
                queues::DefaultQueue<String, UrlShardMessage>,
            >::default();
            let arguments = FactoryArguments::builder()
                .worker_builder(Box::new(builder))
                .queue(Default::default())
                .router(Default::default())
                .num_initial_workers(shards)
                .build();
            let (actor, _) =
                ractor::Actor::spawn_linked(None, factory, arguments, supervisor).await?;
            slot.set(actor.clone());
            Ok(actor.get_cell())
        })
    });
    crate::supervisor::ChildSpec { name, start }
}
