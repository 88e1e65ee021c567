//! The consumers: one per kind with a handler, on one channel with a prefetch limit, and at
//! most `concurrency` jobs running at once.
//!
//! A message is acknowledged only after its handler returned `Ok`. A retryable failure is
//! published to the delay tier for its attempt, whose queue dead-letters it back to the work
//! queue when the delay ends. A permanent failure or the last attempt goes to the parking queue.
//! The broker confirms either copy before the original is acknowledged, so a crash in between
//! can duplicate a job but does not lose it.
//!
//! Classic queues do not count deliveries, so a redelivered message (its consumer died or lost
//! the connection before acknowledging) is published again with its attempt number raised and
//! then acknowledged. That way a job that crashes its worker is parked after `max_attempts`
//! instead of crashing workers forever.

use super::{
    ATTEMPT_HEADER, JobMessage, LAST_ERROR_HEADER, OPERATION_TIMEOUT, REQUEST_ID_HEADER,
    RabbitMqQueue, Topology, close_connection, header_number, header_text, publish_confirmed,
};
use crate::backends::queue::{
    Backoff, ERROR_LOG_INTERVAL, LogLimiter, QueueConfig, checked_kinds, instance_id, is_stopping,
    run_handler, sleep_or_stop, stopped,
};
use futures_util::StreamExt;
use futures_util::stream::SelectAll;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection};
use linkyard_actors::backends::queue::{Job, JobFailure, JobHandlers, QueueError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// How long a retry or parking publish may wait for its confirm.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// A session that lasted this long resets the reconnection backoff.
const STABLE_SESSION: Duration = Duration::from_secs(30);
/// The last error recorded on a message that came back without an acknowledgement.
const UNACKNOWLEDGED: &str = "the previous delivery ended without an acknowledgement (its consumer stopped or lost the connection)";

/// Consumes the kinds of `handlers` until `shutdown` turns true, reconnecting with backoff
/// whenever the broker goes away. On shutdown it cancels its consumers, waits for the jobs in
/// flight to be acknowledged and closes its connection.
pub(super) async fn run(
    queue: &RabbitMqQueue,
    handlers: JobHandlers,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), QueueError> {
    let kinds = checked_kinds(&handlers)?;
    if kinds.is_empty() {
        tracing::info!("no job handlers registered; the RabbitMQ consumers do not start");
        return Ok(());
    }
    let mut consumer = Consumers {
        queue,
        owner: instance_id("consumer"),
        kinds,
        context: Arc::new(JobContext {
            handlers,
            config: Arc::clone(&queue.config),
            topology: Arc::clone(&queue.topology),
        }),
        permits: Arc::new(Semaphore::new(queue.config.concurrency)),
        running: JoinSet::new(),
        errors: LogLimiter::new(ERROR_LOG_INTERVAL),
    };
    let mut backoff = Backoff::new(queue.config.reconnect_max);
    tracing::info!(owner = %consumer.owner, kinds = ?consumer.kinds, "RabbitMQ consumers starting");

    while !is_stopping(&shutdown) {
        let started = Instant::now();
        let error = match consumer.open_session().await {
            Ok(session) => match consumer.consume(session, &mut shutdown).await {
                SessionEnd::Shutdown(session) => {
                    consumer.drain().await;
                    close_connection(&session.connection, "consumer stopping").await;
                    tracing::info!(owner = %consumer.owner, "RabbitMQ consumers stopped");
                    return Ok(());
                }
                SessionEnd::Failed(error) => error,
            },
            Err(error) => error,
        };

        if let Some(repeats) = consumer.errors.check() {
            tracing::warn!(owner = %consumer.owner, %error, repeats, "RabbitMQ consumers lost the broker; reconnecting");
        }
        if started.elapsed() >= STABLE_SESSION {
            backoff.reset();
        }
        if sleep_or_stop(backoff.next_delay(), &mut shutdown).await {
            break;
        }
    }
    consumer.drain().await;
    tracing::info!(owner = %consumer.owner, "RabbitMQ consumers stopped");
    Ok(())
}

struct Consumers<'a> {
    queue: &'a RabbitMqQueue,
    /// Prefix of the consumer tags.
    owner: String,
    kinds: Vec<String>,
    context: Arc<JobContext>,
    /// One permit per job that may run at once.
    permits: Arc<Semaphore>,
    /// The running jobs, kept across reconnections so that shutdown waits for all of them.
    running: JoinSet<()>,
    errors: LogLimiter,
}

