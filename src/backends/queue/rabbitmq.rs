//! The production job queue: outbox rows relayed to RabbitMQ and consumed from there.
//!
//! Topology, every name under the configured prefix `P`:
//! - `P.jobs`, a durable direct exchange. The relay publishes each job to it with the job's kind
//!   as the routing key.
//! - `P.jobs.<kind>`, one durable queue per kind, bound with the kind. One queue per kind keeps
//!   slow jobs (page fetches) from delaying fast ones (QR renders) and lets a worker take only
//!   some kinds.
//! - `P.retry.<ms>ms`, one fanout exchange and one durable queue per configured retry delay. The
//!   queue's message TTL is the delay and its dead-letter exchange is `P.jobs`. A dead-lettered
//!   message keeps its routing key, which is the kind, so it returns to its work queue when the
//!   delay ends. With one TTL per queue every message expires in arrival order.
//! - `P.parked`, a durable queue for jobs that failed permanently or ran out of attempts.
//!
//! Message properties: the job id is the message id, the kind is the `type`, the payload is the
//! JSON body, messages are persistent, and the headers carry the attempt number, the last error
//! and the request id. Every publish is mandatory and waits for the publisher confirm, so a
//! message counts as sent only once the broker has routed and stored it.

mod consumer;
mod relay;

use super::QueueConfig;
use async_trait::async_trait;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use linkyard_actors::backends::queue::{JobHandlers, JobQueue, QueueError};
use sea_orm::DatabaseConnection;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

const BACKEND: &str = "rabbitmq";
/// How long opening a connection may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an acknowledgement, a consumer cancel, a publish frame or a connection close may
/// wait. lapin 4.12 leaves the future of an acknowledgement pending for good when its channel
/// dies just before the acknowledgement is sent (the command is dropped unanswered), so every
/// such wait is bounded, and shutdown cannot hang on one.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The attempt number of the delivery a message is, starting at 1.
pub const ATTEMPT_HEADER: &str = "x-linkyard-attempt";
/// The reason the previous attempt failed.
pub const LAST_ERROR_HEADER: &str = "x-linkyard-last-error";
/// The id of the HTTP request that enqueued the job.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The RabbitMQ transport. It connects lazily: the relay and the consumers each open their own
/// connection, and reconnect with backoff while the broker is away.
pub struct RabbitMqQueue {
    db: DatabaseConnection,
    config: Arc<QueueConfig>,
    topology: Arc<Topology>,
    wake: Arc<Notify>,
}

impl RabbitMqQueue {
    pub fn new(db: DatabaseConnection, config: QueueConfig) -> Self {
        let topology = Topology::new(&config);
        Self {
            db,
            config: Arc::new(config),
            topology: Arc::new(topology),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    async fn connect(&self, role: &str) -> Result<Connection, QueueError> {
        connect(&self.config, role).await
    }
}

/// Deletes the exchanges and queues under the configured prefix, including the work queues of
/// `kinds`, with any messages in them. For tests and for removing an installation.
pub async fn delete_topology(config: &QueueConfig, kinds: &[String]) -> Result<(), QueueError> {
    let connection = connect(config, "admin").await?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|error| unavailable("open channel", &error))?;
    let result = Topology::new(config).delete(&channel, kinds).await;
    close_connection(&connection, "topology deleted").await;
    result.map_err(|error| unavailable("delete topology", &error))
}

/// Opens a connection named `<prefix> <role>`, the name `rabbitmqctl list_connections` and the
/// management UI show.
async fn connect(config: &QueueConfig, role: &str) -> Result<Connection, QueueError> {
    let name = format!("{} {role}", config.prefix);
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let connect = Connection::connect(&config.amqp_url, properties);
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(unavailable("connect", &error)),
        Err(_) => Err(QueueError::Unavailable {
            backend: BACKEND,
            operation: "connect",
            message: format!("timed out after {} s", CONNECT_TIMEOUT.as_secs()),
        }),
    }
}

