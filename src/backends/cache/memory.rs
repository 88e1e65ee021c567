//! The in-process cache: right for one instance, since nothing here is shared with another
//! process. Values and unique-visitor sketches live in moka caches bounded by memory, hit
//! counters in per-minute maps, rate limits in [`TokenBuckets`], and invalidations go through a
//! tokio broadcast channel that reaches this process's subscribers only.

use super::hyperloglog::Sketch;
use super::token_bucket::TokenBuckets;
use crate::settings::CacheSettings;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use linkyard_actors::backends::cache::{
    self as port, Cache, CacheError, CacheValue, Invalidation, RateDecision,
};
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Invalidations a slow subscriber may fall behind by before it gets `Lagged`.
const INVALIDATION_BACKLOG: usize = 1024;
/// Bytes counted for each entry on top of its key and value, for the moka weighers.
const ENTRY_OVERHEAD: usize = 64;

/// Minute → link id → hits, for one scope.
type MinuteBuckets = BTreeMap<i64, HashMap<i64, u64>>;

pub struct MemoryCache {
    values: moka::sync::Cache<String, StoredValue>,
    invalidations: broadcast::Sender<Invalidation>,
    /// Hit counters per scope.
    // NOTE: this map is bounded by the retention, not by memory. At an estimated 16 bytes per
    // link and minute with hits, a million links hit every minute for a day take tens of GiB.
    hits: Mutex<HashMap<String, MinuteBuckets>>,
    hits_retention_minutes: u32,
    unique: moka::sync::Cache<(String, NaiveDate), Arc<UniqueEntry>>,
    unique_retention_days: u32,
    buckets: TokenBuckets,
    /// File where unique-visitor sketches are saved, so that a restart keeps them.
    snapshot: Option<PathBuf>,
}

/// How often the sketches are saved while the process runs; a crash loses at most this much.
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(300);
const SNAPSHOT_MAGIC: &[u8] = b"linkyard-unique-visitors-1\n";

#[derive(Clone)]
struct StoredValue {
    value: CacheValue,
    ttl: Duration,
}

struct UniqueEntry {
    sketch: Mutex<Sketch>,
    expires_at: DateTime<Utc>,
}

impl MemoryCache {
    pub fn new(settings: &CacheSettings) -> Self {
        let (invalidations, _) = broadcast::channel(INVALIDATION_BACKLOG);
        Self {
            values: value_cache(settings.memory_values_max_mib),
            invalidations,
            hits: Mutex::new(HashMap::new()),
            hits_retention_minutes: settings.hits_retention_minutes,
            unique: unique_cache(settings.memory_unique_max_mib),
            unique_retention_days: settings.unique_retention_days,
            buckets: TokenBuckets::new(
                settings.memory_rate_limit_max_keys,
                Duration::from_secs(settings.failure_log_interval_secs),
            ),
            snapshot: None,
        }
    }

