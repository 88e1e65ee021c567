//! The cache and counters port: a link cache shared by every instance, cross-instance
//! invalidation, per-minute hit counters for "top links", HyperLogLog unique visitors and token
//! bucket rate limiting. In process (one instance only) in the embedded default, Redis in
//! production.
//!
//! Everything here is an optimisation or a guard in front of the database, so callers treat a
//! [`CacheError::Unavailable`] as "carry on without the cache", never as a reason to wait.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use std::ops::RangeInclusive;
use std::time::Duration;
use tokio::sync::broadcast;

/// Maximum key length, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value [`Cache::set`] accepts, in bytes. Cache entries are small records such as
/// a link's redirect fields.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Maximum number of links [`Cache::top_hits`] returns.
pub const MAX_TOP_LIMIT: usize = 1000;
/// Maximum number of days one [`Cache::count_unique`] call may span.
pub const MAX_UNIQUE_DAYS: usize = 366;

/// An entry of the value cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheValue {
    /// The cached bytes.
    Present(Bytes),
    /// A negative entry: the source of truth has nothing under this key, so a lookup can stop
    /// here instead of asking it again.
    Negative,
}

/// A message on the invalidation channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// The link with this code changed or was deleted somewhere; drop any local copy.
    Code(String),
    /// Invalidations may have been missed (the subscription was lost and restored, or this
    /// receiver fell behind), so every local copy is suspect.
    All,
}

/// The outcome of [`Cache::take`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    /// Whether the bucket had `cost` tokens and they were taken.
    pub allowed: bool,
    /// Whole tokens left after this call.
    pub remaining: u32,
    /// How long until `cost` tokens are available; zero when allowed.
    pub retry_after: Duration,
    /// How long until the bucket is full again if nothing else is taken.
    pub reset_after: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache could not be reached or failed; the call may succeed later.
    #[error("cache {backend} failed during {operation}: {message}")]
    Unavailable {
        backend: &'static str,
        operation: &'static str,
        message: String,
    },
    /// The key is empty or longer than [`MAX_KEY_BYTES`].
    #[error("cache key '{key}' is invalid: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// An argument is out of its documented range.
    #[error("cache argument {name} = {value} is invalid: {reason}")]
    InvalidArgument {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl CacheError {
    /// Returns the stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "cache_unavailable",
            Self::InvalidKey { .. } => "invalid_cache_key",
            Self::InvalidArgument { .. } => "invalid_cache_argument",
        }
    }

    /// Returns the backend that failed, when the error is an outage.
    pub fn backend(&self) -> Option<&'static str> {
        match self {
            Self::Unavailable { backend, .. } => Some(backend),
            _ => None,
        }
    }

    fn invalid(name: &'static str, value: impl ToString, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Caches and counters shared by the instances of one deployment. Keys are the caller's
/// strings. Each implementation keeps separate namespaces, so a value key, a unique-visitor key
/// and a rate limit bucket with the same name never collide.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// Returns the backend's name for logs and 503 responses: `memory` or `redis`.
    fn name(&self) -> &'static str;

    /// Returns the entry under `key`, or `None` on a miss.
    async fn get(&self, key: &str) -> Result<Option<CacheValue>, CacheError>;

    /// Stores `value` under `key` for `ttl`, replacing any entry there.
    async fn set(&self, key: &str, value: &CacheValue, ttl: Duration) -> Result<(), CacheError>;

    /// Stores `value` under `key` only when no entry is there, and returns whether it did.
    /// Filling a cache after a miss uses it, so a slow fill never overwrites a newer write.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &CacheValue,
        ttl: Duration,
    ) -> Result<bool, CacheError>;

    /// Deletes the entry under `key`. Deleting a missing entry is not an error.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;

    /// Sends `code` to every subscriber of every instance, this one included.
    async fn publish_invalidation(&self, code: &str) -> Result<(), CacheError>;

    /// Returns a receiver of invalidations. A receiver that lags behind gets
    /// `RecvError::Lagged` and must then treat it as [`Invalidation::All`].
    fn subscribe_invalidations(&self) -> broadcast::Receiver<Invalidation>;

    /// Adds hit counts `(link_id, count)` to the bucket of `scope` (such as the links' owner) for
    /// the minute that contains `at`. Buckets older than the configured retention are dropped,
    /// so hits that old are ignored.
    async fn record_hits(
        &self,
        scope: &str,
        at: DateTime<Utc>,
        hits: &[(i64, u64)],
    ) -> Result<(), CacheError>;

    /// Returns up to `limit` links of `scope` with the most hits over `window`, most first: the
    /// sum of the current minute's bucket and the buckets before it, ⌈window / 1 min⌉ buckets
    /// in all. Links with equal counts come in an unspecified order.
    async fn top_hits(
        &self,
        scope: &str,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<(i64, u64)>, CacheError>;

    /// Adds visitor hashes to the HyperLogLog of `key` for `day` (UTC). The sketch expires the
    /// configured number of retention days after `day` ends.
    async fn add_unique(&self, key: &str, day: NaiveDate, hashes: &[u64])
    -> Result<(), CacheError>;

    /// Estimates how many distinct hashes were added to `key` over `days`, counting a hash seen
    /// on several days once. Small counts are exact or nearly so; the standard error is 0.81 %.
    async fn count_unique(
        &self,
        key: &str,
        days: RangeInclusive<NaiveDate>,
    ) -> Result<u64, CacheError>;

    /// Takes `cost` tokens from the bucket under `key`. The bucket has room for `capacity`
    /// tokens and gains `refill_per_sec` tokens a second. A bucket never used is full.
    async fn take(
        &self,
        key: &str,
        capacity: u32,
        refill_per_sec: f64,
        cost: u32,
    ) -> Result<RateDecision, CacheError>;

    /// Checks that the cache is reachable, for `/readyz`.
    async fn ping(&self) -> Result<(), CacheError>;

    /// Closes connections. Calls after this fail with [`CacheError::Unavailable`] on backends
    /// that have connections.
    async fn close(&self) {}
}

