//! `IdAllocator`: hands out unique 64-bit ids from blocks leased from the database.
//!
//! Each lease is one atomic `UPDATE … RETURNING` on a counter row, so instances sharing a database
//! never hand out the same id. The next block is leased in the background once a fifth of the
//! current block is left, so `next` rarely waits for the database.
//!
//! The allocator also tracks the high-water mark: the first id that no instance had leased at
//! the last read of the counter. An id at or above it cannot belong to a link yet, so a request
//! for such a code is a 404 without a database read. Because another instance may have leased a
//! newer block, a request above the mark first waits for a fresh read of the counter; those reads
//! are shared by all waiting requests and start at most once every [`MIN_REFRESH_INTERVAL`].

use crate::db::{self, DbError};
use crate::supervisor::{ActorSlot, ActorUnavailable};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sea_orm::DatabaseConnection;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(50);
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, thiserror::Error)]
pub enum IdError {
    #[error(transparent)]
    Database(Arc<DbError>),
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
}

#[derive(Clone)]
pub struct IdAllocator;

pub struct IdAllocatorArguments {
    pub db: DatabaseConnection,
    pub sequence: &'static str,
    pub block_size: u64,
    pub high_water: Arc<AtomicU64>,
}

pub enum IdAllocatorMessage {
    Next(RpcReplyPort<Result<u64, IdError>>),
    /// Re-reads the high-water mark with a read that starts after `requested_at`.
    RefreshHighWater {
        requested_at: Instant,
        reply: RpcReplyPort<Result<u64, IdError>>,
    },
    BlockLeased(Result<Range<u64>, Arc<DbError>>),
    HighWaterRead {
        started_at: Instant,
        result: Result<u64, Arc<DbError>>,
    },
    StartRefresh,
}

pub struct IdAllocatorState {
    arguments: IdAllocatorArguments,
    current: Range<u64>,
    next_block: Option<Range<u64>>,
    leasing: bool,
    waiters: Vec<RpcReplyPort<Result<u64, IdError>>>,
    refresh_waiters: Vec<(Instant, RpcReplyPort<Result<u64, IdError>>)>,
    refresh_in_flight: bool,
    refresh_scheduled: bool,
    last_refresh_start: Option<Instant>,
}

impl Actor for IdAllocator {
    type Msg = IdAllocatorMessage;
    type State = IdAllocatorState;
    type Arguments = IdAllocatorArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = IdAllocatorState {
            arguments,
            current: 0..0,
            next_block: None,
            leasing: false,
            waiters: Vec::new(),
            refresh_waiters: Vec::new(),
            refresh_in_flight: false,
            refresh_scheduled: false,
            last_refresh_start: None,
        };
        start_lease(&myself, &mut state);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            IdAllocatorMessage::Next(reply) => {
                state.waiters.push(reply);
                serve_waiters(&myself, state);
            }
            IdAllocatorMessage::BlockLeased(result) => on_block_leased(&myself, state, result),
            IdAllocatorMessage::RefreshHighWater {
                requested_at,
                reply,
            } => {
                state.refresh_waiters.push((requested_at, reply));
                maybe_start_refresh(&myself, state);
            }
            IdAllocatorMessage::StartRefresh => {
                state.refresh_scheduled = false;
                maybe_start_refresh(&myself, state);
            }
            IdAllocatorMessage::HighWaterRead { started_at, result } => {
                on_high_water_read(&myself, state, started_at, result)
            }
        }
        Ok(())
    }
}

fn serve_waiters(myself: &ActorRef<IdAllocatorMessage>, state: &mut IdAllocatorState) {
    while !state.waiters.is_empty() {
        if state.current.is_empty() {
            match state.next_block.take() {
                Some(block) => state.current = block,
                None => break,
            }
        }
        let id = state.current.start;
        state.current.start += 1;
        crate::reply(state.waiters.remove(0), Ok(id));
    }

    let remaining = state.current.end - state.current.start;
    let low = remaining < state.arguments.block_size / 5 && state.next_block.is_none();
    if (low || !state.waiters.is_empty()) && !state.leasing {
        start_lease(myself, state);
    }
}