    /// Like [`MemoryCache::new`], keeping unique-visitor sketches in `path` across restarts:
    /// they are loaded now, saved every [`SNAPSHOT_INTERVAL`] and when the cache is closed.
    pub fn with_snapshot(settings: &CacheSettings, path: PathBuf) -> Arc<Self> {
        let mut cache = Self::new(settings);
        cache.snapshot = Some(path.clone());
        match std::fs::read(&path) {
            Ok(bytes) => cache.restore(&bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "reading the unique-visitor snapshot failed")
            }
        }
        let cache = Arc::new(cache);
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(SNAPSHOT_INTERVAL);
            interval.tick().await;
            loop {
                interval.tick().await;
                let Some(cache) = weak.upgrade() else { return };
                cache.save_snapshot().await;
            }
        });
        cache
    }

    /// Writes every live sketch to the snapshot file, replacing it atomically.
    async fn save_snapshot(&self) {
        let Some(path) = self.snapshot.clone() else {
            return;
        };
        let bytes = self.encode_sketches();
        let written = tokio::task::spawn_blocking(move || write_atomically(&path, &bytes)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "saving the unique-visitor snapshot failed"),
            Err(error) => tracing::warn!(%error, "the unique-visitor snapshot task failed"),
        }
    }

    /// Encodes the sketches as the magic line, then per sketch: key length (u32), key, day
    /// (days since 1970-01-01, i32), sketch length (u32), sketch.
    fn encode_sketches(&self) -> Vec<u8> {
        let mut out = SNAPSHOT_MAGIC.to_vec();
        for (key, entry) in self.unique.iter() {
            let (name, day) = key.as_ref();
            let sketch = lock(&entry.sketch).to_bytes();
            let days = (*day - NaiveDate::default()).num_days() as i32;
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&days.to_le_bytes());
            out.extend_from_slice(&(sketch.len() as u32).to_le_bytes());
            out.extend_from_slice(&sketch);
        }
        out
    }

    /// Loads sketches written by [`MemoryCache::encode_sketches`], skipping expired ones and
    /// stopping at the first damaged record.
    fn restore(&self, bytes: &[u8]) {
        let Some(mut rest) = bytes.strip_prefix(SNAPSHOT_MAGIC) else {
            tracing::warn!("the unique-visitor snapshot has an unknown format; starting empty");
            return;
        };
        let mut restored = 0;
        while !rest.is_empty() {
            let Some((name, day, sketch, remaining)) = read_record(rest) else {
                tracing::warn!(
                    restored,
                    "the unique-visitor snapshot is damaged; keeping what was read"
                );
                return;
            };
            rest = remaining;
            if let Some(entry) = self.sketch_entry(&name, day) {
                lock(&entry.sketch).merge(&sketch);
                self.unique.insert((name, day), entry);
                restored += 1;
            }
        }
        tracing::info!(restored, "unique-visitor sketches restored");
    }

    fn sketch_entry(&self, key: &str, day: NaiveDate) -> Option<Arc<UniqueEntry>> {
        let expires_at = port::unique_expiry(day, self.unique_retention_days);
        if expires_at <= Utc::now() {
            return None;
        }
        let entry = self.unique.get_with((key.to_owned(), day), || {
            Arc::new(UniqueEntry {
                sketch: Mutex::new(Sketch::default()),
                expires_at,
            })
        });
        Some(entry)
    }
}

fn value_cache(max_mib: u64) -> moka::sync::Cache<String, StoredValue> {
    moka::sync::Cache::builder()
        .max_capacity(max_mib.saturating_mul(1024 * 1024))
        .weigher(|key: &String, stored: &StoredValue| {
            let size = match &stored.value {
                CacheValue::Present(bytes) => bytes.len(),
                CacheValue::Negative => 0,
            };
            weight(key.len() + size)
        })
        .expire_after(ValueExpiry)
        .build()
}

fn unique_cache(max_mib: u64) -> moka::sync::Cache<(String, NaiveDate), Arc<UniqueEntry>> {
    moka::sync::Cache::builder()
        .max_capacity(max_mib.saturating_mul(1024 * 1024))
        .weigher(|key: &(String, NaiveDate), entry: &Arc<UniqueEntry>| {
            weight(key.0.len() + lock(&entry.sketch).heap_bytes())
        })
        .expire_after(UniqueExpiry)
        .build()
}

fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct ValueExpiry;

impl moka::Expiry<String, StoredValue> for ValueExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        stored: &StoredValue,
        _now: Instant,
    ) -> Option<Duration> {
        Some(stored.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        stored: &StoredValue,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(stored.ttl)
    }
}

struct UniqueExpiry;

impl UniqueExpiry {
    fn remaining(entry: &UniqueEntry) -> Duration {
        (entry.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }
}

impl moka::Expiry<(String, NaiveDate), Arc<UniqueEntry>> for UniqueExpiry {
    fn expire_after_create(
        &self,
        _key: &(String, NaiveDate),
        entry: &Arc<UniqueEntry>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(Self::remaining(entry))
    }

    fn expire_after_update(
        &self,
        _key: &(String, NaiveDate),
        entry: &Arc<UniqueEntry>,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(Self::remaining(entry))
    }
}

#[async_trait]
impl Cache for MemoryCache {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<CacheValue>, CacheError> {
        port::validate_key(key)?;
        Ok(self.values.get(key).map(|stored| stored.value))
    }

    async fn set(&self, key: &str, value: &CacheValue, ttl: Duration) -> Result<(), CacheError> {
        port::validate_key(key)?;
        port::validate_entry(value, ttl)?;
        let stored = StoredValue {
            value: value.clone(),
            ttl,
        };
        self.values.insert(key.to_owned(), stored);
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &CacheValue,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        port::validate_key(key)?;
        port::validate_entry(value, ttl)?;
        let stored = StoredValue {
            value: value.clone(),
            ttl,
        };
        let entry = self.values.entry(key.to_owned()).or_insert(stored);
        Ok(entry.is_fresh())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        port::validate_key(key)?;
        self.values.invalidate(key);
        Ok(())
    }

