//! The Redis cache, shared by every instance: a pool of fred clients for commands and one more
//! client for the invalidation subscription.
//!
//! A dead or slow Redis must never hold up a redirect. So a call on a disconnected client fails
//! at once, every command has a short timeout and is sent once, and the clients reconnect in the
//! background with exponential backoff. Failures are logged once per interval. Every key and the
//! invalidation channel start with the configured prefix:
//!
//! | key | type | contents |
//! |---|---|---|
//! | `{prefix}v:{key}` | string | a [`CacheValue`]: `0x00` for a negative entry, `0x01` + bytes |
//! | `{prefix}hits:{minute}` | sorted set | link id → hits in that minute since the Unix epoch |
//! | `{prefix}uv:{key}:{yyyymmdd}` | HyperLogLog | visitor hashes of one day |
//! | `{prefix}rl:{key}` | hash | a token bucket: `tokens`, `updated_us` |
//! | `{prefix}invalidate` | channel | changed link codes |

use super::log_throttle::LogThrottle;
use crate::settings::CacheSettings;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use fred::prelude::{
    Builder, Client, ClientLike, Config, Error as RedisError, EventInterface, Expiration,
    FromValue, HyperloglogInterface, KeysInterface, LuaInterface, Pool, PubsubInterface,
    ReconnectPolicy, SetOptions, SortedSetsInterface, Value,
};
use fred::types::config::UnresponsiveConfig;
use linkyard_actors::backends::cache::{
    self as port, Cache, CacheError, CacheValue, Invalidation, RateDecision,
};
use std::future::Future;
use std::ops::RangeInclusive;
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

const BACKEND: &str = "redis";
const NEGATIVE_TAG: u8 = 0;
const PRESENT_TAG: u8 = 1;
/// Invalidations a slow subscriber may fall behind by before it gets `Lagged`.
const INVALIDATION_BACKLOG: usize = 1024;
/// Time the outer timeout allows beyond the command timeout, so that fred's own timeout,
/// which cancels the command cleanly, normally fires first.
const TIMEOUT_SLACK: Duration = Duration::from_millis(50);

/// Token bucket in one round trip, timed by the server's clock so that instances with skewed
/// clocks share buckets correctly. KEYS[1] is the bucket, and ARGV is capacity, refill per second
/// and cost. Returns allowed (0 or 1), whole tokens left, microseconds until `cost` tokens are
/// available and microseconds until the bucket is full, both capped at 2^53 so that they stay
/// exact integers. A full bucket is deleted, because a missing bucket counts as full. The expiry
/// is capped at a year, which only matters for rates below one token a year.
const TOKEN_BUCKET_LUA: &str = r#"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated_us')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate / 1000000)
end
local max_us = 9007199254740992
local allowed = 0
local retry_us = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_us = math.min(max_us, math.ceil((cost - tokens) * 1000000 / rate))
end
local full_us = math.min(max_us, math.ceil((capacity - tokens) * 1000000 / rate))
if full_us > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'updated_us', now)
  redis.call('PEXPIRE', KEYS[1], math.min(math.ceil(full_us / 1000) + 1000, 31536000000))
else
  redis.call('DEL', KEYS[1])
end
return {allowed, math.floor(tokens), retry_us, full_us}
"#;

