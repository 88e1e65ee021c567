//! `PasteStore`: the supervised actor that owns paste operations and the sweeper schedule.
//!
//! Each request runs on a task of its own and replies from there, so one slow upload or
//! password check does not hold up the mailbox. Sweeps never overlap: a scheduled sweep that
//! comes while one runs is skipped, and `linkyard sweep` waits for the running one to finish
//! and then gets a fresh run.

use super::core::PasteCore;
use super::{CreatedPaste, DeleteAuth, NewPaste, PasteError, PasteRules, SweepReport};
use crate::backends::blob::BlobStore;
use crate::db::entities::pastes::Model as PasteRow;
use crate::supervisor::{ActorSlot, ActorUnavailable, ChildSpec};
use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Covers the largest upload to a slow blob store and an Argon2 hash.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const SWEEP_TIMEOUT: Duration = Duration::from_secs(600);

type Reply<T> = RpcReplyPort<Result<T, PasteError>>;

pub enum PasteMessage {
    Create(NewPaste, Reply<CreatedPaste>),
    /// Queues a row for the next group commit and replies once it is committed.
    Insert(Box<PasteRow>, Reply<()>),
    BatchCommitted,
    /// A paste's metadata, if the caller may see it. The password is not checked.
    Lookup(String, Option<i64>, Reply<PasteRow>),
    /// Metadata and body of a paste that is not burn-after-reading.
    Content(
        String,
        Option<i64>,
        Option<String>,
        Reply<(PasteRow, Bytes)>,
    ),
    /// Metadata and body; deletes a burn-after-reading paste.
    Reveal(
        String,
        Option<i64>,
        Option<String>,
        Reply<(PasteRow, Bytes)>,
    ),
    /// Checks the password of a paste the caller may see.
    Unlock(String, Option<i64>, Option<String>, Reply<PasteRow>),
    Delete(String, DeleteAuth, Reply<()>),
    /// Runs a sweep. `None` is the scheduled run, whose result goes only to the log.
    Sweep(Option<Reply<SweepReport>>),
    SweepFinished(Result<SweepReport, Arc<PasteError>>),
    /// Makes the actor fail, to exercise supervision in tests.
    InjectFailure,
}

#[derive(Clone)]
pub struct PasteStore;

pub struct PasteStoreArguments {
    pub db: DatabaseConnection,
    pub blobs: Arc<dyn BlobStore>,
    pub rules: PasteRules,
}

pub struct PasteStoreState {
    core: Arc<PasteCore>,
    sweeping: bool,
    /// Callers of an explicit sweep that arrived while another sweep ran.
    waiting: Vec<Reply<SweepReport>>,
    /// Callers of the sweep that runs now.
    current: Vec<Reply<SweepReport>>,
    schedule: Option<JoinHandle<()>>,
    pending: Vec<(PasteRow, Reply<()>)>,
    committing: bool,
}

/// The maximum rows in one group commit. Both databases accept this many bind parameters.
const MAX_BATCH: usize = 500;

