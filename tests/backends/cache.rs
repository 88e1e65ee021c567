//! The cache port's contract, run against the in-process cache and against Redis (at
//! `LINKYARD_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`; skipped with one line when it is
//! unreachable). Each Redis test uses its own key prefix and deletes its keys at the end. Every
//! key the cache writes also has an expiry, so a failed test leaves nothing behind for long.
//! The outage test starts and kills a redis-server of its own on a free port.

use super::support::eventually;
use super::support::redis::OwnRedis;
use bytes::Bytes;
use chrono::{Duration as Days, Utc};
use linkyard::backends::cache::memory::MemoryCache;
use linkyard::backends::cache::redis::RedisCache;
use linkyard::settings::{CacheBackend, CacheSettings, Settings};
use linkyard_actors::backends::cache::{Cache, CacheError, CacheValue, Invalidation};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(5);

fn settings() -> CacheSettings {
    let mut settings = Settings::embedded_defaults().expect("defaults parse").cache;
    settings.key_prefix = format!("linkyard-test-{:016x}:", rand::random::<u64>());
    settings.failure_log_interval_secs = 3600;
    settings
}

fn memory_cache() -> MemoryCache {
    MemoryCache::new(&settings())
}

fn redis_url() -> String {
    std::env::var("LINKYARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Connects to the test Redis with a fresh prefix, or returns `None` (printing one line per
/// test binary) when it is unreachable.
async fn redis_cache() -> Option<RedisCache> {
    let url = redis_url();
    let address = url::Url::parse(&url)
        .ok()
        .and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port().unwrap_or(6379)
            ))
        })
        .and_then(|address| address.parse::<SocketAddr>().ok());
    let reachable = address.is_some_and(|address| {
        TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
    });
    if !reachable {
        static SKIPPED: Once = Once::new();
        SKIPPED.call_once(|| eprintln!("skipped: Redis at {url} is unreachable"));
        return None;
    }
    let mut settings = settings();
    settings.backend = CacheBackend::Redis;
    settings.redis_url = url;
    Some(connect(&settings).await)
}

async fn connect(settings: &CacheSettings) -> RedisCache {
    RedisCache::connect(settings)
        .await
        .expect("redis settings are valid")
}

/// Deletes the test's keys and closes the connections.
async fn clean_up(cache: RedisCache) {
    cache
        .delete_prefixed_keys()
        .await
        .expect("test keys deleted");
    cache.close().await;
}

/// Runs a contract check against both implementations.
macro_rules! contract {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test]
            async fn memory() {
                super::$check(&super::memory_cache()).await;
            }

            #[tokio::test]
            async fn redis() {
                let Some(cache) = super::redis_cache().await else { return };
                super::$check(&cache).await;
                super::clean_up(cache).await;
            }
        }
    )*};
}

contract!(
    values_round_trip,
    set_if_absent_keeps_existing_entries,
    entries_expire,
    invalid_arguments_are_rejected,
    top_hits_cover_the_window,
    unique_counts_are_accurate,
    token_bucket_limits_bursts,
);

async fn values_round_trip(cache: &dyn Cache) {
    let value = CacheValue::Present(Bytes::from_static(b"\x00\x01link record"));
    let ttl = Duration::from_secs(60);
    assert_eq!(cache.get("abc").await.expect("get"), None);

    cache.set("abc", &value, ttl).await.expect("set");
    assert_eq!(cache.get("abc").await.expect("get"), Some(value.clone()));

    cache
        .set("missing", &CacheValue::Negative, ttl)
        .await
        .expect("set negative");
    assert_eq!(
        cache.get("missing").await.expect("get"),
        Some(CacheValue::Negative)
    );

    let empty = CacheValue::Present(Bytes::new());
    cache.set("empty", &empty, ttl).await.expect("set empty");
    assert_eq!(cache.get("empty").await.expect("get"), Some(empty));

    cache.delete("abc").await.expect("delete");
    assert_eq!(cache.get("abc").await.expect("get"), None);
    cache.delete("abc").await.expect("deleting a missing entry");
    assert_eq!(
        cache.get("missing").await.expect("get"),
        Some(CacheValue::Negative)
    );
    cache.ping().await.expect("ping");
}

