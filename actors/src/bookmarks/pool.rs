//! `EnrichmentWorker`: the pool that runs bookmark enrichments.
//!
//! The workers belong to a ractor factory with queuer routing: the factory keeps one queue and
//! hands the next job to whichever worker is idle, so at most `workers` pages are fetched at
//! once however many jobs the queue delivers. The factory restarts a worker that panics.

use super::BookmarkJobPayload;
use super::enrich::{EnrichOutcome, Enricher};
use crate::backends::queue::JobFailure;
use crate::supervisor::{ActorSlot, ChildSpec, StartFn};
use ractor::factory::{FactoryMessage, Job, JobOptions, Worker, WorkerId};
use ractor::{ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;

/// Messages to the factory; jobs are keyed by bookmark id.
pub type EnrichFactory = FactoryMessage<i64, EnrichJob>;

pub enum EnrichJob {
    /// Enriches one bookmark.
    Enrich {
        payload: BookmarkJobPayload,
        attempt: u32,
        reply: RpcReplyPort<Result<EnrichOutcome, JobFailure>>,
    },
    /// Makes the worker panic, so tests can check that the factory replaces it.
    InjectFailure,
}

/// Size of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrichPoolConfig {
    /// Number of workers, so the number of enrichments at once.
    pub workers: usize,
    /// Jobs that may wait for a worker. A job beyond this is dropped and retried by the queue.
    pub queue_limit: usize,
}

/// One worker of the pool. Its state is the shared enricher, so a restarted worker is as good
/// as new.
pub struct EnrichmentWorker;

impl Worker for EnrichmentWorker {
    type Key = i64;
    type Message = EnrichJob;
    type Arguments = Arc<Enricher>;
    type State = Arc<Enricher>;

    async fn pre_start(
        &self,
        wid: WorkerId,
        _factory: &ActorRef<EnrichFactory>,
        enricher: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        tracing::debug!(worker = wid, "enrichment worker started");
        Ok(enricher)
    }

    async fn handle(
        &self,
        wid: WorkerId,
        _factory: &ActorRef<EnrichFactory>,
        Job { msg, key, .. }: Job<i64, EnrichJob>,
        enricher: &mut Self::State,
    ) -> Result<i64, ActorProcessingErr> {
        match msg {
            EnrichJob::Enrich {
                payload,
                attempt,
                reply,
            } => {
                let outcome = enricher.run(payload, attempt).await;
                crate::reply(reply, outcome);
            }
            EnrichJob::InjectFailure => panic!("failure injected into enrichment worker {wid}"),
        }
        Ok(key)
    }
}

/// The cheap, cloneable handle that the job handler sends enrichments through.
#[derive(Clone)]
pub struct EnrichmentPool {
    slot: ActorSlot<EnrichFactory>,
    /// How long a job waits for its enrichment, queueing included.
    timeout: Duration,
}

impl EnrichmentPool {
    pub fn new(slot: ActorSlot<EnrichFactory>, timeout: Duration) -> Self {
        Self { slot, timeout }
    }

    /// Runs one enrichment on the pool and waits for it. A pool that is restarting, full or
    /// too slow is a retryable failure, so the queue delivers the job again later.
    pub async fn enrich(
        &self,
        payload: BookmarkJobPayload,
        attempt: u32,
    ) -> Result<EnrichOutcome, JobFailure> {
        let options = JobOptions::new(Some(self.timeout));
        let build = |reply| {
            let job = EnrichJob::Enrich {
                payload,
                attempt,
                reply,
            };
            EnrichFactory::Dispatch(Job::with_options(payload.bookmark_id, job, options))
        };
        self.slot
            .call(build, self.timeout)
            .await
            .map_err(JobFailure::retryable)?
    }

    /// Makes one worker panic, for the restart test.
    pub fn inject_failure(&self) {
        self.slot.cast(EnrichFactory::Dispatch(Job::new(
            0,
            EnrichJob::InjectFailure,
        )));
    }
}

/// Builds the supervisor's recipe for the pool: a factory of `config.workers` workers with
/// queuer routing, published in `slot`.
pub fn child_spec(
    slot: ActorSlot<EnrichFactory>,
    config: EnrichPoolConfig,
    enricher: Arc<Enricher>,
) -> ChildSpec {
    use ractor::factory::{
        DiscardMode, DiscardSettings, Factory, FactoryArguments, queues, routing, worker_builder,
    };
    let name = slot.name();
    let start: StartFn = Box::new(move |supervisor| {
        let slot = slot.clone();
        let enricher = Arc::clone(&enricher);
        Box::pin(async move {
            let builder =
                worker_builder(move |_wid: WorkerId| (EnrichmentWorker, Arc::clone(&enricher)));
            let factory = Factory::<
                i64,
                EnrichJob,
                Arc<Enricher>,
                EnrichmentWorker,
                routing::QueuerRouting<i64, EnrichJob>,
                queues::DefaultQueue<i64, EnrichJob>,
            >::default();
            let arguments = FactoryArguments::builder()
                .worker_builder(Box::new(builder))
                .queue(Default::default())
                .router(Default::default())
                .num_initial_workers(config.workers.max(1))
                .discard_settings(DiscardSettings::Static {
                    limit: config.queue_limit.max(1),
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
