//! `ClickAggregator`: turns click events into counters without slowing the redirect.
//!
//! The redirect path adds each event to a shared buffer without waiting. It wakes the
//! aggregator only when the buffer was empty, so under load one wake-up carries many events
//! instead of one actor message each. The aggregator classifies the visitor
//! (user agent, referrer, country) and adds the click to in-memory batches: per-hour counters
//! (total, humans, bots), per-day dimension counts, human visits, unique-visitor hashes and hot
//! counters. A batch is flushed every `flush_interval` or after `flush_max_events` events, as
//! additive upserts in one transaction, so any number of instances can flush into the same rows.
//!
//! A failed flush keeps its batch and retries with the next one. On a graceful stop the actor
//! drains its mailbox and the buffer and flushes before it exits, so no acknowledged click is
//! lost on SIGTERM. A crash (SIGKILL) loses the clicks not yet flushed: at most `flush_interval`
//! worth, and never more than `flush_max_events` plus the events still waiting in the buffer.

use super::visitor::{self, Visitor};
use super::{ClickEvent, LiveCounters, day_start, hour_start, visitor_hash};
use crate::db::clicks::{self, ClickRows, HourCounts};
use crate::supervisor::{ActorSlot, ActorUnavailable};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sea_orm::DatabaseConnection;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long a graceful stop keeps retrying the final flush before it gives up.
const FINAL_FLUSH_DEADLINE: Duration = Duration::from_secs(15);
/// Failures are logged at most once per this interval.
const LOG_INTERVAL: Duration = Duration::from_secs(30);
/// Distinct user agents whose classification is remembered.
const AGENT_CACHE_CAPACITY: u64 = 10_000;

#[derive(Clone)]
pub struct ClickAggregator;

/// Looks up the country of an address, from a MaxMind-format database.
pub type CountryLookup = Arc<dyn Fn(IpAddr) -> Option<String> + Send + Sync>;

pub struct ClickAggregatorArguments {
    pub db: DatabaseConnection,
    pub live: Arc<dyn LiveCounters>,
    pub country: Option<CountryLookup>,
    /// The secret behind the daily visitor salt, shared by all instances.
    pub secret: Arc<[u8]>,
    pub flush_interval: Duration,
    pub flush_max_events: usize,
    /// Events recorded but not yet handled, shared with the [`Clicks`] handle.
    pub buffer: Arc<ClickBuffer>,
    pub flush_batches: Arc<AtomicU64>,
}

pub enum ClickMessage {
    /// A wake-up: events are waiting in the buffer.
    Drain,
    Tick,
    /// Flushes everything received so far and replies once it is stored.
    Flush(RpcReplyPort<()>),
    /// A flush finished; `stored` says whether its batch reached the database.
    FlushDone {
        stored: bool,
    },
}

/// Counters collected since the last flush.
#[derive(Default)]
struct Batch {
    hours: HashMap<(i64, i64), HourCounts>,
    dimensions: HashMap<(i64, i64, &'static str, String), i64>,
    visits: HashMap<i64, i64>,
    visitors: HashMap<(i64, i64), HashSet<u64>>,
    hits: HashMap<(i64, i64), i64>,
    events: usize,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.events == 0
    }

    fn merge(&mut self, other: Batch) {
        for (key, counts) in other.hours {
            let entry = self.hours.entry(key).or_default();
            entry.total += counts.total;
            entry.humans += counts.humans;
            entry.bots += counts.bots;
        }
        for (key, count) in other.dimensions {
            *self.dimensions.entry(key).or_default() += count;
        }
        for (key, count) in other.visits {
            *self.visits.entry(key).or_default() += count;
        }
        for (key, hashes) in other.visitors {
            self.visitors.entry(key).or_default().extend(hashes);
        }
        for (key, count) in other.hits {
            *self.hits.entry(key).or_default() += count;
        }
        self.events += other.events;
    }
}

pub struct ClickAggregatorState {
    arguments: ClickAggregatorArguments,
    batch: Batch,
    /// Batches whose flush failed, waiting to be merged into the next flush.
    returned: Arc<Mutex<Batch>>,
    flushing: Option<JoinHandle<()>>,
    waiting: Vec<RpcReplyPort<()>>,
    agents: moka::sync::Cache<String, Arc<Visitor>>,
}