fn start_lease(myself: &ActorRef<IdAllocatorMessage>, state: &mut IdAllocatorState) {
    state.leasing = true;
    let db = state.arguments.db.clone();
    let sequence = state.arguments.sequence;
    let block_size = state.arguments.block_size;
    let myself = myself.clone();
    tokio::spawn(async move {
        let result = db::ids::lease_block(&db, sequence, block_size).await;
        let _ = myself.cast(IdAllocatorMessage::BlockLeased(result.map_err(Arc::new)));
    });
}

fn on_block_leased(
    myself: &ActorRef<IdAllocatorMessage>,
    state: &mut IdAllocatorState,
    result: Result<Range<u64>, Arc<DbError>>,
) {
    state.leasing = false;
    match result {
        Ok(block) => {
            tracing::debug!(start = block.start, end = block.end, "leased id block");
            state
                .arguments
                .high_water
                .fetch_max(block.end, Ordering::Relaxed);
            if state.current.is_empty() {
                state.current = block;
            } else {
                state.next_block = Some(block);
            }
            serve_waiters(myself, state);
        }
        Err(error) => {
            tracing::error!(%error, "leasing an id block failed");
            for waiter in state.waiters.drain(..) {
                crate::reply(waiter, Err(IdError::Database(Arc::clone(&error))));
            }
        }
    }
}

fn maybe_start_refresh(myself: &ActorRef<IdAllocatorMessage>, state: &mut IdAllocatorState) {
    if state.refresh_in_flight || state.refresh_scheduled || state.refresh_waiters.is_empty() {
        return;
    }
    let since_last = state.last_refresh_start.map(|start| start.elapsed());
    if let Some(wait) = since_last.and_then(|elapsed| MIN_REFRESH_INTERVAL.checked_sub(elapsed)) {
        state.refresh_scheduled = true;
        myself.send_after(wait, || IdAllocatorMessage::StartRefresh);
        return;
    }

    let started_at = Instant::now();
    state.refresh_in_flight = true;
    state.last_refresh_start = Some(started_at);
    let db = state.arguments.db.clone();
    let sequence = state.arguments.sequence;
    let myself = myself.clone();
    tokio::spawn(async move {
        let result = db::ids::high_water(&db, sequence).await.map_err(Arc::new);
        let _ = myself.cast(IdAllocatorMessage::HighWaterRead { started_at, result });
    });
}

fn on_high_water_read(
    myself: &ActorRef<IdAllocatorMessage>,
    state: &mut IdAllocatorState,
    started_at: Instant,
    result: Result<u64, Arc<DbError>>,
) {
    state.refresh_in_flight = false;
    if let Ok(mark) = &result {
        state
            .arguments
            .high_water
            .fetch_max(*mark, Ordering::Relaxed);
    }

    // Only requests that arrived before this read started may use its result.
    let (served, waiting) = std::mem::take(&mut state.refresh_waiters)
        .into_iter()
        .partition::<Vec<_>, _>(|(requested_at, _)| *requested_at <= started_at);
    state.refresh_waiters = waiting;
    for (_, reply) in served {
        let answer = result.clone().map_err(IdError::Database);
        crate::reply(reply, answer);
    }
    maybe_start_refresh(myself, state);
}

/// A cheap, cloneable handle on the `IdAllocator`.
#[derive(Clone)]
pub struct IdAllocatorHandle {
    slot: ActorSlot<IdAllocatorMessage>,
    high_water: Arc<AtomicU64>,
}

impl IdAllocatorHandle {
    pub fn new(slot: ActorSlot<IdAllocatorMessage>, high_water: Arc<AtomicU64>) -> Self {
        Self { slot, high_water }
    }

    /// Returns a fresh id.
    pub async fn next(&self) -> Result<u64, IdError> {
        self.slot
            .call(IdAllocatorMessage::Next, CALL_TIMEOUT)
            .await?
    }

    /// Whether an id may have been allocated by any instance. Ids below the known high-water
    /// mark answer at once; others wait for a fresh read of the counter.
    pub async fn may_exist(&self, id: u64) -> Result<bool, IdError> {
        if id < self.high_water.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let requested_at = Instant::now();
        let mark = self
            .slot
            .call(
                |reply| IdAllocatorMessage::RefreshHighWater {
                    requested_at,
                    reply,
                },
                CALL_TIMEOUT,
            )
            .await??;
        Ok(id < mark)
    }
}
