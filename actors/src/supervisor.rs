//! The root supervisor: starts every actor linked to itself, restarts a failed child with
//! exponential backoff, and stops the children in reverse start order on shutdown.
//!
//! Callers never hold an `ActorRef` of a supervised actor directly. They hold an [`ActorSlot`],
//! which the supervisor refills after each restart, so a handle stays valid across restarts.

use futures_util::future::BoxFuture;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SpawnErr, SupervisionEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A child that ran this long since its last restart starts again from the first backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// How long each child gets to drain its mailbox and stop during shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The current `ActorRef` of a supervised actor, replaced by the supervisor on every restart.
pub struct ActorSlot<M> {
    name: &'static str,
    current: Arc<RwLock<Option<ActorRef<M>>>>,
}

impl<M> Clone for ActorSlot<M> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            current: Arc::clone(&self.current),
        }
    }
}

/// A supervised actor is not running, because it failed and waits for its restart or because
/// the application is shutting down.
#[derive(Debug, Clone, thiserror::Error)]
#[error("actor {name} is not running")]
pub struct ActorUnavailable {
    pub name: &'static str,
}

impl<M: ractor::Message> ActorSlot<M> {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            current: Arc::new(RwLock::new(None)),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Returns the running actor.
    pub fn get(&self) -> Result<ActorRef<M>, ActorUnavailable> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        current.clone().ok_or(ActorUnavailable { name: self.name })
    }

    pub fn set(&self, actor: ActorRef<M>) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Some(actor);
    }

    /// Sends `message` without waiting. A message to an actor that is restarting is dropped and
    /// logged at debug, which is what fire-and-forget senders want.
    pub fn cast(&self, message: M) {
        match self.get() {
            Ok(actor) => {
                if actor.cast(message).is_err() {
                    tracing::debug!(actor = self.name, "message dropped: actor is stopping");
                }
            }
            Err(error) => tracing::debug!(%error, "message dropped"),
        }
    }
}

/// Starts one supervised child: spawns it linked to the given supervisor, stores its new
/// `ActorRef` in the child's slot and returns its cell.
pub type StartFn =
    Box<dyn Fn(ActorCell) -> BoxFuture<'static, Result<ActorCell, SpawnErr>> + Send + Sync>;

/// One child of the supervisor.
pub struct ChildSpec {
    pub name: &'static str,
    pub start: StartFn,
}

impl ChildSpec {
    /// A child that is an ordinary actor started with `arguments()` and published in `slot`.
    pub fn actor<A, F>(slot: ActorSlot<A::Msg>, actor: A, arguments: F) -> Self
    where
        A: Actor + Clone,
        F: Fn() -> A::Arguments + Send + Sync + 'static,
    {
        let name = slot.name();
        let start: StartFn = Box::new(move |supervisor| {
            let slot = slot.clone();
            let actor = actor.clone();
            let arguments = arguments();
            Box::pin(async move {
                let (actor_ref, _) =
                    Actor::spawn_linked(None, actor, arguments, supervisor).await?;
                slot.set(actor_ref.clone());
                Ok(actor_ref.get_cell())
            })
        });
        Self { name, start }
    }
}

pub struct Supervisor;

pub struct SupervisorArguments {
    pub children: Vec<ChildSpec>,
    /// Incremented on every restart, for metrics.
    pub restarts: Arc<AtomicU64>,
}

pub enum SupervisorMessage {
    Restart(usize),
    /// Stops every child in reverse start order, letting each drain its mailbox first.
    Shutdown(ractor::RpcReplyPort<()>),
}

pub struct SupervisorState {
    children: Vec<ChildSpec>,
    running: HashMap<ActorId, usize>,
    cells: Vec<Option<ActorCell>>,
    backoff: Vec<(Duration, Instant)>,
    restarts: Arc<AtomicU64>,
    stopping: bool,
}

impl Actor for Supervisor {
    type Msg = SupervisorMessage;
    type State = SupervisorState;
    type Arguments = SupervisorArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let count = arguments.children.len();
        let mut state = SupervisorState {
            children: arguments.children,
            running: HashMap::new(),
            cells: vec![None; count],
            backoff: vec![(FIRST_BACKOFF, Instant::now()); count],
            restarts: arguments.restarts,
            stopping: false,
        };
        for index in 0..count {
            start_child(&myself, &mut state, index).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMessage::Restart(index) if !state.stopping => {
                if let Err(error) = start_child(&myself, state, index).await {
                    let name = state.children[index].name;
                    tracing::error!(actor = name, %error, "actor restart failed; retrying");
                    schedule_restart(&myself, state, index);
                }
            }
            SupervisorMessage::Restart(_) => {}
            SupervisorMessage::Shutdown(reply) => {
                state.stopping = true;
                stop_children(state).await;
                crate::reply(reply, ());
                myself.stop(None);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, Some(error.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, reason) => (cell, reason),
            _ => return Ok(()),
        };
        let Some(index) = state.running.remove(&cell.get_id()) else {
            return Ok(());
        };
        state.cells[index] = None;
        if state.stopping {
            return Ok(());
        }

        let name = state.children[index].name;
        let reason = failure.unwrap_or_else(|| "stopped unexpectedly".to_owned());
        tracing::error!(actor = name, error = %reason, "actor failed; restarting");
        schedule_restart(&myself, state, index);
        Ok(())
    }
}

async fn start_child(
    myself: &ActorRef<SupervisorMessage>,
    state: &mut SupervisorState,
    index: usize,
) -> Result<(), SpawnErr> {
    let cell = (state.children[index].start)(myself.get_cell()).await?;
    state.running.insert(cell.get_id(), index);
    state.cells[index] = Some(cell);
    tracing::debug!(actor = state.children[index].name, "actor started");
    Ok(())
}

fn schedule_restart(
    myself: &ActorRef<SupervisorMessage>,
    state: &mut SupervisorState,
    index: usize,
) {
    let (previous, last_restart) = state.backoff[index];
    let delay = if last_restart.elapsed() > STABLE_AFTER {
        FIRST_BACKOFF
    } else {
        previous
    };
    state.backoff[index] = ((delay * 2).min(MAX_BACKOFF), Instant::now());
    state.restarts.fetch_add(1, Ordering::Relaxed);
    myself.send_after(delay, move || SupervisorMessage::Restart(index));
}

async fn stop_children(state: &mut SupervisorState) {
    for index in (0..state.children.len()).rev() {
        let Some(cell) = state.cells[index].take() else {
            continue;
        };
        let name = state.children[index].name;
        if let Err(error) = cell.drain_and_wait(Some(STOP_TIMEOUT)).await {
            tracing::warn!(actor = name, %error, "actor did not drain in time; stopping it");
            cell.stop(None);
        }
        tracing::debug!(actor = name, "actor stopped");
    }
}

impl<M: ractor::Message> ActorSlot<M> {
    /// Sends a request built by `build` and waits up to `timeout` for the reply. A child that is
    /// restarting, stops before replying or misses the deadline gives [`ActorUnavailable`].
    pub async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(ractor::RpcReplyPort<T>) -> M,
        timeout: Duration,
    ) -> Result<T, ActorUnavailable> {
        let actor = self.get()?;
        match actor.call(build, Some(timeout)).await {
            Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
            Ok(ractor::rpc::CallResult::Timeout) => {
                tracing::warn!(actor = self.name, ?timeout, "actor call timed out");
                Err(ActorUnavailable { name: self.name })
            }
            Ok(ractor::rpc::CallResult::SenderError) | Err(_) => {
                Err(ActorUnavailable { name: self.name })
            }
        }
    }
}