/// Checks a caller's key: non-empty and at most [`MAX_KEY_BYTES`] long.
pub fn validate_key(key: &str) -> Result<(), CacheError> {
    let reason = if key.is_empty() {
        "it is empty"
    } else if key.len() > MAX_KEY_BYTES {
        "it is longer than 512 bytes"
    } else {
        return Ok(());
    };
    let truncated: String = key.chars().take(64).collect();
    Err(CacheError::InvalidKey {
        key: truncated,
        reason,
    })
}

/// Checks a value and its time to live for [`Cache::set`].
pub fn validate_entry(value: &CacheValue, ttl: Duration) -> Result<(), CacheError> {
    if let CacheValue::Present(bytes) = value
        && bytes.len() > MAX_VALUE_BYTES
    {
        let reason = format!("values are at most {MAX_VALUE_BYTES} bytes");
        return Err(CacheError::invalid("value length", bytes.len(), reason));
    }
    if ttl < Duration::from_millis(1) {
        return Err(CacheError::invalid(
            "ttl",
            format!("{ttl:?}"),
            "use at least 1 ms",
        ));
    }
    Ok(())
}

/// Checks the arguments of [`Cache::take`].
pub fn validate_bucket(capacity: u32, refill_per_sec: f64, cost: u32) -> Result<(), CacheError> {
    if capacity == 0 {
        return Err(CacheError::invalid("capacity", capacity, "use at least 1"));
    }
    if !(refill_per_sec.is_finite() && refill_per_sec > 0.0) {
        let reason = "use a positive number of tokens per second";
        return Err(CacheError::invalid(
            "refill_per_sec",
            refill_per_sec,
            reason,
        ));
    }
    if cost == 0 || cost > capacity {
        let reason = format!("use 1 to the capacity, {capacity}");
        return Err(CacheError::invalid("cost", cost, reason));
    }
    Ok(())
}

