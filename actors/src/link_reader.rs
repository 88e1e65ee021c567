//! The read side of the url shards: one batched reader that every shard hands its missed codes to.
//!
//! Each shard already turns concurrent misses for one code into one request. A reader per shard
//! still sent many small queries under load (about three codes each with eight shards), and the
//! database spent more time on round trips than on lookups. Here the shards' requests wait while
//! `concurrency` reads run. The next read takes every waiting request, up to
//! [`MAX_CODES_PER_READ`] codes, so the batch size grows with the load and the query count does
//! not.

use crate::url_shard::{CacheEntry, CachedLink, ShardError, SharedCache};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Maximum codes in one database read. Both backends accept this many bind parameters.
pub const MAX_CODES_PER_READ: usize = 500;

/// The result of each code of a request.
pub type ReadResults = Vec<(String, Result<CacheEntry, ShardError>)>;

/// Codes that a shard needs, and the callback that receives their results.
pub struct ReadRequest {
    pub codes: Vec<String>,
    pub deliver: Box<dyn FnOnce(ReadResults) + Send>,
}

pub struct LinkReader {
    db: DatabaseConnection,
    shared: SharedCache,
    concurrency: usize,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<ReadRequest>,
    running: usize,
}

impl LinkReader {
    /// Creates a reader that runs at most `concurrency` (at least one) database reads at a time.
    pub fn new(db: DatabaseConnection, shared: SharedCache, concurrency: usize) -> Arc<Self> {
        Arc::new(Self {
            db,
            shared,
            concurrency: concurrency.max(1),
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Queues a request. A reader task delivers its results.
    pub fn submit(self: &Arc<Self>, request: ReadRequest) {
        let start = {
            let mut queue = self.lock();
            queue.waiting.push(request);
            let start = queue.running < self.concurrency;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            let reader = Arc::clone(self);
            tokio::spawn(async move { reader.run().await });
        }
    }

    /// Reads batches until nothing waits.
    async fn run(&self) {
        let mut slot = RunningSlot {
            reader: self,
            counted: true,
        };
        loop {
            let batch = {
                let mut queue = self.lock();
                let batch = take_batch(&mut queue.waiting);
                if batch.is_empty() {
                    queue.running -= 1;
                    slot.counted = false;
                    return;
                }
                batch
            };
            let codes: Vec<String> = batch
                .iter()
                .flat_map(|request| request.codes.iter().cloned())
                .collect();
            let mut results_by_code = load(&self.db, &self.shared, codes).await;
            for request in batch {
                let results = request
                    .codes
                    .into_iter()
                    .filter_map(|code| results_by_code.remove(&code).map(|result| (code, result)))
                    .collect();
                (request.deliver)(results);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Gives a reader task's slot back if the task dies in a panic, so later requests still find a
/// reader.
struct RunningSlot<'a> {
    reader: &'a LinkReader,
    /// Whether the task still counts as running.
    counted: bool,
}

impl Drop for RunningSlot<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.reader.lock().running -= 1;
        }
    }
}

/// Takes waiting requests in arrival order while their codes fit in one read. It always takes at
/// least one, so a shard's request is never split.
fn take_batch(waiting: &mut Vec<ReadRequest>) -> Vec<ReadRequest> {
    let mut codes = 0;
    let mut count = 0;
    for request in waiting.iter() {
        if count > 0 && codes + request.codes.len() > MAX_CODES_PER_READ {
            break;
        }
        codes += request.codes.len();
        count += 1;
    }
    waiting.drain(..count).collect()
}

/// Reads codes from the shared cache, then the rest from the database in one query, filling the
/// shared cache with the database's results.
async fn load(
    db: &DatabaseConnection,
    shared: &SharedCache,
    codes: Vec<String>,
) -> HashMap<String, Result<CacheEntry, ShardError>> {
    let lookups = codes.iter().map(|code| shared.get(code));
    let cached = futures_util::future::join_all(lookups).await;
    let mut results = HashMap::with_capacity(codes.len());
    let mut missing = Vec::new();
    for (code, entry) in codes.into_iter().zip(cached) {
        match entry {
            Some(entry) => {
                shared.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                results.insert(code, Ok(entry));
            }
            None => missing.push(code),
        }
    }
    if missing.is_empty() {
        return results;
    }

    shared.stats.database_reads.fetch_add(1, Ordering::Relaxed);
    match crate::db::links::find_by_codes(db, &missing).await {
        Ok(models) => {
            let mut found: HashMap<String, CacheEntry> = models
                .into_iter()
                .map(|model| {
                    let entry = CachedLink::from_model(&model).map(Arc::new);
                    (model.code, entry)
                })
                .collect();
            let entries: Vec<(String, CacheEntry)> = missing
                .into_iter()
                .map(|code| {
                    let entry = found.remove(&code).flatten();
                    (code, entry)
                })
                .collect();
            let fills = entries.iter().map(|(code, entry)| shared.fill(code, entry));
            futures_util::future::join_all(fills).await;
            results.extend(entries.into_iter().map(|(code, entry)| (code, Ok(entry))));
        }
        Err(error) => {
            let error = Arc::new(error);
            results.extend(
                missing
                    .into_iter()
                    .map(|code| (code, Err(Arc::clone(&error)))),
            );
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(codes: usize) -> ReadRequest {
        ReadRequest {
            codes: (0..codes).map(|i| format!("c{i}")).collect(),
            deliver: Box::new(|_| {}),
        }
    }

    #[test]
    fn take_batch_stops_at_code_limit() {
        let mut waiting = vec![request(200), request(250), request(100), request(1)];
        let batch = take_batch(&mut waiting);
        assert_eq!(
            batch.iter().map(|r| r.codes.len()).collect::<Vec<_>>(),
            [200, 250]
        );
        assert_eq!(
            waiting.iter().map(|r| r.codes.len()).collect::<Vec<_>>(),
            [100, 1]
        );
    }

    #[test]
    fn take_batch_keeps_oversized_request_whole() {
        let mut waiting = vec![request(MAX_CODES_PER_READ + 1), request(1)];
        let batch = take_batch(&mut waiting);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].codes.len(), MAX_CODES_PER_READ + 1);
        assert_eq!(waiting.len(), 1);
    }
}