#[async_trait]
impl JobQueue for RabbitMqQueue {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn wake(&self) {
        self.wake.notify_one();
    }

    async fn run_relay(&self, shutdown: watch::Receiver<bool>) -> Result<(), QueueError> {
        relay::run(self, shutdown).await
    }

    async fn run_consumers(
        &self,
        handlers: JobHandlers,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        consumer::run(self, handlers, shutdown).await
    }

    /// Opens and closes a connection. The relay and consumers keep theirs private, so this
    /// checks reachability and credentials, not their sessions.
    async fn ping(&self) -> Result<(), QueueError> {
        let connection = self.connect("ping").await?;
        close_connection(&connection, "ping").await;
        Ok(())
    }
}

fn unavailable(operation: &'static str, error: &lapin::Error) -> QueueError {
    QueueError::Unavailable {
        backend: BACKEND,
        operation,
        message: error.to_string(),
    }
}

fn unavailable_publish(error: &PublishError) -> QueueError {
    QueueError::Unavailable {
        backend: BACKEND,
        operation: "publish",
        message: error.to_string(),
    }
}

/// The names of the exchanges and queues, all under one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    /// The distinct retry delays in milliseconds, one delay queue each.
    retry_delays_ms: BTreeSet<u64>,
    /// The retry delay after the 1st, 2nd, ... failed attempt; the last one repeats.
    delay_by_attempt: Vec<u64>,
}

impl Topology {
    pub fn new(config: &QueueConfig) -> Self {
        let delay_by_attempt: Vec<u64> = config
            .retry
            .delays
            .iter()
            .map(|delay| delay.as_millis() as u64)
            .collect();
        Self {
            prefix: config.prefix.clone(),
            retry_delays_ms: delay_by_attempt.iter().copied().collect(),
            delay_by_attempt,
        }
    }

    pub fn work_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    pub fn work_queue(&self, kind: &str) -> String {
        format!("{}.jobs.{kind}", self.prefix)
    }

    /// Returns the name of the exchange and the queue that hold messages for `delay_ms` ms.
    pub fn retry_name(&self, delay_ms: u64) -> String {
        format!("{}.retry.{delay_ms}ms", self.prefix)
    }

    pub fn parked_queue(&self) -> String {
        format!("{}.parked", self.prefix)
    }

    /// Returns the retry exchange for a job whose attempt number `attempt` failed.
    // NOTE: unlike the outbox, these retries get no jitter: every message in a tier waits
    // exactly its delay, so jobs that failed together come back together.
    fn retry_exchange_after(&self, attempt: u32) -> String {
        let index = (attempt.max(1) - 1) as usize;
        let last = self.delay_by_attempt.len().saturating_sub(1);
        let delay = self
            .delay_by_attempt
            .get(index.min(last))
            .copied()
            .unwrap_or(0);
        self.retry_name(delay)
    }

