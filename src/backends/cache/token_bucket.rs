//! In-process token buckets in a sharded map. A bucket that has refilled completely is the same
//! as no bucket, so idle buckets are dropped by a sweep and memory follows the number of clients
//! active within one refill time.
//!
//! The governor crate was considered: its keyed limiters fix one quota per limiter, while the
//! port takes capacity and refill rate per call, and it reports the remaining tokens only
//! through a middleware. The arithmetic below is the same as the Redis Lua script's, so both
//! backends make the same decisions.

use super::log_throttle::LogThrottle;
use linkyard_actors::backends::cache::RateDecision;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 64;
/// How often a shard drops its full buckets.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// The latest a bucket is kept, for rates below one token a year.
const MAX_BUCKET_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// The key of a shard's shared bucket for new clients once the shard is full. Caller keys are
/// never empty.
const OVERFLOW_KEY: &str = "";

pub struct TokenBuckets {
    shards: Box<[Mutex<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    max_keys_per_shard: usize,
    overflow_log: LogThrottle,
}

struct Shard {
    buckets: HashMap<String, Bucket>,
    next_sweep: Instant,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
    /// When the bucket will be full again, after which it can be dropped.
    full_at: Instant,
}

impl TokenBuckets {
    /// Creates the map. Past `max_keys` buckets, new keys share one bucket per shard.
    pub fn new(max_keys: usize, log_interval: Duration) -> Self {
        let now = Instant::now();
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    buckets: HashMap::new(),
                    next_sweep: now + SWEEP_INTERVAL,
                })
            })
            .collect();
        Self {
            shards,
            hasher: Default::default(),
            max_keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
            overflow_log: LogThrottle::new(log_interval),
        }
    }

    /// Takes `cost` tokens from the bucket of `key`. The arguments are already validated.
    pub fn take(&self, key: &str, capacity: u32, refill_per_sec: f64, cost: u32) -> RateDecision {
        let now = Instant::now();
        let index = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.sweep(now);

        let key = self.tracked_key(&shard, key, index);
        let previous = shard
            .buckets
            .get(key)
            .map(|bucket| (bucket.tokens, now.saturating_duration_since(bucket.updated)));
        let (tokens, decision) = refill_and_take(previous, capacity, refill_per_sec, cost);

        if decision.reset_after.is_zero() {
            shard.buckets.remove(key);
        } else {
            let lifetime = decision.reset_after.min(MAX_BUCKET_LIFETIME);
            let bucket = Bucket {
                tokens,
                updated: now,
                full_at: now + lifetime,
            };
            shard.buckets.insert(key.to_owned(), bucket);
        }
        decision
    }

    /// Returns `key`, or the shard's overflow key when the shard has no room for a new bucket.
    fn tracked_key<'k>(&self, shard: &Shard, key: &'k str, index: usize) -> &'k str {
        if shard.buckets.len() < self.max_keys_per_shard || shard.buckets.contains_key(key) {
            return key;
        }
        if let Some(suppressed) = self.overflow_log.failure() {
            tracing::warn!(
                shard = index,
                buckets = shard.buckets.len(),
                suppressed,
                "rate limit shard is full; new clients share one bucket until idle ones expire"
            );
        }
        OVERFLOW_KEY
    }
}

impl Shard {
    fn sweep(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.buckets.retain(|_, bucket| bucket.full_at > now);
        self.next_sweep = now + SWEEP_INTERVAL;
    }
}

/// Refills a bucket for the time since its last use, then takes `cost` tokens if it has them.
/// `previous` is the bucket's tokens and the time since they were counted, or `None` for a
/// bucket never used, which is full. Returns the tokens left and the decision.
pub fn refill_and_take(
    previous: Option<(f64, Duration)>,
    capacity: u32,
    refill_per_sec: f64,
    cost: u32,
) -> (f64, RateDecision) {
    let capacity = f64::from(capacity);
    let cost = f64::from(cost);
    let mut tokens = match previous {
        Some((tokens, elapsed)) => (tokens + elapsed.as_secs_f64() * refill_per_sec).min(capacity),
        None => capacity,
    };

    let allowed = tokens >= cost;
    let mut retry_after = Duration::ZERO;
    if allowed {
        tokens -= cost;
    } else {
        retry_after = seconds((cost - tokens) / refill_per_sec);
    }

    let decision = RateDecision {
        allowed,
        remaining: tokens.floor() as u32,
        retry_after,
        reset_after: seconds((capacity - tokens) / refill_per_sec),
    };
    (tokens, decision)
}

/// Converts seconds to a duration rounded up to the microsecond and capped at 2^53 µs (285
/// years), the same cap as the Redis script's.
fn seconds(value: f64) -> Duration {
    const MAX_MICROS: f64 = 9_007_199_254_740_992.0;
    let micros = (value.max(0.0) * 1e6).ceil().min(MAX_MICROS);
    Duration::from_micros(micros as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_bucket_is_full() {
        let (tokens, decision) = refill_and_take(None, 5, 1.0, 2);
        assert_eq!(tokens, 3.0);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 3);
        assert_eq!(decision.reset_after, Duration::from_secs(2));
    }

    #[test]
    fn empty_bucket_denies_with_retry_after() {
        let (tokens, decision) = refill_and_take(Some((0.5, Duration::ZERO)), 5, 2.0, 1);
        assert_eq!(tokens, 0.5);
        assert!(!decision.allowed);
        assert_eq!(decision.remaining, 0);
        assert_eq!(decision.retry_after, Duration::from_millis(250));
    }

    #[test]
    fn refill_stops_at_capacity() {
        let (tokens, decision) = refill_and_take(Some((0.0, Duration::from_secs(60))), 5, 1.0, 1);
        assert_eq!(tokens, 4.0);
        assert!(decision.allowed);
    }

    #[test]
    fn tiny_rates_saturate() {
        let (_, decision) = refill_and_take(Some((0.0, Duration::ZERO)), 1, 1e-300, 1);
        assert!(!decision.allowed);
        assert_eq!(
            decision.retry_after,
            Duration::from_micros(9_007_199_254_740_992)
        );
        let buckets = TokenBuckets::new(10, Duration::from_secs(60));
        assert!(buckets.take("slow", 1, 1e-300, 1).allowed);
        assert!(!buckets.take("slow", 1, 1e-300, 1).allowed);
    }

    #[test]
    fn burst_then_deny() {
        let buckets = TokenBuckets::new(100, Duration::from_secs(60));
        for expected in (0..3).rev() {
            let decision = buckets.take("client", 3, 0.001, 1);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected);
        }
        let denied = buckets.take("client", 3, 0.001, 1);
        assert!(!denied.allowed);
        assert!(
            denied.retry_after > Duration::from_secs(900),
            "{:?}",
            denied.retry_after
        );
        assert!(buckets.take("other", 3, 0.001, 1).allowed);
    }

    #[test]
    fn full_shards_share_an_overflow_bucket() {
        let buckets = TokenBuckets::new(1, Duration::from_secs(60));
        let mut denied = 0;
        for client in 0..(SHARDS * 4) {
            if !buckets
                .take(&format!("client-{client}"), 2, 0.001, 1)
                .allowed
            {
                denied += 1;
            }
        }
        assert!(denied > 0, "new clients past the limit must share buckets");
    }
}