impl Actor for ClickAggregator {
    type Msg = ClickMessage;
    type State = ClickAggregatorState;
    type Arguments = ClickAggregatorArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(arguments.flush_interval, || ClickMessage::Tick);
        Ok(ClickAggregatorState {
            arguments,
            batch: Batch::default(),
            returned: Arc::new(Mutex::new(Batch::default())),
            flushing: None,
            waiting: Vec::new(),
            agents: moka::sync::Cache::new(AGENT_CACHE_CAPACITY),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ClickMessage::Drain => {
                drain(state);
                if state.batch.events >= state.arguments.flush_max_events {
                    start_flush(&myself, state);
                }
            }
            ClickMessage::Tick => {
                drain(state);
                start_flush(&myself, state);
            }
            ClickMessage::Flush(reply) => {
                drain(state);
                state.waiting.push(reply);
                start_flush(&myself, state);
            }
            ClickMessage::FlushDone { stored } => {
                state.flushing = None;
                let pending = !state.batch.is_empty() || !lock(&state.returned).is_empty();
                // After a failure the next tick retries, so a database outage does not spin.
                if pending && stored && !state.waiting.is_empty() {
                    start_flush(&myself, state);
                } else if !pending {
                    for reply in state.waiting.drain(..) {
                        crate::reply(reply, ());
                    }
                }
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(flushing) = state.flushing.take() {
            let _ = flushing.await;
        }
        drain(state);
        let mut batch = std::mem::take(&mut state.batch);
        batch.merge(std::mem::take(&mut *lock(&state.returned)));
        final_flush(&state.arguments, batch).await;
        for reply in state.waiting.drain(..) {
            crate::reply(reply, ());
        }
        Ok(())
    }
}

fn lock(batch: &Mutex<Batch>) -> std::sync::MutexGuard<'_, Batch> {
    batch
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds every event waiting in the buffer to the batch.
fn drain(state: &mut ClickAggregatorState) {
    let events = state.arguments.buffer.take();
    for event in &events {
        add_click(state, event);
    }
}

fn add_click(state: &mut ClickAggregatorState, event: &ClickEvent) {
    let visitor = classify(state, event.user_agent.as_deref());
    let is_bot = event.is_bot.unwrap_or(visitor.is_bot);
    let hour = hour_start(event.at);
    let day = day_start(event.at);
    let batch = &mut state.batch;
    batch.events += 1;

    let counts = batch.hours.entry((event.link_id, hour)).or_default();
    counts.total += 1;
    if is_bot {
        counts.bots += 1;
        return;
    }
    counts.humans += 1;
    if !event.visit_counted {
        *batch.visits.entry(event.link_id).or_default() += 1;
    }

    let referrer = visitor::referrer_host(event.referrer.as_deref());
    let country = state
        .arguments
        .country
        .as_ref()
        .and_then(|lookup| lookup(event.client_ip));
    let dimensions = [
        ("referrer", referrer),
        ("country", country),
        ("browser", visitor.browser.clone()),
        ("os", visitor.os.clone()),
        ("device", Some(visitor.device.as_str().to_owned())),
    ];
    for (kind, value) in dimensions {
        let key = (event.link_id, day, kind, value.unwrap_or_default());
        *batch.dimensions.entry(key).or_default() += 1;
    }

    let hash = visitor_hash(
        &state.arguments.secret,
        day,
        event.client_ip,
        event.user_agent.as_deref(),
    );
    batch
        .visitors
        .entry((event.link_id, day))
        .or_default()
        .insert(hash);
    *batch
        .hits
        .entry((event.owner_id.unwrap_or(0), event.link_id))
        .or_default() += 1;
}

/// Classifies a user agent, remembering recent ones: the same few agents make most clicks.
fn classify(state: &ClickAggregatorState, user_agent: Option<&str>) -> Arc<Visitor> {
    let key = user_agent.unwrap_or_default();
    if let Some(visitor) = state.agents.get(key) {
        return visitor;
    }
    let visitor = Arc::new(visitor::classify(user_agent));
    state.agents.insert(key.to_owned(), Arc::clone(&visitor));
    visitor
}

/// Starts a flush of the current batch unless one is running; the next tick or the end of the
/// running flush picks up what arrives meanwhile.
fn start_flush(myself: &ActorRef<ClickMessage>, state: &mut ClickAggregatorState) {
    if state.flushing.is_some() {
        return;
    }
    let mut batch = std::mem::take(&mut state.batch);
    batch.merge(std::mem::take(&mut *lock(&state.returned)));
    if batch.is_empty() {
        for reply in state.waiting.drain(..) {
            crate::reply(reply, ());
        }
        return;
    }

    let db = state.arguments.db.clone();
    let live = Arc::clone(&state.arguments.live);
    let returned = Arc::clone(&state.returned);
    let batches = Arc::clone(&state.arguments.flush_batches);
    let myself = myself.clone();
    state.flushing = Some(tokio::spawn(async move {
        let stored = match flush(&db, live.as_ref(), batch).await {
            Ok(()) => {
                batches.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(batch) => {
                lock(&returned).merge(batch);
                false
            }
        };
        let _ = myself.cast(ClickMessage::FlushDone { stored });
    }));
}

/// Writes a batch. The database part decides success; the live counters are approximate
/// extras, so their failure is logged and not retried.
async fn flush(
    db: &DatabaseConnection,
    live: &dyn LiveCounters,
    batch: Batch,
) -> Result<(), Batch> {
    let rows = ClickRows {
        hours: batch
            .hours
            .iter()
            .map(|((link, hour), counts)| (*link, *hour, *counts))
            .collect(),
        dimensions: batch
            .dimensions
            .iter()
            .map(|((link, day, kind, value), count)| (*link, *day, *kind, value.clone(), *count))
            .collect(),
        visits: batch
            .visits
            .iter()
            .map(|(link, count)| (*link, *count))
            .collect(),
    };
    if let Err(error) = clicks::flush(db, rows).await {
        log_limited(
            &DB_FAILURES,
            || tracing::error!(%error, events = batch.events, "click flush failed; will retry"),
        );
        return Err(batch);
    }

    let visitors: Vec<(i64, i64, Vec<u64>)> = batch
        .visitors
        .into_iter()
        .map(|((link, day), hashes)| (link, day, hashes.into_iter().collect()))
        .collect();
    let hits: Vec<(i64, i64, i64)> = batch
        .hits
        .into_iter()
        .map(|((owner, link), count)| (owner, link, count))
        .collect();
    let live_result = match live.add_visitors(&visitors).await {
        Ok(()) => live.add_hits(&hits).await,
        Err(error) => Err(error),
    };
    if let Err(error) = live_result {
        let backend = live.name();
        log_limited(
            &LIVE_FAILURES,
            || tracing::warn!(backend, %error, "updating unique visitors and hot counters failed"),
        );
    }
    Ok(())
}

async fn final_flush(arguments: &ClickAggregatorArguments, mut batch: Batch) {
    let deadline = Instant::now() + FINAL_FLUSH_DEADLINE;
    while !batch.is_empty() {
        match flush(&arguments.db, arguments.live.as_ref(), batch).await {
            Ok(()) => return,
            Err(failed) if Instant::now() < deadline => {
                batch = failed;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(failed) => {
                tracing::error!(
                    events = failed.events,
                    "clicks lost: the final flush kept failing"
                );
                return;
            }
        }
    }
}

static DB_FAILURES: Mutex<Option<Instant>> = Mutex::new(None);
static LIVE_FAILURES: Mutex<Option<Instant>> = Mutex::new(None);

/// Runs `log` at most once per [`LOG_INTERVAL`] for one kind of failure.
fn log_limited(last: &Mutex<Option<Instant>>, log: impl FnOnce()) {
    let mut last = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if last.is_none_or(|at| at.elapsed() >= LOG_INTERVAL) {
        *last = Some(Instant::now());
        log();
    }
}

/// Click events recorded by request handlers and not yet taken by the aggregator.
#[derive(Default)]
pub struct ClickBuffer {
    events: Mutex<Vec<ClickEvent>>,
}

impl ClickBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ClickEvent>> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes every waiting event, leaving room for as many again.
    fn take(&self) -> Vec<ClickEvent> {
        let mut events = self.lock();
        let capacity = events.len();
        std::mem::replace(&mut *events, Vec::with_capacity(capacity))
    }
}

/// The cheap, cloneable handle the redirect path uses.
#[derive(Clone)]
pub struct Clicks {
    slot: ActorSlot<ClickMessage>,
    buffer: Arc<ClickBuffer>,
    max_queued: usize,
    dropped: Arc<AtomicU64>,
}

impl Clicks {
    pub fn new(slot: ActorSlot<ClickMessage>, buffer: Arc<ClickBuffer>, max_queued: usize) -> Self {
        Self {
            slot,
            buffer,
            max_queued,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records a click without waiting. When the aggregator is this far behind, the click is
    /// dropped and counted instead, so a stalled database cannot exhaust memory.
    pub fn record(&self, event: ClickEvent) {
        let first = {
            let mut events = self.buffer.lock();
            if events.len() >= self.max_queued {
                drop(events);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                log_limited(&DROPS, || {
                    tracing::warn!("click dropped: the aggregator is behind")
                });
                return;
            }
            events.push(event);
            events.len() == 1
        };
        // Later events find the buffer non-empty and rely on this wake-up. If the aggregator is
        // restarting and misses it, its next tick drains the buffer.
        if first {
            self.slot.try_cast(ClickMessage::Drain);
        }
    }

    /// Clicks dropped because the aggregator was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every click sent before this call is stored.
    pub async fn flush(&self) -> Result<(), ActorUnavailable> {
        self.slot
            .call(ClickMessage::Flush, Duration::from_secs(60))
            .await
    }
}

static DROPS: Mutex<Option<Instant>> = Mutex::new(None);
