//! `IdAllocator`: hands out unique 64-bit ids from blocks leased from the database.
//!
//! Each lease is one atomic `UPDATE … RETURNING` on a counter row, so instances sharing a database
//! never hand out the same id. The next block is leased in the background once a fifth of the
//! current block is left, so `next` rarely waits for the database.
//!
//! The allocator also tracks the high-water mark: the first id that no instance had leased at the
//! last read of the counter. It reads the counter on every lease and once every
//! [`HIGH_WATER_REFRESH`] in the background, never on a request. Another instance may have
//! leased newer blocks since the last read, so ids up to `slack` above the mark still count as
//! possible; a code whose id lies beyond that cannot exist and is a 404 without a database read.

use crate::db::{self, DbError};
use crate::supervisor::{ActorSlot, ActorUnavailable};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sea_orm::DatabaseConnection;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the high-water mark is read from the database in the background.
pub const HIGH_WATER_REFRESH: Duration = Duration::from_secs(1);
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
    BlockLeased(Result<Range<u64>, Arc<DbError>>),
    RefreshHighWater,
}

pub struct IdAllocatorState {
    arguments: IdAllocatorArguments,
    current: Range<u64>,
    next_block: Option<Range<u64>>,
    leasing: bool,
    waiters: VecDeque<RpcReplyPort<Result<u64, IdError>>>,
    refreshing: Arc<std::sync::atomic::AtomicBool>,
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
            waiters: VecDeque::new(),
            refreshing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        start_lease(&myself, &mut state);
        myself.send_interval(HIGH_WATER_REFRESH, || IdAllocatorMessage::RefreshHighWater);
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
                state.waiters.push_back(reply);
                serve_waiters(&myself, state);
            }
            IdAllocatorMessage::BlockLeased(result) => on_block_leased(&myself, state, result),
            IdAllocatorMessage::RefreshHighWater => refresh_high_water(state),
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
        if let Some(waiter) = state.waiters.pop_front() {
            crate::reply(waiter, Ok(id));
        }
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

/// Reads the counter in the background. A read still running when the next tick comes is not
/// doubled, so a slow database never piles up reads.
fn refresh_high_water(state: &mut IdAllocatorState) {
    if state.refreshing.swap(true, Ordering::AcqRel) {
        return;
    }
    let db = state.arguments.db.clone();
    let sequence = state.arguments.sequence;
    let high_water = Arc::clone(&state.arguments.high_water);
    let refreshing = Arc::clone(&state.refreshing);
    tokio::spawn(async move {
        match db::ids::high_water(&db, sequence).await {
            Ok(mark) => {
                high_water.fetch_max(mark, Ordering::Relaxed);
            }
            Err(error) => tracing::debug!(%error, "reading the id high-water mark failed"),
        }
        refreshing.store(false, Ordering::Release);
    });
}

/// A cheap, cloneable handle on the `IdAllocator`.
#[derive(Clone)]
pub struct IdAllocatorHandle {
    slot: ActorSlot<IdAllocatorMessage>,
    high_water: Arc<AtomicU64>,
    slack: u64,
}

impl IdAllocatorHandle {
    /// `slack` is how far above the last known high-water mark an id still counts as possible,
    /// to cover blocks that other instances leased since the last read of the counter.
    pub fn new(
        slot: ActorSlot<IdAllocatorMessage>,
        high_water: Arc<AtomicU64>,
        slack: u64,
    ) -> Self {
        Self {
            slot,
            high_water,
            slack,
        }
    }

    /// Returns a fresh id.
    pub async fn next(&self) -> Result<u64, IdError> {
        self.slot
            .call(IdAllocatorMessage::Next, CALL_TIMEOUT)
            .await?
    }

    /// Whether any instance may have allocated `id`. Answers from memory, without a database
    /// read.
    pub fn may_exist(&self, id: u64) -> bool {
        let mark = self.high_water.load(Ordering::Relaxed);
        id < mark.saturating_add(self.slack)
    }
}
