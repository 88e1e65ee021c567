//! `QrWorker`: the pool that renders QR images.
//!
//! The workers belong to a ractor factory with queuer routing: the factory keeps one queue and
//! hands the next job to whichever worker is idle, so at most `workers` images render at once and
//! the rest wait in order. A worker renders on tokio's blocking thread pool (`spawn_blocking`),
//! so a 2048 px render never blocks an async thread. The worker waits for that render before it
//! takes the next job, so the pool size bounds the CPU spent on rendering.

use super::render::{QrFormat, Rendered, render};
use super::{QrError, QrOptions};
use crate::supervisor::{ActorSlot, ChildSpec, StartFn};
use ractor::factory::{FactoryMessage, Job, Worker, WorkerId};
use ractor::{ActorProcessingErr, ActorRef, RpcReplyPort};

/// Messages to the factory; jobs are keyed by the image's cache key.
pub type QrFactory = FactoryMessage<String, QrJob>;

pub enum QrJob {
    /// Renders one image.
    Render {
        data: String,
        options: QrOptions,
        format: QrFormat,
        reply: RpcReplyPort<Result<Rendered, QrError>>,
    },
    /// Makes the worker panic, so tests can check that the factory replaces it.
    InjectFailure,
}

/// Size of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrPoolConfig {
    /// Number of workers, so the number of images rendered at once.
    pub workers: usize,
    /// Jobs that may wait for a worker. A job beyond this is dropped at once, and its caller
    /// gets [`QrError::Unavailable`] instead of waiting behind a backlog.
    pub queue_limit: usize,
}

impl Default for QrPoolConfig {
    /// Sizes the pool at one worker per CPU, because rendering is CPU-bound, with a queue of 256
    /// jobs.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            workers: cpus,
            queue_limit: 256,
        }
    }
}

/// One worker of the pool. It keeps no state, so a restarted worker is as good as new.
pub struct QrWorker;

type Factory = ActorRef<QrFactory>;

impl Worker for QrWorker {
    type Key = String;
    type Message = QrJob;
    type Arguments = ();
    type State = ();

    async fn pre_start(
        &self,
        wid: WorkerId,
        _factory: &Factory,
        _arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        tracing::debug!(worker = wid, "qr worker started");
        Ok(())
    }

    async fn handle(
        &self,
        wid: WorkerId,
        _factory: &Factory,
        Job { msg, key, .. }: Job<String, QrJob>,
        _state: &mut Self::State,
    ) -> Result<String, ActorProcessingErr> {
        match msg {
            QrJob::Render {
                data,
                options,
                format,
                reply,
            } => {
                let result = render_blocking(data, options, format).await;
                crate::reply(reply, result);
            }
            QrJob::InjectFailure => panic!("failure injected into qr worker {wid}"),
        }
        Ok(key)
    }
}

/// Renders on the blocking thread pool. A panic in the encoder becomes an error for this one
/// request; the worker has no state that the panic could have corrupted.
async fn render_blocking(
    data: String,
    options: QrOptions,
    format: QrFormat,
) -> Result<Rendered, QrError> {
    let task = tokio::task::spawn_blocking(move || render(&data, &options, format));
    match task.await {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, %format, "qr render task failed");
            Err(QrError::EncodingFailed {
                format: "QR image",
                message: error.to_string(),
            })
        }
    }
}

/// Builds the supervisor's recipe for the pool: a factory of `config.workers` workers with
/// queuer routing, published in `slot`. The factory restarts a failed worker itself.
pub fn child_spec(slot: ActorSlot<QrFactory>, config: QrPoolConfig) -> ChildSpec {
    use ractor::factory::{
        DiscardMode, DiscardSettings, Factory, FactoryArguments, queues, routing, worker_builder,
    };
    let name = slot.name();
    let start: StartFn = Box::new(move |supervisor| {
        let slot = slot.clone();
        Box::pin(async move {
            let builder = worker_builder(|_wid: WorkerId| (QrWorker, ()));
            let factory = Factory::<
                String,
                QrJob,
                (),
                QrWorker,
                routing::QueuerRouting<String, QrJob>,
                queues::DefaultQueue<String, QrJob>,
            >::default();
            let arguments = FactoryArguments::builder()
                .worker_builder(Box::new(builder))
                .queue(Default::default())
                .router(Default::default())
                .num_initial_workers(config.workers.max(1))
                .discard_settings(DiscardSettings::Static {
                    limit: config.queue_limit,
                    mode: DiscardMode::Newest,
                })
                .build();
            let (actor, _) =
                ractor::Actor::spawn_linked(None, factory, arguments, supervisor).await?;
            slot.set(actor.clone());
            Ok(actor.get_cell())
        })
    });
    ChildSpec { name, start }
}
