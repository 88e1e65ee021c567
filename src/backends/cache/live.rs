//! Unique visitors and hot counters of click analytics, kept in the cache port: Redis in
//! production, in process when embedded.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use linkyard_actors::analytics::LiveCounters;
use linkyard_actors::backends::cache::Cache;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// [`LiveCounters`] on top of the cache: one HyperLogLog per link and day, and hit counters
/// scoped by the links' owner so that each user's top list is their own.
pub struct CacheCounters {
    cache: Arc<dyn Cache>,
}

impl CacheCounters {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self { cache }
    }
}

fn visitors_key(link_id: i64) -> String {
    format!("link:{link_id}")
}

fn owner_scope(owner_id: i64) -> String {
    format!("owner:{owner_id}")
}

fn date_of(day_start: i64) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp(day_start, 0).map(|at| at.date_naive())
}

#[async_trait]
impl LiveCounters for CacheCounters {
    fn name(&self) -> &'static str {
        self.cache.name()
    }

    async fn add_visitors(&self, visitors: &[(i64, i64, Vec<u64>)]) -> Result<(), String> {
        for (link_id, day, hashes) in visitors {
            let Some(date) = date_of(*day) else { continue };
            self.cache
                .add_unique(&visitors_key(*link_id), date, hashes)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    }

    async fn add_hits(&self, hits: &[(i64, i64, i64)]) -> Result<(), String> {
        let mut by_owner: HashMap<i64, Vec<(i64, u64)>> = HashMap::new();
        for (owner, link, count) in hits {
            by_owner
                .entry(*owner)
                .or_default()
                .push((*link, (*count).max(0) as u64));
        }
        let now = Utc::now();
        for (owner, links) in by_owner {
            self.cache
                .record_hits(&owner_scope(owner), now, &links)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    }

    async fn unique_visitors(&self, link_id: i64, days: &[i64]) -> Result<u64, String> {
        let (Some(first), Some(last)) = (
            days.first().and_then(|day| date_of(*day)),
            days.last().and_then(|day| date_of(*day)),
        ) else {
            return Ok(0);
        };
        self.cache
            .count_unique(&visitors_key(link_id), first..=last)
            .await
            .map_err(|error| error.to_string())
    }

    async fn top_links(
        &self,
        owner_id: i64,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<(i64, i64)>, String> {
        let top = self
            .cache
            .top_hits(&owner_scope(owner_id), window, limit)
            .await
            .map_err(|error| error.to_string())?;
        Ok(top
            .into_iter()
            .map(|(link, count)| (link, count as i64))
            .collect())
    }
}