async fn set_if_absent_keeps_existing_entries(cache: &dyn Cache) {
    let ttl = Duration::from_secs(60);
    let first = CacheValue::Present(Bytes::from_static(b"first"));
    let second = CacheValue::Present(Bytes::from_static(b"second"));
    assert!(
        cache
            .set_if_absent("fill", &first, ttl)
            .await
            .expect("fill")
    );
    assert!(
        !cache
            .set_if_absent("fill", &second, ttl)
            .await
            .expect("second fill")
    );
    assert_eq!(cache.get("fill").await.expect("get"), Some(first.clone()));

    cache
        .set("tomb", &CacheValue::Negative, ttl)
        .await
        .expect("tombstone");
    assert!(
        !cache
            .set_if_absent("tomb", &second, ttl)
            .await
            .expect("fill over tombstone")
    );
    assert_eq!(
        cache.get("tomb").await.expect("get"),
        Some(CacheValue::Negative)
    );

    let short = Duration::from_millis(50);
    assert!(
        cache
            .set_if_absent("brief", &first, short)
            .await
            .expect("fill")
    );
    let refilled = eventually(Duration::from_secs(5), || async {
        cache
            .set_if_absent("brief", &second, ttl)
            .await
            .expect("fill after expiry")
            .then_some(())
    })
    .await;
    assert!(
        refilled.is_some(),
        "an expired entry no longer blocks a fill"
    );
}