    /// Declares the work exchange, the delay tiers and the parking queue.
    async fn declare_shared(&self, channel: &Channel) -> lapin::Result<()> {
        declare_exchange(channel, &self.work_exchange(), ExchangeKind::Direct).await?;
        for &delay_ms in &self.retry_delays_ms {
            let name = self.retry_name(delay_ms);
            declare_exchange(channel, &name, ExchangeKind::Fanout).await?;
            let mut arguments = FieldTable::default();
            arguments.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(delay_ms as i64),
            );
            let dead_letter = LongString::from(self.work_exchange());
            arguments.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(dead_letter),
            );
            declare_queue(channel, &name, arguments).await?;
            bind(channel, &name, &name, "").await?;
        }
        declare_queue(channel, &self.parked_queue(), FieldTable::default()).await
    }

    /// Declares the work queue of `kind` and binds it to the work exchange.
    async fn declare_kind(&self, channel: &Channel, kind: &str) -> lapin::Result<()> {
        let queue = self.work_queue(kind);
        declare_queue(channel, &queue, FieldTable::default()).await?;
        bind(channel, &queue, &self.work_exchange(), kind).await
    }

    async fn delete(&self, channel: &Channel, kinds: &[String]) -> lapin::Result<()> {
        let mut queues: Vec<String> = kinds.iter().map(|kind| self.work_queue(kind)).collect();
        queues.push(self.parked_queue());
        let mut exchanges = vec![self.work_exchange()];
        for &delay_ms in &self.retry_delays_ms {
            queues.push(self.retry_name(delay_ms));
            exchanges.push(self.retry_name(delay_ms));
        }
        for queue in queues {
            channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in exchanges {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

async fn declare_exchange(channel: &Channel, name: &str, kind: ExchangeKind) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(name.into(), kind, options, FieldTable::default())
        .await
}

async fn declare_queue(channel: &Channel, name: &str, arguments: FieldTable) -> lapin::Result<()> {
    channel
        .queue_declare(name.into(), QueueDeclareOptions::durable(), arguments)
        .await?;
    Ok(())
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// The properties of a job message.
struct JobMessage<'a> {
    job_id: &'a str,
    kind: &'a str,
    attempt: u32,
    request_id: Option<&'a str>,
    last_error: Option<&'a str>,
    /// Seconds since the Unix epoch when the job was enqueued.
    created_at: Option<u64>,
}

impl JobMessage<'_> {
    fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            ATTEMPT_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(self.attempt)),
        );
        if let Some(error) = self.last_error {
            headers.insert(LAST_ERROR_HEADER.into(), long_string(error));
        }
        if let Some(request_id) = self.request_id {
            headers.insert(REQUEST_ID_HEADER.into(), long_string(request_id));
        }
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(self.job_id))
            .with_type(ShortString::from(self.kind))
            .with_content_type("application/json".into())
            // 2 is "persistent": the broker writes the message to disk in a durable queue.
            .with_delivery_mode(2)
            .with_headers(headers);
        match self.created_at {
            Some(seconds) => properties.with_timestamp(seconds),
            None => properties,
        }
    }
}

fn long_string(text: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(text.to_owned()))
}

/// Reads a string header, whatever string type the publisher used.
fn header_text(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    let value = headers?.inner().get(name)?;
    match value {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

/// Reads an integer header, whatever integer type the publisher used.
fn header_number(headers: Option<&FieldTable>, name: &str) -> Option<i64> {
    let value = headers?.inner().get(name)?;
    match *value {
        AMQPValue::ShortShortInt(number) => Some(i64::from(number)),
        AMQPValue::ShortShortUInt(number) => Some(i64::from(number)),
        AMQPValue::ShortInt(number) => Some(i64::from(number)),
        AMQPValue::ShortUInt(number) => Some(i64::from(number)),
        AMQPValue::LongInt(number) => Some(i64::from(number)),
        AMQPValue::LongUInt(number) => Some(i64::from(number)),
        AMQPValue::LongLongInt(number) => Some(number),
        _ => None,
    }
}

/// The reason a confirmed publish did not succeed.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    /// The channel or connection failed; the broker may or may not have the message.
    #[error("{0}")]
    Broker(#[from] lapin::Error),
    #[error("no confirm within {0} ms")]
    TimedOut(u128),
    /// The broker had no queue for the routing key and returned the mandatory message.
    #[error("no queue is bound for routing key '{routing_key}' ({reply})")]
    Returned { routing_key: String, reply: String },
    /// The broker refused the message (`basic.nack`), for example because a queue is full.
    #[error("the broker rejected the message")]
    Rejected,
}

impl PublishError {
    /// Whether the channel is broken, so the session must reconnect.
    fn breaks_session(&self) -> bool {
        matches!(self, Self::Broker(_) | Self::TimedOut(_))
    }
}

/// Publishes a persistent, mandatory message and waits for the broker's confirm.
async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
    timeout: Duration,
) -> Result<(), PublishError> {
    let options = lapin::options::BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    // The timeout covers sending the frames too, not only the confirm.
    let publish = async {
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                options,
                body,
                properties,
            )
            .await?;
        confirm.await
    };
    let confirmation = tokio::time::timeout(timeout, publish)
        .await
        .map_err(|_| PublishError::TimedOut(timeout.as_millis()))??;
    check_confirmation(confirmation, routing_key)
}