struct Session {
    connection: Connection,
    /// The confirm-mode channel for retry and parking publishes.
    publisher: Channel,
    consume_channel: Channel,
    tags: Vec<ShortString>,
    deliveries: SelectAll<lapin::Consumer>,
}

enum SessionEnd {
    Shutdown(Box<Session>),
    Failed(QueueError),
}

impl Consumers<'_> {
    async fn open_session(&mut self) -> Result<Session, QueueError> {
        let connection = self.queue.connect("consumer").await?;
        let broken = |error: lapin::Error| super::unavailable("open consumer session", &error);

        let publisher = connection.create_channel().await.map_err(broken)?;
        let topology = &self.queue.topology;
        topology.declare_shared(&publisher).await.map_err(broken)?;
        for kind in &self.kinds {
            topology
                .declare_kind(&publisher, kind)
                .await
                .map_err(broken)?;
        }
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broken)?;

        let consume_channel = connection.create_channel().await.map_err(broken)?;
        consume_channel
            .basic_qos(self.queue.config.prefetch, BasicQosOptions::default())
            .await
            .map_err(broken)?;
        let mut tags = Vec::with_capacity(self.kinds.len());
        let mut deliveries = SelectAll::new();
        for kind in &self.kinds {
            let tag = ShortString::from(format!("{}-{kind}", self.owner));
            let consumer = consume_channel
                .basic_consume(
                    topology.work_queue(kind).into(),
                    tag.clone(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(broken)?;
            tags.push(tag);
            deliveries.push(consumer);
        }

        if self.errors.has_failed() {
            tracing::info!(owner = %self.owner, "RabbitMQ consumers reconnected");
            self.errors.reset();
        } else {
            tracing::info!(owner = %self.owner, "RabbitMQ consumers connected");
        }
        Ok(Session {
            connection,
            publisher,
            consume_channel,
            tags,
            deliveries,
        })
    }

    /// Starts a job for each delivery until shutdown or a broker failure.
    async fn consume(
        &mut self,
        mut session: Session,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        loop {
            let delivery = tokio::select! {
                _ = stopped(shutdown) => return self.stop_consuming(session).await,
                Some(finished) = self.running.join_next(), if !self.running.is_empty() => {
                    log_task_failure(finished);
                    continue;
                }
                next = session.deliveries.next() => next,
            };
            let delivery = match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => {
                    return SessionEnd::Failed(super::unavailable("consume", &error));
                }
                None => {
                    return SessionEnd::Failed(QueueError::Unavailable {
                        backend: super::BACKEND,
                        operation: "consume",
                        message: "the broker cancelled the consumers".to_owned(),
                    });
                }
            };

            // Wait for a free slot. A delivery dropped here is unacknowledged, so the broker
            // returns it to the queue when the channel closes.
            let permit = tokio::select! {
                _ = stopped(shutdown) => return self.stop_consuming(session).await,
                permit = Arc::clone(&self.permits).acquire_owned() => permit,
            };
            let Ok(permit) = permit else {
                return self.stop_consuming(session).await;
            };
            let context = Arc::clone(&self.context);
            let publisher = session.publisher.clone();
            self.running
                .spawn(async move { context.handle_delivery(publisher, delivery, permit).await });
        }
    }

    /// Cancels the consumers so the broker sends nothing more. Deliveries already buffered
    /// stay unacknowledged and return to their queue when the connection closes.
    // NOTE: the broker marks those returned deliveries as redelivered, so each graceful stop
    // counts one attempt against up to `prefetch` jobs per kind that never started.
    async fn stop_consuming(&mut self, session: Session) -> SessionEnd {
        for tag in &session.tags {
            let cancel = session
                .consume_channel
                .basic_cancel(tag.clone(), BasicCancelOptions::default());
            match tokio::time::timeout(OPERATION_TIMEOUT, cancel).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::debug!(%error, consumer_tag = %tag, "cancelling a consumer failed");
                }
                Err(_) => {
                    tracing::warn!(consumer_tag = %tag, "cancelling a consumer timed out; closing the connection stops it");
                }
            }
        }
        tracing::info!(owner = %self.owner, in_flight = self.running.len(), "RabbitMQ consumers stopping");
        SessionEnd::Shutdown(Box::new(session))
    }

    async fn drain(&mut self) {
        while let Some(finished) = self.running.join_next().await {
            log_task_failure(finished);
        }
    }
}