async fn entries_expire(cache: &dyn Cache) {
    let value = CacheValue::Present(Bytes::from_static(b"short-lived"));
    cache
        .set("brief", &value, Duration::from_millis(150))
        .await
        .expect("set");
    cache
        .set("lasting", &value, Duration::from_secs(60))
        .await
        .expect("set");
    assert_eq!(cache.get("brief").await.expect("get"), Some(value.clone()));

    let expired = eventually(WAIT, || async {
        cache
            .get("brief")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(expired.is_some(), "the entry outlived its ttl");
    assert_eq!(cache.get("lasting").await.expect("get"), Some(value));
}

async fn invalid_arguments_are_rejected(cache: &dyn Cache) {
    let code = |result: Result<(), CacheError>| result.err().map(|error| error.code());
    let value = CacheValue::Present(Bytes::from_static(b"v"));
    let huge = CacheValue::Present(Bytes::from(vec![0u8; 64 * 1024 + 1]));
    let second = Duration::from_secs(1);

    assert_eq!(
        code(cache.set("", &value, second).await),
        Some("invalid_cache_key")
    );
    assert_eq!(
        code(cache.set("k", &huge, second).await),
        Some("invalid_cache_argument")
    );
    assert_eq!(
        code(cache.set("k", &value, Duration::ZERO).await),
        Some("invalid_cache_argument")
    );
    assert_eq!(
        code(cache.get(&"k".repeat(513)).await.map(|_| ())),
        Some("invalid_cache_key")
    );
    let top = cache
        .top_hits("owner-1", Duration::from_secs(60), 0)
        .await
        .map(|_| ());
    assert_eq!(code(top), Some("invalid_cache_argument"));
    let too_long = cache
        .top_hits("owner-1", Duration::from_secs(86_400 * 2), 10)
        .await
        .map(|_| ());
    assert_eq!(code(too_long), Some("invalid_cache_argument"));
    let bucket = cache.take("client", 5, 1.0, 6).await.map(|_| ());
    assert_eq!(code(bucket), Some("invalid_cache_argument"));
    let today = Utc::now().date_naive();
    let backwards = cache
        .count_unique("k", today..=today - Days::days(1))
        .await
        .map(|_| ());
    assert_eq!(code(backwards), Some("invalid_cache_argument"));
}

async fn top_hits_cover_the_window(cache: &dyn Cache) {
    let now = Utc::now();
    cache
        .record_hits("owner-1", now, &[(1, 5), (2, 10), (3, 1)])
        .await
        .expect("record");
    cache
        .record_hits("owner-1", now, &[(1, 2)])
        .await
        .expect("record again");
    cache
        .record_hits("owner-1", now - Days::minutes(10), &[(3, 100)])
        .await
        .expect("record earlier");
    cache
        .record_hits("owner-1", now - Days::days(3), &[(4, 1000)])
        .await
        .expect("record expired");

    let five_minutes = Duration::from_secs(300);
    let recent = cache
        .top_hits("owner-1", five_minutes, 10)
        .await
        .expect("top");
    assert_eq!(recent, [(2, 10), (1, 7), (3, 1)]);

    let quarter = cache
        .top_hits("owner-1", Duration::from_secs(900), 2)
        .await
        .expect("top");
    assert_eq!(quarter, [(3, 101), (2, 10)]);

    cache
        .record_hits("owner-2", now, &[(9, 50)])
        .await
        .expect("record another scope");
    let other = cache
        .top_hits("owner-2", five_minutes, 10)
        .await
        .expect("top of another scope");
    assert_eq!(other, [(9, 50)], "scopes keep their own counters");
    let first = cache
        .top_hits("owner-1", five_minutes, 10)
        .await
        .expect("top");
    assert_eq!(first, [(2, 10), (1, 7), (3, 1)]);

    let day = cache
        .top_hits("owner-1", Duration::from_secs(86_400), 10)
        .await
        .expect("top");
    assert!(
        day.iter().all(|(link_id, _)| *link_id != 4),
        "hits past retention: {day:?}"
    );
}

/// Distinct, evenly spread values to stand in for visitor hashes.
fn visitors(range: std::ops::Range<u64>) -> Vec<u64> {
    range
        .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect()
}

async fn unique_counts_are_accurate(cache: &dyn Cache) {
    let today = Utc::now().date_naive();
    let yesterday = today - Days::days(1);

    for n in [1u64, 7, 60] {
        let key = format!("small-{n}");
        cache
            .add_unique(&key, today, &visitors(0..n))
            .await
            .expect("add");
        cache
            .add_unique(&key, today, &visitors(0..n))
            .await
            .expect("add again");
        let count = cache
            .count_unique(&key, today..=today)
            .await
            .expect("count");
        assert!(count.abs_diff(n) <= 1, "{n} visitors counted as {count}");
    }

    for chunk in visitors(0..10_000).chunks(1000) {
        cache.add_unique("large", today, chunk).await.expect("add");
    }
    let count = cache
        .count_unique("large", today..=today)
        .await
        .expect("count");
    let error = count.abs_diff(10_000) as f64 / 10_000.0;
    assert!(error < 0.02, "10000 visitors counted as {count}");

    cache
        .add_unique("days", yesterday, &visitors(0..300))
        .await
        .expect("add");
    cache
        .add_unique("days", today, &visitors(200..400))
        .await
        .expect("add");
    let both = cache
        .count_unique("days", yesterday..=today)
        .await
        .expect("count");
    assert!(
        both.abs_diff(400) <= 4,
        "400 visitors over two days counted as {both}"
    );
    let today_only = cache
        .count_unique("days", today..=today)
        .await
        .expect("count");
    assert!(
        today_only.abs_diff(200) <= 2,
        "200 visitors today counted as {today_only}"
    );

    let expired_day = today - Days::days(400);
    cache
        .add_unique("old", expired_day, &visitors(0..10))
        .await
        .expect("add");
    let old = cache
        .count_unique("old", expired_day..=expired_day)
        .await
        .expect("count");
    assert_eq!(old, 0, "a day past retention is not kept");
    assert_eq!(
        cache
            .count_unique("nobody", today..=today)
            .await
            .expect("count"),
        0
    );
}

async fn token_bucket_limits_bursts(cache: &dyn Cache) {
    for expected in [2, 1, 0] {
        let decision = cache.take("client", 3, 5.0, 1).await.expect("take");
        assert!(decision.allowed, "burst within capacity");
        assert_eq!(decision.remaining, expected);
        assert_eq!(decision.retry_after, Duration::ZERO);
    }

    let denied = cache.take("client", 3, 5.0, 1).await.expect("take");
    let denied_at = Instant::now();
    assert!(
        !denied.allowed,
        "a fourth request right away must be denied"
    );
    assert_eq!(denied.remaining, 0);
    assert!(
        denied.retry_after > Duration::from_millis(100),
        "{:?}",
        denied.retry_after
    );
    assert!(
        denied.retry_after <= Duration::from_millis(200),
        "{:?}",
        denied.retry_after
    );
    assert!(
        denied.reset_after > Duration::from_millis(500),
        "{:?}",
        denied.reset_after
    );

    let other = cache.take("other-client", 3, 5.0, 1).await.expect("take");
    assert!(other.allowed, "buckets are per key");

    let refilled = eventually(WAIT, || async {
        cache
            .take("client", 3, 5.0, 1)
            .await
            .expect("take")
            .allowed
            .then_some(())
    })
    .await;
    assert!(refilled.is_some(), "the bucket never refilled");
    let waited = denied_at.elapsed();
    assert!(
        waited >= Duration::from_millis(80),
        "refilled after only {waited:?}"
    );

    let first = cache.take("weighted", 10, 1.0, 4).await.expect("take");
    let second = cache.take("weighted", 10, 1.0, 4).await.expect("take");
    let third = cache.take("weighted", 10, 1.0, 4).await.expect("take");
    assert_eq!((first.allowed, first.remaining), (true, 6));
    assert_eq!((second.allowed, second.remaining), (true, 2));
    assert!(!third.allowed, "cost 4 with 2 tokens left must be denied");
    assert!(
        third.retry_after > Duration::from_millis(1900),
        "{:?}",
        third.retry_after
    );
    assert!(
        third.retry_after <= Duration::from_secs(2),
        "{:?}",
        third.retry_after
    );

    let trickle = 1e-12;
    let once = cache.take("trickle", 1, trickle, 1).await.expect("take");
    let again = cache.take("trickle", 1, trickle, 1).await.expect("take");
    assert!(once.allowed, "a new bucket is full");
    assert!(
        !again.allowed,
        "a token a million years must not be back yet"
    );
    let year = Duration::from_secs(365 * 24 * 3600);
    assert!(again.retry_after > year, "{:?}", again.retry_after);
}

#[tokio::test]
async fn redis_rejects_invalid_settings() {
    let mut settings = settings();
    settings.redis_url = "http://127.0.0.1:6379".to_owned();
    let url = RedisCache::connect(&settings).await.err();
    assert_eq!(
        url.as_ref().map(CacheError::code),
        Some("invalid_cache_argument")
    );
    assert!(url.is_some_and(|error| error.to_string().contains("cache.redis_url")));

    let mut settings = self::settings();
    settings.command_timeout_ms = 0;
    let timeout = RedisCache::connect(&settings).await.err();
    assert!(timeout.is_some_and(|error| error.to_string().contains("command_timeout_ms")));
}

/// Waits for `code` on `receiver`, skipping [`Invalidation::All`] announcements.
async fn receive_code(receiver: &mut broadcast::Receiver<Invalidation>, code: &str) -> bool {
    let expected = Invalidation::Code(code.to_owned());
    let receive = async {
        loop {
            match receiver.recv().await {
                Ok(invalidation) if invalidation == expected => return true,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    };
    tokio::time::timeout(WAIT, receive).await.unwrap_or(false)
}

#[tokio::test]
async fn memory_invalidations_reach_every_subscriber_in_process() {
    let cache = memory_cache();
    let other_process = memory_cache();
    let mut first = cache.subscribe_invalidations();
    let mut second = cache.subscribe_invalidations();
    let mut elsewhere = other_process.subscribe_invalidations();

    cache.publish_invalidation("abc123").await.expect("publish");
    assert!(receive_code(&mut first, "abc123").await);
    assert!(receive_code(&mut second, "abc123").await);
    assert!(
        elsewhere.try_recv().is_err(),
        "another instance must not hear it"
    );
}

#[tokio::test]
async fn redis_invalidations_reach_other_instances() {
    let Some(publisher) = redis_cache().await else {
        return;
    };
    let mut settings = settings();
    settings.backend = CacheBackend::Redis;
    settings.redis_url = redis_url();
    let other_deployment = connect(&settings).await;
    settings.key_prefix = publisher.prefix().to_owned();
    let instance = connect(&settings).await;

    let mut own = publisher.subscribe_invalidations();
    let mut remote = instance.subscribe_invalidations();
    let mut unrelated = other_deployment.subscribe_invalidations();
    publisher
        .publish_invalidation("abc123")
        .await
        .expect("publish");

    assert!(
        receive_code(&mut remote, "abc123").await,
        "the second instance missed it"
    );
    assert!(
        receive_code(&mut own, "abc123").await,
        "the publisher's own subscribers missed it"
    );
    let leaked = tokio::time::timeout(Duration::from_millis(300), unrelated.recv()).await;
    assert!(
        !matches!(leaked, Ok(Ok(Invalidation::Code(_)))),
        "another prefix must not hear it"
    );

    instance.close().await;
    clean_up(other_deployment).await;
    clean_up(publisher).await;
}

/// Log output captured for one test.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn count(&self, needle: &str) -> usize {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8_lossy(&bytes).matches(needle).count()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// One cache call, boxed so that calls with different outputs fit in one list.
type Call<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), CacheError>> + 'a>>;

/// Calls every operation once and checks that each fails fast with a Redis outage.
async fn assert_every_call_fails_fast(cache: &RedisCache) {
    let today = Utc::now().date_naive();
    let value = CacheValue::Present(Bytes::from_static(b"v"));
    let second = Duration::from_secs(1);
    let calls: Vec<(&str, Call<'_>)> = vec![
        ("get", Box::pin(async { cache.get("k").await.map(|_| ()) })),
        ("set", Box::pin(cache.set("k", &value, second))),
        ("delete", Box::pin(cache.delete("k"))),
        ("publish", Box::pin(cache.publish_invalidation("k"))),
        (
            "record hits",
            Box::pin(cache.record_hits("owner-1", Utc::now(), &[(1, 1)])),
        ),
        (
            "top hits",
            Box::pin(async { cache.top_hits("owner-1", second * 60, 5).await.map(|_| ()) }),
        ),
        (
            "add unique",
            Box::pin(cache.add_unique("k", today, &[1, 2])),
        ),
        (
            "count unique",
            Box::pin(async { cache.count_unique("k", today..=today).await.map(|_| ()) }),
        ),
        (
            "take",
            Box::pin(async { cache.take("k", 5, 1.0, 1).await.map(|_| ()) }),
        ),
        ("ping", Box::pin(cache.ping())),
    ];
    for (name, call) in calls {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{name} took {elapsed:?}");
        match result {
            Err(CacheError::Unavailable { backend, .. }) => assert_eq!(backend, "redis", "{name}"),
            other => panic!("{name} returned {other:?} with Redis down"),
        }
    }
}

#[tokio::test]
async fn redis_outage_fails_fast_and_recovers() {
    let Some(mut server) = OwnRedis::start() else {
        return;
    };
    let mut settings = settings();
    settings.backend = CacheBackend::Redis;
    settings.redis_url = server.url();
    settings.reconnect_max_delay_ms = 500;
    let cache = connect(&settings).await;
    let mut invalidations = cache.subscribe_invalidations();
    cache.ping().await.expect("redis is up");

    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _capture = tracing::subscriber::set_default(subscriber);

    server.kill();
    assert_every_call_fails_fast(&cache).await;
    assert_every_call_fails_fast(&cache).await;
    assert_eq!(
        logs.count("redis cache call failed"),
        1,
        "failures are logged once per interval"
    );

    server.restart().expect("redis-server restarts");
    let recovered = eventually(Duration::from_secs(15), || async {
        cache.ping().await.ok()
    })
    .await;
    assert!(recovered.is_some(), "the client did not reconnect");
    assert_eq!(logs.count("redis cache calls succeed again"), 1);

    let resubscribed = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Invalidation::All) = invalidations.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(
        resubscribed.is_ok(),
        "no Invalidation::All after resubscribing"
    );
    cache
        .publish_invalidation("after-restart")
        .await
        .expect("publish");
    assert!(
        receive_code(&mut invalidations, "after-restart").await,
        "pub/sub did not resume"
    );

    cache.close().await;
}