/// Closes `connection`, waiting at most [`OPERATION_TIMEOUT`] for the broker's reply. A close
/// that fails or times out is logged; the socket goes away when the connection is dropped.
async fn close_connection(connection: &Connection, reason: &str) {
    let close = connection.close(200, reason.into());
    match tokio::time::timeout(OPERATION_TIMEOUT, close).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, reason, "closing the RabbitMQ connection failed"),
        Err(_) => tracing::warn!(
            reason,
            timeout_ms = OPERATION_TIMEOUT.as_millis() as u64,
            "closing the RabbitMQ connection timed out; dropping it"
        ),
    }
}

fn check_confirmation(
    confirmation: lapin::Confirmation,
    routing_key: &str,
) -> Result<(), PublishError> {
    match confirmation {
        lapin::Confirmation::Ack(None) => Ok(()),
        lapin::Confirmation::Ack(Some(returned)) => Err(PublishError::Returned {
            routing_key: routing_key.to_owned(),
            reply: format!("{} {}", returned.reply_code, returned.reply_text),
        }),
        lapin::Confirmation::Nack(_) | lapin::Confirmation::NotRequested => {
            Err(PublishError::Rejected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn topology(delays: &[u64]) -> Topology {
        let mut settings = Settings::embedded_defaults().expect("defaults").queue;
        settings.prefix = "t1".to_owned();
        settings.retry_delays_ms = delays.to_vec();
        Topology::new(&QueueConfig::from_settings(&settings).expect("valid"))
    }

    #[test]
    fn names_live_under_the_prefix() {
        let topology = topology(&[500, 2000]);
        assert_eq!(topology.work_exchange(), "t1.jobs");
        assert_eq!(topology.work_queue("render_qr"), "t1.jobs.render_qr");
        assert_eq!(topology.retry_name(500), "t1.retry.500ms");
        assert_eq!(topology.parked_queue(), "t1.parked");
    }

    #[test]
    fn retry_tier_per_attempt_repeats_last() {
        let topology = topology(&[500, 2000, 500]);
        assert_eq!(topology.retry_delays_ms.len(), 2);
        assert_eq!(topology.retry_exchange_after(1), "t1.retry.500ms");
        assert_eq!(topology.retry_exchange_after(2), "t1.retry.2000ms");
        assert_eq!(topology.retry_exchange_after(3), "t1.retry.500ms");
        assert_eq!(topology.retry_exchange_after(9), "t1.retry.500ms");
    }

    #[test]
    fn headers_round_trip() {
        let message = JobMessage {
            job_id: "job-1",
            kind: "render_qr",
            attempt: 3,
            request_id: Some("req-9"),
            last_error: Some("timed out"),
            created_at: Some(1_700_000_000),
        };
        let properties = message.properties();
        let headers = properties.headers().as_ref();
        assert_eq!(header_number(headers, ATTEMPT_HEADER), Some(3));
        assert_eq!(
            header_text(headers, LAST_ERROR_HEADER).as_deref(),
            Some("timed out")
        );
        assert_eq!(
            header_text(headers, REQUEST_ID_HEADER).as_deref(),
            Some("req-9")
        );
        assert_eq!(
            properties.message_id().as_ref().map(|id| id.as_str()),
            Some("job-1")
        );
        assert_eq!(
            properties.kind().as_ref().map(|kind| kind.as_str()),
            Some("render_qr")
        );
        assert_eq!(*properties.delivery_mode(), Some(2));
    }
}
