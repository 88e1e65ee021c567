//! Click analytics: visitor facts, the `ClickAggregator` and the live counters port.

pub mod click_aggregator;
pub mod stats;
pub mod visitor;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;

/// Seconds in a day, for day buckets.
pub const DAY_SECS: i64 = 86_400;
pub const HOUR_SECS: i64 = 3_600;

/// One followed redirect, sent to the aggregator without waiting.
#[derive(Debug, Clone)]
pub struct ClickEvent {
    pub link_id: i64,
    /// The link's owner, or `None` for an anonymous link.
    pub owner_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// Used for the unique-visitor hash and the country look-up, then dropped; never stored.
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    /// The redirect path already classified the visitor (links with a visit limit do).
    pub is_bot: Option<bool>,
    /// The visit was already added to `links.visits` by the visit-limit check.
    pub visit_counted: bool,
}

/// Unique visitors and hot counters, kept in Redis in production and in process when embedded.
#[async_trait]
pub trait LiveCounters: Send + Sync + 'static {
    /// The backend's name for logs and 503 responses.
    fn name(&self) -> &'static str;

    /// Adds visitor hashes to the unique-visitor sketch of each `(link id, day start)`.
    async fn add_visitors(&self, visitors: &[(i64, i64, Vec<u64>)]) -> Result<(), String>;

    /// Adds hits to the sliding-window counters of each `(owner id, link id)`; anonymous links
    /// use owner 0.
    async fn add_hits(&self, hits: &[(i64, i64, i64)]) -> Result<(), String>;

    /// Estimates the distinct visitors of a link over the given day starts.
    async fn unique_visitors(&self, link_id: i64, days: &[i64]) -> Result<u64, String>;

    /// The owner's most visited links over the last `window`, most visited first.
    async fn top_links(
        &self,
        owner_id: i64,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<(i64, i64)>, String>;
}

/// Start of the hour containing `at`, in unix seconds.
pub fn hour_start(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(HOUR_SECS) * HOUR_SECS
}

/// Start of the UTC day containing `at`, in unix seconds.
pub fn day_start(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(DAY_SECS) * DAY_SECS
}

/// A visitor's anonymous daily identity: a hash of the address and user agent under a salt that
/// changes every day, so the same person counts once per day and cannot be followed across days.
/// `secret` is shared by all instances, so they agree on the hash.
pub fn visitor_hash(secret: &[u8], day: i64, ip: IpAddr, user_agent: Option<&str>) -> u64 {
    let mut salt = Sha256::new();
    salt.update(secret);
    salt.update(b"visitor-salt");
    salt.update(day.to_be_bytes());
    let salt = salt.finalize();

    let mut hasher = Sha256::new();
    hasher.update(salt);
    match ip {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(v6.octets()),
    }
    hasher.update(user_agent.unwrap_or_default().as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_the_hour_and_day() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T15:47:09Z")
            .expect("timestamp")
            .with_timezone(&Utc);
        assert_eq!(hour_start(at), at.timestamp() - 47 * 60 - 9);
        assert_eq!(day_start(at), at.timestamp() - (15 * 3600 + 47 * 60 + 9));
    }

    #[test]
    fn visitor_hash_changes_daily_and_per_visitor() {
        let ip: IpAddr = "203.0.113.7".parse().expect("ip");
        let other: IpAddr = "203.0.113.8".parse().expect("ip");
        let day = 20_000 * DAY_SECS;
        let first = visitor_hash(b"s", day, ip, Some("ua"));
        assert_eq!(first, visitor_hash(b"s", day, ip, Some("ua")));
        assert_ne!(first, visitor_hash(b"s", day + DAY_SECS, ip, Some("ua")));
        assert_ne!(first, visitor_hash(b"s", day, other, Some("ua")));
        assert_ne!(first, visitor_hash(b"s", day, ip, Some("other ua")));
        assert_ne!(first, visitor_hash(b"t", day, ip, Some("ua")));
    }
}