    async fn publish_invalidation(&self, code: &str) -> Result<(), CacheError> {
        port::validate_key(code)?;
        // Sending fails only when there are no receivers, which is not an error.
        let _ = self.invalidations.send(Invalidation::Code(code.to_owned()));
        Ok(())
    }

    fn subscribe_invalidations(&self) -> broadcast::Receiver<Invalidation> {
        self.invalidations.subscribe()
    }

    async fn record_hits(
        &self,
        scope: &str,
        at: DateTime<Utc>,
        hits: &[(i64, u64)],
    ) -> Result<(), CacheError> {
        port::validate_key(scope)?;
        let minute = port::minute_of(at);
        let oldest = port::minute_of(Utc::now()) - i64::from(self.hits_retention_minutes);
        let mut scopes = lock(&self.hits);
        if minute > oldest {
            let bucket = scopes
                .entry(scope.to_owned())
                .or_default()
                .entry(minute)
                .or_default();
            for &(link_id, count) in hits {
                *bucket.entry(link_id).or_default() += count;
            }
        }
        for buckets in scopes.values_mut() {
            buckets.retain(|&bucket_minute, _| bucket_minute > oldest);
        }
        scopes.retain(|_, buckets| !buckets.is_empty());
        Ok(())
    }

    async fn top_hits(
        &self,
        scope: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<(i64, u64)>, CacheError> {
        port::validate_key(scope)?;
        let minutes = port::window_minutes(window, limit, self.hits_retention_minutes)?;
        let now = port::minute_of(Utc::now());
        let first = now - i64::from(minutes) + 1;

        let mut totals: HashMap<i64, u64> = HashMap::new();
        if let Some(buckets) = lock(&self.hits).get(scope) {
            for (_, bucket) in buckets.range(first..=now) {
                for (&link_id, &count) in bucket {
                    *totals.entry(link_id).or_default() += count;
                }
            }
        }

        let mut top: Vec<(i64, u64)> = totals.into_iter().collect();
        top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(limit);
        Ok(top)
    }

    async fn add_unique(
        &self,
        key: &str,
        day: NaiveDate,
        hashes: &[u64],
    ) -> Result<(), CacheError> {
        port::validate_key(key)?;
        let Some(entry) = self.sketch_entry(key, day) else {
            return Ok(());
        };

        let (before, after) = {
            let mut sketch = lock(&entry.sketch);
            let before = sketch.heap_bytes();
            for &hash in hashes {
                sketch.insert(hash);
            }
            (before, sketch.heap_bytes())
        };

        // moka weighs an entry when it is inserted, so a sketch that grew is inserted again
        // to count its new size against the budget.
        if after != before {
            self.unique.insert((key.to_owned(), day), entry);
        }
        Ok(())
    }

    async fn count_unique(
        &self,
        key: &str,
        days: RangeInclusive<NaiveDate>,
    ) -> Result<u64, CacheError> {
        port::validate_key(key)?;
        let mut union = Sketch::default();
        for day in port::days_of(&days)? {
            if let Some(entry) = self.unique.get(&(key.to_owned(), day)) {
                union.merge(&lock(&entry.sketch));
            }
        }
        Ok(union.count())
    }

    async fn take(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
        cost: u32,
    ) -> Result<RateDecision, CacheError> {
        port::validate_key(key)?;
        port::validate_bucket(capacity, refill_per_sec, cost)?;
        Ok(self.buckets.take(key, capacity, refill_per_sec, cost))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    async fn close(&self) {
        self.save_snapshot().await;
    }
}

fn read_record(bytes: &[u8]) -> Option<(String, NaiveDate, Sketch, &[u8])> {
    let (name_len, rest) = read_u32(bytes)?;
    let name = std::str::from_utf8(rest.get(..name_len as usize)?)
        .ok()?
        .to_owned();
    let rest = &rest[name_len as usize..];
    let (days, rest) = read_u32(rest)?;
    let day =
        NaiveDate::default().checked_add_signed(chrono::Duration::days(i64::from(days as i32)))?;
    let (sketch_len, rest) = read_u32(rest)?;
    let sketch = Sketch::from_bytes(rest.get(..sketch_len as usize)?)?;
    Some((name, day, sketch, &rest[sketch_len as usize..]))
}

fn read_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let word: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some((u32::from_le_bytes(word), &bytes[4..]))
}

/// Writes to a temporary file, syncs it and renames it over `path`.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