fn log_task_failure(finished: Result<(), tokio::task::JoinError>) {
    // `run_handler` catches handlers' panics, so this is a panic in the settling code or a
    // cancelled task. The broker redelivers the unacknowledged message.
    if let Err(error) = finished {
        tracing::error!(%error, "a RabbitMQ job task failed");
    }
}

/// The handlers, settings and names that every job task shares.
struct JobContext {
    handlers: JobHandlers,
    config: Arc<QueueConfig>,
    topology: Arc<Topology>,
}

impl JobContext {
    async fn handle_delivery(
        &self,
        publisher: Channel,
        delivery: Delivery,
        _permit: OwnedSemaphorePermit,
    ) {
        let job = match job_from_delivery(&delivery) {
            Ok(job) => job,
            Err(reason) => return self.park_unreadable(&publisher, &delivery, &reason).await,
        };
        let span = tracing::info_span!(
            "job",
            queue = super::BACKEND,
            job_id = %job.id,
            kind = %job.kind,
            attempt = job.attempt,
            request_id = job.request_id.as_deref().unwrap_or(""),
        );
        async {
            if delivery.redelivered {
                return self.count_redelivery(&publisher, &delivery, &job).await;
            }
            let outcome = match self.handlers.get(&job.kind) {
                Some(handler) => run_handler(handler.as_ref(), &job, self.config.job_timeout).await,
                None => Err(JobFailure::permanent(format!(
                    "no handler for kind '{}'",
                    job.kind
                ))),
            };
            self.settle(&publisher, &delivery, &job, outcome).await;
        }
        .instrument(span)
        .await
    }

    async fn settle(
        &self,
        publisher: &Channel,
        delivery: &Delivery,
        job: &Job,
        outcome: Result<(), JobFailure>,
    ) {
        let failure = match outcome {
            Ok(()) => {
                ack(delivery).await;
                tracing::debug!("job done");
                return;
            }
            Err(failure) => failure,
        };
        if failure.is_retryable() && self.config.retry.allows_retry_after(job.attempt) {
            self.schedule_retry(publisher, delivery, job, failure.reason())
                .await;
        } else {
            self.park(publisher, delivery, job, failure.reason()).await;
        }
    }

    /// Publishes the job to the delay tier of its attempt, then acknowledges the original.
    async fn schedule_retry(
        &self,
        publisher: &Channel,
        delivery: &Delivery,
        job: &Job,
        reason: &str,
    ) {
        let exchange = self.topology.retry_exchange_after(job.attempt);
        let message = message_for(job, job.attempt + 1, reason, delivery);
        let published = publish_confirmed(
            publisher,
            &exchange,
            &job.kind,
            &delivery.data,
            message.properties(),
            CONFIRM_TIMEOUT,
        )
        .await;
        match published {
            Ok(()) => {
                ack(delivery).await;
                let delay = self.config.retry.delay_after(job.attempt);
                tracing::warn!(
                    reason,
                    retry_in_ms = delay.as_millis() as u64,
                    "job failed; it will run again"
                );
            }
            Err(error) => {
                tracing::warn!(%error, reason, "job failed and scheduling its retry failed; the broker redelivers it");
                nack(delivery).await;
            }
        }
    }

    /// Publishes the job to the parking queue with its reason, then acknowledges the original.
    async fn park(&self, publisher: &Channel, delivery: &Delivery, job: &Job, reason: &str) {
        let message = message_for(job, job.attempt, reason, delivery);
        let parked = publish_confirmed(
            publisher,
            "",
            &self.topology.parked_queue(),
            &delivery.data,
            message.properties(),
            CONFIRM_TIMEOUT,
        )
        .await;
        match parked {
            Ok(()) => {
                ack(delivery).await;
                crate::metrics::METRICS.job(&job.kind, crate::metrics::JobOutcome::Parked);
                tracing::error!(reason, attempts = job.attempt, "job parked");
            }
            Err(error) => {
                tracing::warn!(%error, reason, "parking the job failed; the broker redelivers it");
                nack(delivery).await;
            }
        }
    }