/// Sums minute buckets and returns the top members with their scores, atomically and without
/// leaving the temporary union behind. KEYS are the buckets, then the temporary key, and ARGV[1]
/// is the limit.
const TOP_HITS_LUA: &str = r#"
local union = KEYS[#KEYS]
redis.call('ZUNIONSTORE', union, #KEYS - 1, unpack(KEYS, 1, #KEYS - 1))
local top = redis.call('ZREVRANGE', union, 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
redis.call('DEL', union)
return top
"#;

pub struct RedisCache {
    pool: Pool,
    subscriber: Client,
    prefix: String,
    channel: String,
    /// The server URL with its password redacted, for logs.
    server: String,
    command_timeout: Duration,
    invalidations: broadcast::Sender<Invalidation>,
    failures: LogThrottle,
    log_interval: Duration,
    token_bucket: LuaScript,
    top_hits: LuaScript,
    hits_retention_minutes: u32,
    unique_retention_days: u32,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A Lua script run with EVALSHA, loaded with SCRIPT LOAD on first use and again whenever the
/// server replies NOSCRIPT (after a restart or SCRIPT FLUSH).
struct LuaScript {
    source: &'static str,
    sha: RwLock<Option<String>>,
}

impl LuaScript {
    const fn new(source: &'static str) -> Self {
        Self {
            source,
            sha: RwLock::new(None),
        }
    }

    async fn run<R: FromValue>(
        &self,
        client: &Client,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<R, RedisError> {
        let known = self
            .sha
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let sha = match known {
            Some(sha) => sha,
            None => self.load(client).await?,
        };
        match client.evalsha(sha, keys.clone(), args.clone()).await {
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                let sha = self.load(client).await?;
                client.evalsha(sha, keys, args).await
            }
            result => result,
        }
    }

    async fn load(&self, client: &Client) -> Result<String, RedisError> {
        let sha: String = client.script_load(self.source).await?;
        *self
            .sha
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(sha.clone());
        Ok(sha)
    }
}

impl RedisCache {
    /// Creates the clients and waits up to `connect_timeout_ms` for them to connect and
    /// subscribe. If Redis is not reachable by then, it logs a warning and returns anyway. The
    /// clients keep reconnecting, calls fail fast meanwhile and `/readyz` reports the outage.
    pub async fn connect(settings: &CacheSettings) -> Result<Self, CacheError> {
        let server = redact(&settings.redis_url);
        let builder = builder(settings, &server)?;
        let invalid = |error: RedisError| invalid_url(&server, &error);
        let pool = builder.build_pool(settings.pool_size).map_err(invalid)?;
        let subscriber = builder.build().map_err(invalid)?;
        let (invalidations, _) = broadcast::channel(INVALIDATION_BACKLOG);
        let log_interval = Duration::from_secs(settings.failure_log_interval_secs);

        let cache = Self {
            channel: format!("{}invalidate", settings.key_prefix),
            prefix: settings.key_prefix.clone(),
            server,
            command_timeout: Duration::from_millis(settings.command_timeout_ms),
            invalidations,
            failures: LogThrottle::new(log_interval),
            log_interval,
            token_bucket: LuaScript::new(TOKEN_BUCKET_LUA),
            top_hits: LuaScript::new(TOP_HITS_LUA),
            hits_retention_minutes: settings.hits_retention_minutes,
            unique_retention_days: settings.unique_retention_days,
            tasks: Mutex::new(Vec::new()),
            pool,
            subscriber,
        };
        cache
            .start(Duration::from_millis(settings.connect_timeout_ms))
            .await;
        Ok(cache)
    }

    /// Starts the subscription tasks and the connections, then waits for the subscription.
    async fn start(&self, connect_timeout: Duration) {
        let (subscribed_tx, mut subscribed) = tokio::sync::watch::channel(false);
        let follow = tokio::spawn(follow_reconnects(
            self.subscriber.clone(),
            self.channel.clone(),
            self.invalidations.clone(),
            subscribed_tx,
        ));
        let forward = tokio::spawn(forward_messages(
            self.subscriber.message_rx(),
            self.channel.clone(),
            self.invalidations.clone(),
        ));
        drop(self.pool.connect());
        drop(self.subscriber.connect());
        lock(&self.tasks).extend([follow, forward]);

        let ready = async {
            let pool = self.pool.wait_for_connect().await;
            let subscription = subscribed.wait_for(|done| *done).await.map(|_| ());
            pool.is_ok() && subscription.is_ok()
        };
        if !matches!(tokio::time::timeout(connect_timeout, ready).await, Ok(true)) {
            self.failures.failure();
            tracing::warn!(
                backend = BACKEND,
                server = %self.server,
                timeout_ms = connect_timeout.as_millis() as u64,
                "redis is not reachable yet, reconnecting in the background"
            );
        }
    }

    /// Returns the prefix of every key and of the invalidation channel.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, space: &str, key: &str) -> String {
        format!("{}{space}:{key}", self.prefix)
    }

    /// Runs a command on a connected pool client within the command timeout, turning every
    /// failure into [`CacheError::Unavailable`].
    async fn run<T, F, Fut>(&self, operation: &'static str, command: F) -> Result<T, CacheError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let client = self.pool.next_connected();
        if !client.is_connected() {
            return Err(self.failed(operation, "not connected, reconnecting in the background"));
        }
        let outcome = tokio::time::timeout(
            self.command_timeout + TIMEOUT_SLACK,
            command(client.clone()),
        )
        .await;
        match outcome {
            Ok(Ok(value)) => {
                self.succeeded();
                Ok(value)
            }
            Ok(Err(error)) => Err(self.failed(operation, &error.to_string())),
            Err(_) => {
                let message = format!("timed out after {} ms", self.command_timeout.as_millis());
                Err(self.failed(operation, &message))
            }
        }
    }

    fn failed(&self, operation: &'static str, message: &str) -> CacheError {
        if let Some(suppressed) = self.failures.failure() {
            tracing::warn!(
                backend = BACKEND,
                server = %self.server,
                operation,
                error = message,
                suppressed,
                interval_secs = self.log_interval.as_secs(),
                "redis cache call failed, repeats are logged once per interval"
            );
        }
        CacheError::Unavailable {
            backend: BACKEND,
            operation,
            message: message.to_owned(),
        }
    }

    fn succeeded(&self) {
        if let Some(suppressed) = self.failures.success() {
            tracing::info!(
                backend = BACKEND,
                server = %self.server,
                suppressed,
                "redis cache calls succeed again"
            );
        }
    }

    /// Deletes every key under this cache's prefix with SCAN and DEL, and returns how many
    /// it deleted. Tests use it to clean up; operators can use it to empty a deployment's cache.
    pub async fn delete_prefixed_keys(&self) -> Result<u64, CacheError> {
        let pattern = format!("{}*", escape_glob(&self.prefix));
        let mut cursor = "0".to_owned();
        let mut deleted = 0;
        loop {
            let page = (cursor.clone(), pattern.clone());
            let (next, keys): (String, Vec<String>) = self
                .run("scan", |client| async move {
                    client.scan_page(page.0, page.1, Some(500), None).await
                })
                .await?;
            if !keys.is_empty() {
                let count: u64 = self
                    .run(
                        "delete keys",
                        |client| async move { client.del(keys).await },
                    )
                    .await?;
                deleted += count;
            }
            if next == "0" {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

fn builder(settings: &CacheSettings, server: &str) -> Result<Builder, CacheError> {
    check_limits(settings)?;
    let scheme = url::Url::parse(&settings.redis_url).map(|url| url.scheme().to_owned());
    if scheme.as_deref() != Ok("redis") {
        return Err(CacheError::InvalidArgument {
            name: "cache.redis_url",
            value: server.to_owned(),
            reason: "use redis://host:port (this build has no TLS or Unix socket support)"
                .to_owned(),
        });
    }
    let mut config =
        Config::from_url(&settings.redis_url).map_err(|error| invalid_url(server, &error))?;
    // Keep retrying the first connection too, so that an instance starts while Redis is down.
    config.fail_fast = false;

    let command_timeout = Duration::from_millis(settings.command_timeout_ms);
    let connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
    let mut builder = Builder::from_config(config);
    builder
        .with_connection_config(|connection| {
            connection.connection_timeout = connect_timeout;
            connection.internal_command_timeout = connect_timeout;
            // Sent once: a retried ZINCRBY or token bucket call could count twice.
            connection.max_command_attempts = 1;
            // A connection on which a command has waited this long is closed and reopened.
            connection.unresponsive = UnresponsiveConfig {
                max_timeout: Some((command_timeout * 4).max(Duration::from_secs(1))),
                interval: Duration::from_millis(250),
            };
        })
        .with_performance_config(|performance| {
            performance.default_command_timeout = command_timeout;
            performance.broadcast_channel_capacity = INVALIDATION_BACKLOG;
        })
        .set_policy(ReconnectPolicy::new_exponential(
            0,
            settings.reconnect_min_delay_ms,
            settings.reconnect_max_delay_ms,
            2,
        ));
    Ok(builder)
}

/// Rejects settings that would disable a safeguard: a zero command timeout turns fred's timeout
/// off, and an empty pool has no client to run commands on.
fn check_limits(settings: &CacheSettings) -> Result<(), CacheError> {
    let invalid = |name: &'static str, value: String, reason: &str| CacheError::InvalidArgument {
        name,
        value,
        reason: reason.to_owned(),
    };
    if settings.command_timeout_ms == 0 {
        let reason = "use at least 1 ms, such as the default 250";
        return Err(invalid("cache.command_timeout_ms", "0".to_owned(), reason));
    }
    if settings.pool_size == 0 {
        return Err(invalid("cache.pool_size", "0".to_owned(), "use at least 1"));
    }
    if settings.reconnect_min_delay_ms > settings.reconnect_max_delay_ms {
        let value = settings.reconnect_min_delay_ms.to_string();
        let reason = "use at most cache.reconnect_max_delay_ms";
        return Err(invalid("cache.reconnect_min_delay_ms", value, reason));
    }
    Ok(())
}

fn invalid_url(server: &str, error: &RedisError) -> CacheError {
    CacheError::InvalidArgument {
        name: "cache.redis_url",
        value: server.to_owned(),
        reason: format!("{}; use redis://host:port", error.details()),
    }
}

/// Returns the Redis URL with its password replaced by `redacted`, for logs and errors.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// Escapes the glob characters of a Redis MATCH pattern.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Subscribes to the invalidation channel on every connection and reconnection of the
/// subscriber, because a new connection has no subscriptions. Then it announces
/// [`Invalidation::All`], because messages sent while the subscriber was disconnected are lost.
async fn follow_reconnects(
    subscriber: Client,
    channel: String,
    invalidations: broadcast::Sender<Invalidation>,
    subscribed: tokio::sync::watch::Sender<bool>,
) {
    let mut reconnects = subscriber.reconnect_rx();
    loop {
        match reconnects.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
        if let Err(error) = subscriber.subscribe(channel.clone()).await {
            // The connection failed again; the next reconnection retries.
            tracing::warn!(backend = BACKEND, %error, "subscribing to redis invalidations failed");
            continue;
        }
        tracing::info!(
            backend = BACKEND,
            channel,
            "subscribed to redis invalidations"
        );
        let _ = invalidations.send(Invalidation::All);
        subscribed.send_replace(true);
    }
}

/// Forwards messages on the invalidation channel to this cache's subscribers.
async fn forward_messages(
    mut messages: broadcast::Receiver<fred::types::Message>,
    channel: String,
    invalidations: broadcast::Sender<Invalidation>,
) {
    loop {
        let message = match messages.recv().await {
            Ok(message) => message,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    backend = BACKEND,
                    missed,
                    "redis invalidations were dropped; invalidating everything"
                );
                let _ = invalidations.send(Invalidation::All);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if *message.channel != *channel {
            continue;
        }
        match message.value.as_string() {
            Some(code) => {
                let _ = invalidations.send(Invalidation::Code(code));
            }
            None => tracing::warn!(
                backend = BACKEND,
                channel,
                "ignored an invalidation that is not a string"
            ),
        }
    }
}

fn encode(value: &CacheValue) -> Bytes {
    match value {
        CacheValue::Negative => Bytes::from_static(&[NEGATIVE_TAG]),
        CacheValue::Present(bytes) => {
            let mut encoded = Vec::with_capacity(bytes.len() + 1);
            encoded.push(PRESENT_TAG);
            encoded.extend_from_slice(bytes);
            Bytes::from(encoded)
        }
    }
}

fn decode(key: &str, stored: Bytes) -> Option<CacheValue> {
    match stored.first() {
        Some(&NEGATIVE_TAG) if stored.len() == 1 => Some(CacheValue::Negative),
        Some(&PRESENT_TAG) => Some(CacheValue::Present(stored.slice(1..))),
        _ => {
            tracing::warn!(
                backend = BACKEND,
                key,
                "ignored a cached value in an unknown format"
            );
            None
        }
    }
}

fn unavailable(operation: &'static str, message: String) -> CacheError {
    CacheError::Unavailable {
        backend: BACKEND,
        operation,
        message,
    }
}

/// Parses the token bucket script's reply.
fn rate_decision(reply: &[i64]) -> Result<RateDecision, CacheError> {
    let [allowed, remaining, retry_us, full_us] = reply else {
        return Err(unavailable(
            "rate limit",
            format!("unexpected script reply {reply:?}"),
        ));
    };
    let micros = |value: i64| Duration::from_micros(u64::try_from(value).unwrap_or(0));
    Ok(RateDecision {
        allowed: *allowed == 1,
        remaining: u32::try_from(*remaining).unwrap_or(0),
        retry_after: micros(*retry_us),
        reset_after: micros(*full_us),
    })
}

/// Parses `member, score, member, score, …` from the top hits script.
fn parse_top(reply: Vec<String>) -> Result<Vec<(i64, u64)>, CacheError> {
    let malformed = || unavailable("top hits", "unexpected reply from ZREVRANGE".to_owned());
    reply
        .chunks(2)
        .map(|pair| match pair {
            [member, score] => {
                let link_id = member.parse::<i64>().map_err(|_| malformed())?;
                let count = score.parse::<f64>().map_err(|_| malformed())?;
                Ok((link_id, count.max(0.0) as u64))
            }
            _ => Err(malformed()),
        })
        .collect()
}

#[async_trait]
impl Cache for RedisCache {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &str) -> Result<Option<CacheValue>, CacheError> {
        port::validate_key(key)?;
        let redis_key = self.key("v", key);
        let stored: Option<Bytes> = self
            .run("get", |client| async move { client.get(redis_key).await })
            .await?;
        Ok(stored.and_then(|stored| decode(key, stored)))
    }

    async fn set(&self, key: &str, value: &CacheValue, ttl: Duration) -> Result<(), CacheError> {
        port::validate_key(key)?;
        port::validate_entry(value, ttl)?;
        let redis_key = self.key("v", key);
        let expiry = Expiration::PX(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let encoded = encode(value);
        self.run("set", |client| async move {
            client
                .set::<(), _, _>(redis_key, encoded, Some(expiry), None, false)
                .await
        })
        .await
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &CacheValue,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        port::validate_key(key)?;
        port::validate_entry(value, ttl)?;
        let redis_key = self.key("v", key);
        let expiry = Expiration::PX(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let encoded = encode(value);
        let reply: Option<String> = self
            .run("set if absent", |client| async move {
                client
                    .set(
                        redis_key,
                        encoded,
                        Some(expiry),
                        Some(SetOptions::NX),
                        false,
                    )
                    .await
            })
            .await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        port::validate_key(key)?;
        let redis_key = self.key("v", key);
        self.run("delete", |client| async move {
            client.del::<(), _>(redis_key).await
        })
        .await
    }

    async fn publish_invalidation(&self, code: &str) -> Result<(), CacheError> {
        port::validate_key(code)?;
        let channel = self.channel.clone();
        let code = code.to_owned();
        self.run("publish", |client| async move {
            client.publish::<(), _, _>(channel, code).await
        })
        .await
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
        if hits.is_empty() {
            return Ok(());
        }
        let minute = port::minute_of(at);
        let bucket = self.key("hits", &format!("{scope}:{minute}"));
        let expires_at = (minute + 1 + i64::from(self.hits_retention_minutes)) * 60;
        let hits = hits.to_vec();
        self.run("record hits", |client| async move {
            let pipeline = client.pipeline();
            for (link_id, count) in hits {
                pipeline
                    .zincrby::<(), _, _>(&bucket, count as f64, link_id.to_string())
                    .await?;
            }
            pipeline
                .expire_at::<(), _>(&bucket, expires_at, None)
                .await?;
            pipeline.all::<Vec<Value>>().await.map(|_| ())
        })
        .await
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
        let mut keys: Vec<String> = (0..i64::from(minutes))
            .map(|age| self.key("hits", &format!("{scope}:{}", now - age)))
            .collect();
        keys.push(self.key("hits", &format!("{scope}:union")));
        let args = vec![Value::from(limit as i64)];
        let reply: Vec<String> = self
            .run("top hits", |client| async move {
                self.top_hits.run(&client, keys, args).await
            })
            .await?;
        parse_top(reply)
    }

    async fn add_unique(
        &self,
        key: &str,
        day: NaiveDate,
        hashes: &[u64],
    ) -> Result<(), CacheError> {
        port::validate_key(key)?;
        if hashes.is_empty() {
            return Ok(());
        }
        let redis_key = self.key("uv", &format!("{key}:{}", day.format("%Y%m%d")));
        let expires_at = port::unique_expiry(day, self.unique_retention_days).timestamp();
        let elements: Vec<Value> = hashes
            .iter()
            .map(|hash| Value::Bytes(Bytes::copy_from_slice(&hash.to_le_bytes())))
            .collect();
        self.run("add unique", |client| async move {
            let pipeline = client.pipeline();
            pipeline.pfadd::<(), _, _>(&redis_key, elements).await?;
            pipeline
                .expire_at::<(), _>(&redis_key, expires_at, None)
                .await?;
            pipeline.all::<Vec<Value>>().await.map(|_| ())
        })
        .await
    }

    async fn count_unique(
        &self,
        key: &str,
        days: RangeInclusive<NaiveDate>,
    ) -> Result<u64, CacheError> {
        port::validate_key(key)?;
        let keys: Vec<String> = port::days_of(&days)?
            .into_iter()
            .map(|day| self.key("uv", &format!("{key}:{}", day.format("%Y%m%d"))))
            .collect();
        self.run("count unique", |client| async move {
            client.pfcount(keys).await
        })
        .await
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
        let keys = vec![self.key("rl", key)];
        let args = vec![
            Value::from(i64::from(capacity)),
            Value::from(refill_per_sec.to_string()),
            Value::from(i64::from(cost)),
        ];
        let reply: Vec<i64> = self
            .run("rate limit", |client| async move {
                self.token_bucket.run(&client, keys, args).await
            })
            .await?;
        rate_decision(&reply)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.run(
            "ping",
            |client| async move { client.ping::<()>(None).await },
        )
        .await?;
        if !self.subscriber.is_connected() {
            let message = "the invalidation subscriber is not connected and is reconnecting";
            return Err(self.failed("ping", message));
        }
        Ok(())
    }

    async fn close(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let _ = self.pool.quit().await;
        let _ = self.subscriber.quit().await;
    }
}

impl Drop for RedisCache {
    /// Stops the clients' reconnection loops, which would otherwise outlive this value.
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let (pool, subscriber) = (self.pool.clone(), self.subscriber.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = pool.quit().await;
                let _ = subscriber.quit().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let present = CacheValue::Present(Bytes::from_static(b"\x00payload"));
        assert_eq!(decode("k", encode(&present)), Some(present));
        assert_eq!(
            decode("k", encode(&CacheValue::Negative)),
            Some(CacheValue::Negative)
        );
        assert_eq!(decode("k", Bytes::from_static(b"\x07junk")), None);
        assert_eq!(decode("k", Bytes::new()), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("redis://user:secret@cache:6379/2"),
            "redis://user:redacted@cache:6379/2"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob("app*[1]?:"), "app\\*\\[1\\]\\?:");
    }

    #[test]
    fn top_reply_is_parsed() {
        let reply = vec![
            "42".to_owned(),
            "7".to_owned(),
            "3".to_owned(),
            "1".to_owned(),
        ];
        assert_eq!(parse_top(reply).ok(), Some(vec![(42, 7), (3, 1)]));
        assert!(parse_top(vec!["x".to_owned(), "1".to_owned()]).is_err());
        assert!(parse_top(vec!["1".to_owned()]).is_err());
    }
}