impl Actor for PasteStore {
    type Msg = PasteMessage;
    type State = PasteStoreState;
    type Arguments = PasteStoreArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let interval = arguments.rules.sweep_interval;
        let schedule = (!interval.is_zero()).then(|| spawn_schedule(myself, interval));
        Ok(PasteStoreState {
            core: Arc::new(PasteCore {
                db: arguments.db,
                blobs: arguments.blobs,
                rules: arguments.rules,
            }),
            sweeping: false,
            waiting: Vec::new(),
            current: Vec::new(),
            schedule,
            pending: Vec::new(),
            committing: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let core = Arc::clone(&state.core);
        match message {
            PasteMessage::Create(input, reply) => {
                let myself = myself.clone();
                respond(reply, async move {
                    core.create(input, |row| insert_row(myself, row)).await
                })
            }
            PasteMessage::Insert(row, reply) => {
                state.pending.push((*row, reply));
                commit_next_batch(&myself, state);
            }
            PasteMessage::BatchCommitted => {
                state.committing = false;
                commit_next_batch(&myself, state);
            }
            PasteMessage::Lookup(id, caller, reply) => {
                respond(reply, async move { core.lookup(&id, caller).await })
            }
            PasteMessage::Content(id, caller, password, reply) => {
                respond(
                    reply,
                    async move { core.content(&id, caller, password).await },
                )
            }
            PasteMessage::Reveal(id, caller, password, reply) => {
                respond(
                    reply,
                    async move { core.reveal(&id, caller, password).await },
                )
            }
            PasteMessage::Unlock(id, caller, password, reply) => respond(reply, async move {
                let row = core.lookup(&id, caller).await?;
                core.check_password(&row, password).await?;
                Ok(row)
            }),
            PasteMessage::Delete(id, auth, reply) => {
                respond(reply, async move { core.delete(&id, auth).await })
            }
            PasteMessage::Sweep(reply) => {
                state.waiting.extend(reply);
                start_sweep(&myself, state);
            }
            PasteMessage::SweepFinished(result) => finish_sweep(&myself, state, result),
            PasteMessage::InjectFailure => return Err("injected paste store failure".into()),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(schedule) = state.schedule.take() {
            schedule.abort();
        }
        // Rows still pending were never acknowledged; commit them anyway so a create that
        // raced the shutdown keeps its paste.
        while !state.pending.is_empty() {
            let take = state.pending.len().min(MAX_BATCH);
            let batch: Vec<_> = state.pending.drain(..take).collect();
            commit(&state.core, batch).await;
        }
        Ok(())
    }
}

/// Runs `work` on its own task and sends its result to the caller.
fn respond<T, F>(reply: Reply<T>, work: F)
where
    T: Send + 'static,
    F: Future<Output = Result<T, PasteError>> + Send + 'static,
{
    tokio::spawn(async move { crate::reply(reply, work.await) });
}

/// Sends a row to the actor's group commit and waits until it is committed.
async fn insert_row(myself: ActorRef<PasteMessage>, row: PasteRow) -> Result<(), PasteError> {
    let sent = myself
        .call(
            |reply| PasteMessage::Insert(Box::new(row), reply),
            Some(CALL_TIMEOUT),
        )
        .await;
    match sent {
        Ok(ractor::rpc::CallResult::Success(result)) => result,
        _ => Err(PasteError::Unavailable(ActorUnavailable {
            name: "paste_store",
        })),
    }
}

/// Starts committing the pending rows unless a commit is running; the next batch collects
/// meanwhile.
fn commit_next_batch(myself: &ActorRef<PasteMessage>, state: &mut PasteStoreState) {
    if state.committing || state.pending.is_empty() {
        return;
    }
    let take = state.pending.len().min(MAX_BATCH);
    let batch: Vec<_> = state.pending.drain(..take).collect();
    state.committing = true;
    let core = Arc::clone(&state.core);
    let myself = myself.clone();
    tokio::spawn(async move {
        commit(&core, batch).await;
        let _ = myself.cast(PasteMessage::BatchCommitted);
    });
}

async fn commit(core: &PasteCore, batch: Vec<(PasteRow, Reply<()>)>) {
    let (rows, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let size = rows.len();
    match crate::db::pastes::insert_batch(&core.db, rows).await {
        Ok(()) => {
            tracing::debug!(size, "paste batch committed");
            for reply in replies {
                crate::reply(reply, Ok(()));
            }
        }
        Err(error) => {
            tracing::error!(%error, size, "paste batch failed");
            let error = Arc::new(error);
            for reply in replies {
                crate::reply(reply, Err(PasteError::Database(Arc::clone(&error))));
            }
        }
    }
}

fn spawn_schedule(myself: ActorRef<PasteMessage>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick fires at once; the first sweep waits one interval after start-up.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if myself.cast(PasteMessage::Sweep(None)).is_err() {
                break;
            }
        }
    })
}

fn start_sweep(myself: &ActorRef<PasteMessage>, state: &mut PasteStoreState) {
    if state.sweeping {
        return;
    }
    state.sweeping = true;
    state.current = std::mem::take(&mut state.waiting);
    let core = Arc::clone(&state.core);
    let myself = myself.clone();
    tokio::spawn(async move {
        let result = core.sweep().await.map_err(Arc::new);
        let _ = myself.cast(PasteMessage::SweepFinished(result));
    });
}

fn finish_sweep(
    myself: &ActorRef<PasteMessage>,
    state: &mut PasteStoreState,
    result: Result<SweepReport, Arc<PasteError>>,
) {
    state.sweeping = false;
    match &result {
        Ok(report) if report.expired > 0 || report.orphans > 0 => {
            tracing::info!(
                expired = report.expired,
                orphans = report.orphans,
                "paste sweep finished"
            );
        }
        Ok(_) => tracing::debug!("paste sweep found nothing to delete"),
        Err(error) => tracing::warn!(%error, "paste sweep failed; the next run retries"),
    }
    for reply in std::mem::take(&mut state.current) {
        let outcome = match &result {
            Ok(report) => Ok(*report),
            Err(error) => Err(PasteError::SweepFailed {
                message: error.to_string(),
            }),
        };
        crate::reply(reply, outcome);
    }
    if !state.waiting.is_empty() {
        start_sweep(myself, state);
    }
}

/// Builds the supervisor's recipe for the paste actor.
pub fn child_spec(
    slot: ActorSlot<PasteMessage>,
    arguments: impl Fn() -> PasteStoreArguments + Send + Sync + 'static,
) -> ChildSpec {
    ChildSpec::actor(slot, PasteStore, arguments)
}