/// Converts a [`Cache::top_hits`] window into a number of minute buckets, checking it against
/// the retention and `limit` against [`MAX_TOP_LIMIT`].
pub fn window_minutes(
    window: Duration,
    limit: usize,
    retention_minutes: u32,
) -> Result<u32, CacheError> {
    if limit == 0 || limit > MAX_TOP_LIMIT {
        let reason = format!("use 1 to {MAX_TOP_LIMIT}");
        return Err(CacheError::invalid("limit", limit, reason));
    }
    let minutes = window.as_secs().div_ceil(60);
    if minutes == 0 || minutes > u64::from(retention_minutes) {
        let reason = format!("use 1 minute to the retention of {retention_minutes} minutes");
        return Err(CacheError::invalid("window", format!("{window:?}"), reason));
    }
    Ok(u32::try_from(minutes).unwrap_or(retention_minutes))
}

/// Lists the days of a [`Cache::count_unique`] range, checking its length.
pub fn days_of(days: &RangeInclusive<NaiveDate>) -> Result<Vec<NaiveDate>, CacheError> {
    let (first, last) = (*days.start(), *days.end());
    let span = (last - first).num_days() + 1;
    if span < 1 || span > MAX_UNIQUE_DAYS as i64 {
        let reason = format!("use a range of 1 to {MAX_UNIQUE_DAYS} days, first day first");
        return Err(CacheError::invalid(
            "days",
            format!("{first}..={last}"),
            reason,
        ));
    }
    Ok(first.iter_days().take_while(|day| *day <= last).collect())
}

/// Returns the number of the minute that contains `at`, counted from the Unix epoch.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

/// Returns when a day's unique-visitor sketch expires: `retention_days` after the day ends.
pub fn unique_expiry(day: NaiveDate, retention_days: u32) -> DateTime<Utc> {
    let end = day.succ_opt().unwrap_or(day);
    let end = end.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    end + chrono::Duration::days(i64::from(retention_days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(validate_key("abc").is_ok());
        assert_eq!(
            validate_key("").map_err(|error| error.code()),
            Err("invalid_cache_key")
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(validate_key(&long).is_err());
    }

    #[test]
    fn bucket_arguments_are_checked() {
        assert!(validate_bucket(10, 0.5, 10).is_ok());
        assert!(validate_bucket(0, 1.0, 1).is_err());
        assert!(validate_bucket(10, 0.0, 1).is_err());
        assert!(validate_bucket(10, f64::NAN, 1).is_err());
        assert!(validate_bucket(10, 1.0, 0).is_err());
        assert!(validate_bucket(10, 1.0, 11).is_err());
    }

    #[test]
    fn window_rounds_up_to_minutes() {
        assert_eq!(
            window_minutes(Duration::from_secs(3600), 10, 1440).ok(),
            Some(60)
        );
        assert_eq!(
            window_minutes(Duration::from_secs(61), 10, 1440).ok(),
            Some(2)
        );
        assert!(window_minutes(Duration::ZERO, 10, 1440).is_err());
        assert!(window_minutes(Duration::from_secs(3600), 0, 1440).is_err());
        assert!(window_minutes(Duration::from_secs(86_460), 10, 1440).is_err());
    }

    #[test]
    fn day_ranges_are_checked() {
        let first = NaiveDate::from_ymd_opt(2026, 1, 30).expect("date");
        let last = NaiveDate::from_ymd_opt(2026, 2, 2).expect("date");
        assert_eq!(
            days_of(&(first..=last)).map(|days| days.len()).ok(),
            Some(4)
        );
        assert!(days_of(&(last..=first)).is_err());
    }

    #[test]
    fn unique_sketch_expires_after_retention() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        let expiry = unique_expiry(day, 2);
        assert_eq!(expiry.to_rfc3339(), "2026-03-04T00:00:00+00:00");
    }
}