    /// Counts a delivery that ended without a result as an attempt: parks the job when that
    /// was its last attempt, or else publishes it again with the next attempt number.
    async fn count_redelivery(&self, publisher: &Channel, delivery: &Delivery, job: &Job) {
        if job.attempt >= self.config.retry.max_attempts {
            let last = header_text(delivery.properties.headers().as_ref(), LAST_ERROR_HEADER);
            let reason = format!(
                "{} attempts ended without a result; last error: {}",
                job.attempt,
                last.as_deref().unwrap_or(UNACKNOWLEDGED)
            );
            return self.park(publisher, delivery, job, &reason).await;
        }

        let message = message_for(job, job.attempt + 1, UNACKNOWLEDGED, delivery);
        let published = publish_confirmed(
            publisher,
            &self.topology.work_exchange(),
            &job.kind,
            &delivery.data,
            message.properties(),
            CONFIRM_TIMEOUT,
        )
        .await;
        match published {
            Ok(()) => {
                ack(delivery).await;
                tracing::info!(
                    next_attempt = job.attempt + 1,
                    "redelivered job queued again as its next attempt"
                );
            }
            Err(error) => {
                tracing::warn!(%error, "queueing a redelivered job again failed; the broker redelivers it");
                nack(delivery).await;
            }
        }
    }

    /// Moves a message that is not a job (no message id, a body that is not JSON) to the
    /// parking queue as it is.
    async fn park_unreadable(&self, publisher: &Channel, delivery: &Delivery, reason: &str) {
        let mut properties = delivery.properties.clone();
        let mut headers = properties.headers().clone().unwrap_or_default();
        headers.insert(LAST_ERROR_HEADER.into(), super::long_string(reason));
        properties = properties.with_headers(headers);
        let parked = publish_confirmed(
            publisher,
            "",
            &self.topology.parked_queue(),
            &delivery.data,
            properties,
            CONFIRM_TIMEOUT,
        )
        .await;
        let routing_key = delivery.routing_key.as_str();
        match parked {
            Ok(()) => {
                ack(delivery).await;
                tracing::error!(reason, routing_key, "unreadable message parked");
            }
            Err(error) => {
                tracing::warn!(%error, reason, routing_key, "parking an unreadable message failed; the broker redelivers it");
                nack(delivery).await;
            }
        }
    }
}

/// Builds the message that carries `job` onward as attempt `attempt`, with `last_error`.
fn message_for<'a>(
    job: &'a Job,
    attempt: u32,
    last_error: &'a str,
    delivery: &Delivery,
) -> JobMessage<'a> {
    JobMessage {
        job_id: &job.id,
        kind: &job.kind,
        attempt,
        request_id: job.request_id.as_deref(),
        last_error: Some(last_error),
        created_at: *delivery.properties.timestamp(),
    }
}

/// Reads the job out of a delivery, or returns the reason it is not one.
fn job_from_delivery(delivery: &Delivery) -> Result<Job, String> {
    let properties = &delivery.properties;
    let headers = properties.headers().as_ref();
    let id = match properties.message_id() {
        Some(id) if !id.as_str().is_empty() => id.as_str().to_owned(),
        _ => return Err("the message has no message id, which carries the job id".to_owned()),
    };
    let kind = match properties.kind() {
        Some(kind) => kind.as_str().to_owned(),
        None => delivery.routing_key.as_str().to_owned(),
    };
    let attempt = header_number(headers, ATTEMPT_HEADER)
        .and_then(|attempt| u32::try_from(attempt).ok())
        .unwrap_or(1)
        .max(1);
    let payload = serde_json::from_slice(&delivery.data)
        .map_err(|error| format!("the body of job '{id}' is not valid JSON: {error}"))?;
    Ok(Job {
        id,
        kind,
        payload,
        attempt,
        request_id: header_text(headers, REQUEST_ID_HEADER),
    })
}

async fn ack(delivery: &Delivery) {
    let ack = delivery.acker.ack(BasicAckOptions::default());
    settle_within_timeout(delivery, "acknowledging the job", ack).await;
}

/// Returns the message to its queue at once; it comes back marked as redelivered.
async fn nack(delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    let nack = delivery.acker.nack(options);
    settle_within_timeout(delivery, "returning the job to its queue", nack).await;
}

/// Waits at most [`OPERATION_TIMEOUT`] for an ack or nack and logs a failure or a timeout. The
/// broker redelivers an unsettled job when its channel closes, so neither is an error.
async fn settle_within_timeout(
    delivery: &Delivery,
    action: &'static str,
    settle: impl std::future::Future<Output = lapin::Result<bool>>,
) {
    match tokio::time::timeout(OPERATION_TIMEOUT, settle).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(
            %error,
            action,
            delivery_tag = delivery.delivery_tag,
            "settling the job failed; the broker redelivers it when the channel closes"
        ),
        Err(_) => tracing::warn!(
            action,
            delivery_tag = delivery.delivery_tag,
            "settling the job timed out; the broker redelivers it when the channel closes"
        ),
    }
}
