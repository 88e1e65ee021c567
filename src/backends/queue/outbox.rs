//! The embedded job queue: the `outbox` table, polled in process.
//!
//! A poller claims due rows under a lease and runs their handlers with bounded concurrency. On
//! success it deletes the row. A retryable failure reschedules it after a growing, jittered
//! delay, and a permanent failure or the last attempt parks it with its reason. Each claim
//! counts as an attempt, so a job whose runs keep ending without a result (a poller killed
//! mid-job) is parked too instead of looping forever. Several pollers, in one process or many,
//! share the table safely: see [`linkyard_actors::db::outbox::claim`].

use super::{
    ERROR_LOG_INTERVAL, LogLimiter, QueueConfig, checked_kinds, instance_id, is_stopping,
    run_handler, stopped,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use linkyard_actors::backends::queue::{Job, JobFailure, JobHandlers, JobQueue, QueueError};
use linkyard_actors::db::{self, outbox::OutboxRow};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

const BACKEND: &str = "outbox";

/// The outbox transport. [`JobQueue::wake`] wakes one idle poller started from it, or the next
/// one to go idle.
pub struct OutboxQueue {
    db: DatabaseConnection,
    config: Arc<QueueConfig>,
    wake: Arc<Notify>,
}

impl OutboxQueue {
    pub fn new(db: DatabaseConnection, config: QueueConfig) -> Self {
        Self {
            db,
            config: Arc::new(config),
            wake: Arc::new(Notify::new()),
        }
    }
}

#[async_trait]
impl JobQueue for OutboxQueue {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn wake(&self) {
        self.wake.notify_one();
    }

    async fn run_relay(&self, _shutdown: watch::Receiver<bool>) -> Result<(), QueueError> {
        Ok(())
    }

    async fn run_consumers(
        &self,
        handlers: JobHandlers,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        let kinds = checked_kinds(&handlers)?;
        if kinds.is_empty() {
            tracing::info!("no job handlers registered; the outbox poller does not start");
            return Ok(());
        }
        let (done, finished) = mpsc::unbounded_channel();
        let deleter = tokio::spawn(delete_finished(self.db.clone(), finished));
        let poller = Arc::new(Poller {
            db: self.db.clone(),
            config: Arc::clone(&self.config),
            owner: instance_id("poller"),
            handlers,
            kinds,
            done,
        });
        tracing::info!(owner = %poller.owner, kinds = ?poller.kinds, "outbox poller started");
        Arc::clone(&poller)
            .run(Arc::clone(&self.wake), shutdown)
            .await;
        // The runs have ended; once the last sender is gone the deleter drains and stops.
        drop(poller);
        if let Err(error) = deleter.await {
            tracing::warn!(%error, "the outbox row deleter failed");
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(db::ping(&self.db).await?)
    }
}

struct Poller {
    db: DatabaseConnection,
    config: Arc<QueueConfig>,
    /// This poller's lease owner id.
    owner: String,
    handlers: JobHandlers,
    kinds: Vec<String>,
    /// Rows of succeeded jobs, deleted in batches by [`delete_finished`].
    done: mpsc::UnboundedSender<i64>,
}

/// The outcome of a finished run: the time its job becomes due again, if it was rescheduled.
type RunOutcome = Option<DateTime<Utc>>;

impl Poller {
    /// Claims and runs jobs until shutdown, then waits for the runs in flight.
    async fn run(self: Arc<Self>, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        let mut running: JoinSet<RunOutcome> = JoinSet::new();
        let mut next_retry: Option<DateTime<Utc>> = None;
        let mut errors = LogLimiter::new(ERROR_LOG_INTERVAL);

        // Every claim is a write transaction, and on SQLite it waits for the one writer that
        // the group commits of new links also need. So under load the poller claims when half
        // its slots are free rather than after each finished job. A claim is never held back
        // longer than one poll interval.
        let claim_batch = (self.config.concurrency / 2).max(1);
        let mut last_claim: Option<Instant> = None;
        while !is_stopping(&shutdown) {
            while let Some(finished) = running.try_join_next() {
                record_outcome(finished, &mut next_retry);
            }
            let free = self.config.concurrency.saturating_sub(running.len());
            let due = free >= claim_batch
                || running.is_empty()
                || last_claim.is_none_or(|at| at.elapsed() >= self.config.poll_interval);
            if free > 0 && due {
                self.claim_and_start(free, &mut running, &mut errors).await;
                last_claim = Some(Instant::now());
            }

            // Sleep until the poll interval passes, a job this poller rescheduled is due, an
            // enqueue wakes it, a slot frees up or shutdown begins.
            let wait = wait_until(next_retry, self.config.poll_interval);
            tokio::select! {
                _ = stopped(&mut shutdown) => {}
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(finished) = running.join_next(), if !running.is_empty() => {
                    record_outcome(finished, &mut next_retry);
                }
            }
            if next_retry.is_some_and(|due| due <= Utc::now()) {
                next_retry = None;
            }
        }

        tracing::info!(owner = %self.owner, in_flight = running.len(), "outbox poller stopping");
        while let Some(finished) = running.join_next().await {
            record_outcome(finished, &mut next_retry);
        }
        tracing::info!(owner = %self.owner, "outbox poller stopped");
    }

    async fn claim_and_start(
        self: &Arc<Self>,
        free: usize,
        running: &mut JoinSet<RunOutcome>,
        errors: &mut LogLimiter,
    ) {
        let now = Utc::now();
        let claim = db::outbox::Claim {
            owner: &self.owner,
            now,
            lease_until: now + self.config.lease,
            limit: free as u64,
            kinds: Some(&self.kinds),
            count_attempt: true,
        };
        match db::outbox::claim(&self.db, claim).await {
            Ok(rows) => {
                if errors.has_failed() {
                    tracing::info!(owner = %self.owner, "outbox poller reaches the database again");
                    errors.reset();
                }
                for row in rows {
                    let poller = Arc::clone(self);
                    running.spawn(async move { poller.run_row(row).await });
                }
            }
            Err(error) => {
                if let Some(repeats) = errors.check() {
                    tracing::warn!(owner = %self.owner, %error, repeats, "claiming outbox jobs failed; retrying on the next poll");
                }
            }
        }
    }

    /// Runs the job of one claimed row and settles the row.
    async fn run_row(self: Arc<Self>, row: OutboxRow) -> RunOutcome {
        let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let span = tracing::info_span!(
            "job",
            queue = BACKEND,
            job_id = %row.job_id,
            kind = %row.kind,
            attempt,
            request_id = row.request_id.as_deref().unwrap_or(""),
        );
        async move {
            let outcome = match self.job_from_row(&row, attempt) {
                Ok(job) => self.run_leased(&row, &job).await,
                Err(failure) => Err(failure),
            };
            self.settle(&row, attempt, outcome).await
        }
        .instrument(span)
        .await
    }

    /// Builds the job of a row, or the failure that parks it without running.
    fn job_from_row(&self, row: &OutboxRow, attempt: u32) -> Result<Job, JobFailure> {
        if attempt > self.config.retry.max_attempts {
            let last = row.last_error.as_deref().unwrap_or("none");
            return Err(JobFailure::permanent(format!(
                "{} attempts ended without a result (a poller stopped mid-job or its lease ran out); last error: {last}",
                attempt - 1
            )));
        }
        let payload = serde_json::from_str(&row.payload).map_err(|error| {
            JobFailure::permanent(format!("the stored payload is not valid JSON: {error}"))
        })?;
        Ok(Job {
            id: row.job_id.clone(),
            kind: row.kind.clone(),
            payload,
            attempt,
            request_id: row.request_id.clone(),
        })
    }

    /// Runs the handler while renewing the row's lease, so that a long job keeps its row.
    async fn run_leased(&self, row: &OutboxRow, job: &Job) -> Result<(), JobFailure> {
        let Some(handler) = self.handlers.get(&job.kind) else {
            return Err(JobFailure::permanent(format!(
                "no handler for kind '{}'",
                job.kind
            )));
        };
        tokio::select! {
            result = run_handler(handler.as_ref(), job, self.config.job_timeout) => result,
            never = self.renew_lease(row.id) => match never {},
        }
    }

    /// Extends the lease every third of its length. Never returns; it stops renewing (and
    /// waits forever) once the lease is lost.
    async fn renew_lease(&self, id: i64) -> std::convert::Infallible {
        let period = self.config.lease / 3;
        loop {
            tokio::time::sleep(period).await;
            let until = Utc::now() + self.config.lease;
            match db::outbox::renew_lease(&self.db, id, &self.owner, until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("the job's lease was lost; another poller may run it too");
                    return std::future::pending().await;
                }
                Err(error) => tracing::warn!(%error, "renewing the job's lease failed"),
            }
        }
    }

    /// Deletes, reschedules or parks the row after a run.
    async fn settle(
        &self,
        row: &OutboxRow,
        attempt: u32,
        outcome: Result<(), JobFailure>,
    ) -> RunOutcome {
        let failure = match outcome {
            Ok(()) => {
                if self.done.send(row.id).is_err() {
                    tracing::error!(
                        "the job succeeded but its row cannot be deleted; it will run again"
                    );
                }
                tracing::debug!("job done");
                return None;
            }
            Err(failure) => failure,
        };

        let retry = self.config.retry.allows_retry_after(attempt);
        if failure.is_retryable() && retry {
            let delay = self.config.retry.jittered_delay_after(attempt);
            return self.reschedule(row, delay, failure.reason()).await;
        }
        self.park(row, attempt, &failure).await;
        None
    }

    async fn reschedule(&self, row: &OutboxRow, delay: Duration, reason: &str) -> RunOutcome {
        let due = Utc::now() + delay;
        let result = db::outbox::reschedule(&self.db, row.id, &self.owner, due, reason).await;
        match result {
            Ok(true) => {
                tracing::warn!(
                    reason,
                    retry_in_ms = delay.as_millis() as u64,
                    "job failed; it will run again"
                );
                Some(due)
            }
            Ok(false) => {
                tracing::warn!(
                    reason,
                    "job failed after its lease was lost; the new holder settles it"
                );
                None
            }
            Err(error) => {
                tracing::error!(%error, reason, "job failed and rescheduling it failed; it runs again when its lease runs out");
                None
            }
        }
    }

    async fn park(&self, row: &OutboxRow, attempt: u32, failure: &JobFailure) {
        let reason = failure.reason();
        match db::outbox::park(&self.db, row.id, &self.owner, Utc::now(), reason).await {
            Ok(true) => {
                crate::metrics::METRICS.job(&row.kind, crate::metrics::JobOutcome::Parked);
                tracing::error!(reason, attempts = attempt, "job parked")
            }
            Ok(false) => tracing::warn!(
                reason,
                "job failed after its lease was lost; the new holder settles it"
            ),
            Err(error) => {
                tracing::error!(%error, reason, "parking the job failed; it runs again when its lease runs out")
            }
        }
    }
}

fn record_outcome(
    finished: Result<RunOutcome, tokio::task::JoinError>,
    next_retry: &mut Option<DateTime<Utc>>,
) {
    match finished {
        Ok(Some(due)) => *next_retry = Some(next_retry.map_or(due, |current| current.min(due))),
        Ok(None) => {}
        // `run_handler` catches handlers' panics, so this is a panic in the settling code or a
        // cancelled task. The row's lease runs out and the job runs again.
        Err(error) => tracing::error!(%error, "an outbox job task failed"),
    }
}

/// Returns the time to sleep: the poll interval, or less when a rescheduled job is due sooner.
fn wait_until(next_retry: Option<DateTime<Utc>>, poll_interval: Duration) -> Duration {
    let Some(due) = next_retry else {
        return poll_interval;
    };
    let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    until_due.min(poll_interval)
}

/// Deletes the rows of succeeded jobs, many per statement: each SQLite write takes the one
/// writer, and one per job would compete with every other write. A row whose delete is lost
/// in a crash is run again when its lease runs out, which idempotent handlers allow.
async fn delete_finished(db: DatabaseConnection, mut finished: mpsc::UnboundedReceiver<i64>) {
    const BATCH: usize = 500;
    // Rows of jobs that finish meanwhile join the batch. Each delete is a write transaction, and
    // a row deleted late only means its job may run again after a crash, which jobs allow.
    const GATHER: Duration = Duration::from_millis(50);
    let mut ids = Vec::with_capacity(BATCH);
    while finished.recv_many(&mut ids, BATCH).await > 0 {
        if ids.len() < BATCH {
            tokio::time::sleep(GATHER).await;
            while ids.len() < BATCH {
                let Ok(id) = finished.try_recv() else {
                    break;
                };
                ids.push(id);
            }
        }
        if let Err(error) = db::outbox::delete_many(&db, &ids).await {
            tracing::error!(%error, jobs = ids.len(), "the jobs succeeded but deleting their rows failed; they will run again");
        }
        ids.clear();
    }
}