/// How long a read paste stays in the per-instance hot cache.
// NOTE: a paste deleted through another instance stays readable here for up to this long.
// Expiry is exact, because every hit checks `expires_at`.
const HOT_TTL: Duration = Duration::from_secs(1);
/// Pastes larger than this are not cached.
const HOT_MAX_PASTE_BYTES: usize = 256 * 1024;
/// The total size of the cached bodies.
const HOT_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

type HotPaste = Arc<(PasteRow, Bytes)>;

/// The cheap, cloneable handle that request handlers use. Reads of pastes without a password
/// or burn-after-reading are served from a small per-instance cache, so a hot paste does not
/// cost a database and blob store read per request.
#[derive(Clone)]
pub struct Pastes {
    slot: ActorSlot<PasteMessage>,
    rules: Arc<PasteRules>,
    hot: moka::sync::Cache<String, HotPaste>,
}

impl Pastes {
    pub fn new(slot: ActorSlot<PasteMessage>, rules: PasteRules) -> Self {
        let hot = moka::sync::Cache::builder()
            .max_capacity(HOT_CAPACITY_BYTES)
            .weigher(|_: &String, paste: &HotPaste| {
                u32::try_from(paste.1.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(HOT_TTL)
            .build();
        Self {
            slot,
            rules: Arc::new(rules),
            hot,
        }
    }

    /// Returns a cached paste if it is still live and `caller` may see it.
    fn cached(&self, id: &str, caller: Option<i64>) -> Option<(PasteRow, Bytes)> {
        let paste = self.hot.get(id)?;
        let (row, bytes) = paste.as_ref();
        let live = row.expires_at.is_none_or(|at| at > chrono::Utc::now());
        let visible = !row.private || (caller.is_some() && row.owner_id == caller);
        (live && visible).then(|| (row.clone(), bytes.clone()))
    }

    pub fn rules(&self) -> &PasteRules {
        &self.rules
    }

    pub async fn create(&self, input: NewPaste) -> Result<CreatedPaste, PasteError> {
        self.slot
            .call(|reply| PasteMessage::Create(input, reply), CALL_TIMEOUT)
            .await?
    }

    pub async fn lookup(&self, id: &str, caller: Option<i64>) -> Result<PasteRow, PasteError> {
        let id = id.to_owned();
        self.slot
            .call(
                |reply| PasteMessage::Lookup(id, caller, reply),
                CALL_TIMEOUT,
            )
            .await?
    }

    pub async fn content(
        &self,
        id: &str,
        caller: Option<i64>,
        password: Option<String>,
    ) -> Result<(PasteRow, Bytes), PasteError> {
        if let Some(hit) = self.cached(id, caller) {
            return Ok(hit);
        }
        let owned_id = id.to_owned();
        let (row, bytes) = self
            .slot
            .call(
                |reply| PasteMessage::Content(owned_id, caller, password, reply),
                CALL_TIMEOUT,
            )
            .await??;
        if row.password_hash.is_none() && !row.burn && bytes.len() <= HOT_MAX_PASTE_BYTES {
            let paste = Arc::new((row.clone(), bytes.clone()));
            self.hot.insert(row.id.clone(), paste);
        }
        Ok((row, bytes))
    }

    pub async fn reveal(
        &self,
        id: &str,
        caller: Option<i64>,
        password: Option<String>,
    ) -> Result<(PasteRow, Bytes), PasteError> {
        let id = id.to_owned();
        self.slot
            .call(
                |reply| PasteMessage::Reveal(id, caller, password, reply),
                CALL_TIMEOUT,
            )
            .await?
    }

    pub async fn unlock(
        &self,
        id: &str,
        caller: Option<i64>,
        password: Option<String>,
    ) -> Result<PasteRow, PasteError> {
        let id = id.to_owned();
        self.slot
            .call(
                |reply| PasteMessage::Unlock(id, caller, password, reply),
                CALL_TIMEOUT,
            )
            .await?
    }

    pub async fn delete(&self, id: &str, auth: DeleteAuth) -> Result<(), PasteError> {
        let owned_id = id.to_owned();
        let deleted = self
            .slot
            .call(
                |reply| PasteMessage::Delete(owned_id, auth, reply),
                CALL_TIMEOUT,
            )
            .await?;
        self.hot.invalidate(id);
        deleted
    }

    /// Makes the actor fail, to exercise supervision in tests.
    #[doc(hidden)]
    pub fn inject_failure(&self) -> Result<(), ActorUnavailable> {
        let actor = self.slot.get()?;
        actor
            .cast(PasteMessage::InjectFailure)
            .map_err(|_| ActorUnavailable {
                name: self.slot.name(),
            })
    }

    /// Runs one sweep now and returns what it deleted.
    pub async fn sweep(&self) -> Result<SweepReport, PasteError> {
        self.slot
            .call(|reply| PasteMessage::Sweep(Some(reply)), SWEEP_TIMEOUT)
            .await?
    }
}
