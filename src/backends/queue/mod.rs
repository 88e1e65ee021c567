//! Job queue transports: the outbox polled in process (embedded default) and RabbitMQ fed by an
//! outbox relay (production). [`build`] picks one from the `[queue]` settings, and
//! [`run_worker`] is the entry point of `linkyard worker`.

pub mod outbox;
pub mod rabbitmq;

use crate::metrics::{JobOutcome, METRICS};
use crate::settings::{QueueBackend, QueueSettings, redact_password};
use futures_util::FutureExt;
use linkyard_actors::backends::queue::{
    Job, JobFailure, JobHandler, JobHandlers, JobQueue, QueueError, check_kind,
};
use sea_orm::DatabaseConnection;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a repeated transport or database error is logged while it persists.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(30);
/// The first wait before reconnecting to the broker; it doubles up to `reconnect_max_ms`.
const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// Builds the transport that the settings name. Nothing connects yet, so a broker that is down
/// does not stop the process from starting.
pub fn build(
    settings: &QueueSettings,
    db: DatabaseConnection,
) -> Result<Arc<dyn JobQueue>, QueueError> {
    let config = QueueConfig::from_settings(settings)?;
    Ok(match settings.backend {
        QueueBackend::Outbox => Arc::new(outbox::OutboxQueue::new(db, config)),
        QueueBackend::Rabbitmq => Arc::new(rabbitmq::RabbitMqQueue::new(db, config)),
    })
}

/// Runs the relay and the consumers of `queue` until `shutdown` turns true, then lets the jobs
/// in flight finish and returns. A worker relays too, because its handlers enqueue follow-up
/// jobs (an enrichment enqueues the bookmark's indexing).
pub async fn run_worker(
    queue: Arc<dyn JobQueue>,
    handlers: JobHandlers,
    shutdown: watch::Receiver<bool>,
) -> Result<(), QueueError> {
    tracing::info!(queue = queue.name(), kinds = ?sorted_kinds(&handlers), "queue worker starting");
    let (relay, consumers) = tokio::join!(
        queue.run_relay(shutdown.clone()),
        queue.run_consumers(handlers, shutdown)
    );
    tracing::info!(queue = queue.name(), "queue worker stopped");
    relay.and(consumers)
}

/// The `[queue]` settings, checked and in typed units. `Debug` hides the AMQP password.
#[derive(Clone)]
pub struct QueueConfig {
    pub amqp_url: String,
    pub prefix: String,
    pub concurrency: usize,
    pub prefetch: u16,
    pub retry: RetryPolicy,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub job_timeout: Duration,
    pub reconnect_max: Duration,
    pub relay_batch: u64,
    pub published_retention: Duration,
}

impl QueueConfig {
    pub fn from_settings(settings: &QueueSettings) -> Result<Self, QueueError> {
        check_settings(settings)?;
        Ok(Self {
            amqp_url: settings.amqp_url.clone(),
            prefix: settings.prefix.clone(),
            concurrency: settings.concurrency,
            prefetch: settings.prefetch,
            retry: RetryPolicy {
                delays: settings
                    .retry_delays_ms
                    .iter()
                    .map(|&ms| Duration::from_millis(ms))
                    .collect(),
                max_attempts: settings.max_attempts,
            },
            poll_interval: Duration::from_millis(settings.poll_interval_ms),
            lease: Duration::from_millis(settings.lease_ms),
            job_timeout: Duration::from_millis(settings.job_timeout_ms),
            reconnect_max: Duration::from_millis(settings.reconnect_max_ms),
            relay_batch: settings.relay_batch,
            published_retention: Duration::from_secs(settings.published_retention_secs),
        })
    }
}

impl std::fmt::Debug for QueueConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("QueueConfig")
            .field("amqp_url", &redact_password(&self.amqp_url))
            .field("prefix", &self.prefix)
            .field("concurrency", &self.concurrency)
            .field("prefetch", &self.prefetch)
            .field("retry", &self.retry)
            .field("poll_interval", &self.poll_interval)
            .field("lease", &self.lease)
            .field("job_timeout", &self.job_timeout)
            .field("reconnect_max", &self.reconnect_max)
            .field("relay_batch", &self.relay_batch)
            .field("published_retention", &self.published_retention)
            .finish()
    }
}

fn check_settings(settings: &QueueSettings) -> Result<(), QueueError> {
    let invalid = |key: &'static str, reason: String| QueueError::InvalidSettings { key, reason };
    if settings.concurrency == 0 {
        return Err(invalid(
            "queue.concurrency",
            "must be at least 1".to_owned(),
        ));
    }
    if settings.prefetch == 0 {
        return Err(invalid("queue.prefetch", "must be 1 to 65535".to_owned()));
    }
    if settings.max_attempts == 0 {
        return Err(invalid(
            "queue.max_attempts",
            "must be at least 1".to_owned(),
        ));
    }
    if settings.retry_delays_ms.is_empty() || settings.retry_delays_ms.contains(&0) {
        let reason = "must list at least one delay, each at least 1 ms".to_owned();
        return Err(invalid("queue.retry_delays_ms", reason));
    }
    if settings.poll_interval_ms == 0 || settings.relay_batch == 0 {
        let reason = "poll_interval_ms and relay_batch must be at least 1".to_owned();
        return Err(invalid("queue.poll_interval_ms", reason));
    }
    // Renewal runs every third of the lease, and a shorter lease would renew faster than a
    // busy database responds.
    if settings.lease_ms < 300 {
        return Err(invalid(
            "queue.lease_ms",
            format!("{} is below the minimum of 300", settings.lease_ms),
        ));
    }
    if settings.job_timeout_ms == 0 || settings.reconnect_max_ms == 0 {
        let reason = "job_timeout_ms and reconnect_max_ms must be at least 1".to_owned();
        return Err(invalid("queue.job_timeout_ms", reason));
    }
    if settings.backend == QueueBackend::Rabbitmq {
        check_amqp_url(&settings.amqp_url).map_err(|reason| invalid("queue.amqp_url", reason))?;
    }
    check_prefix(&settings.prefix).map_err(|reason| invalid("queue.prefix", reason))
}

/// Parses the broker URL now, so that a typo fails at start-up instead of in every reconnection.
/// The message shows the URL with its password replaced.
fn check_amqp_url(url: &str) -> Result<(), String> {
    let Err(error) = url.parse::<lapin::uri::AMQPUri>() else {
        return Ok(());
    };
    // Some parser messages repeat the whole input, password included.
    let detail = if error.contains(url) {
        "invalid URL".to_owned()
    } else {
        error
    };
    Err(format!(
        "'{}' is not an AMQP URL such as amqp://user:password@host:5672/%2f ({detail})",
        redact_password(url)
    ))
}

/// A prefix must leave room for the longest name built from it and use characters that need no
/// quoting in `rabbitmqctl` or the management UI.
fn check_prefix(prefix: &str) -> Result<(), String> {
    const MAX_PREFIX_BYTES: usize = 100;
    let valid_bytes = prefix
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_BYTES || !valid_bytes {
        return Err(format!(
            "'{prefix}' must be 1 to {MAX_PREFIX_BYTES} characters of letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Checks every handler's kind and returns the kinds in sorted order.
fn checked_kinds(handlers: &JobHandlers) -> Result<Vec<String>, QueueError> {
    for kind in handlers.keys() {
        check_kind(kind)?;
    }
    Ok(sorted_kinds(handlers))
}

fn sorted_kinds(handlers: &JobHandlers) -> Vec<String> {
    let mut kinds: Vec<String> = handlers.keys().cloned().collect();
    kinds.sort();
    kinds
}

/// When failed jobs run again and when they are parked.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// The delay after the 1st, 2nd, ... failed attempt; the last one repeats.
    pub delays: Vec<Duration>,
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// Returns whether a job whose attempt number `attempt` failed with a retryable error runs
    /// again.
    pub fn allows_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// Returns the delay after failed attempt `attempt` (1-based), without jitter.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let index = (attempt.max(1) - 1) as usize;
        let last = self.delays.len().saturating_sub(1);
        self.delays
            .get(index.min(last))
            .copied()
            .unwrap_or(Duration::ZERO)
    }

    /// Returns the delay after failed attempt `attempt`, scaled by a random factor in [0.8, 1.2] so that
    /// jobs that failed together do not all return together.
    pub fn jittered_delay_after(&self, attempt: u32) -> Duration {
        self.delay_after(attempt)
            .mul_f64(rand::random_range(0.8..=1.2))
    }
}

/// Runs `handler` on `job` with a deadline. A handler that times out or panics has failed with
/// a retryable error, so one bad job cannot take a consumer down or hold its slot forever.
pub async fn run_handler(
    handler: &dyn JobHandler,
    job: &Job,
    timeout: Duration,
) -> Result<(), JobFailure> {
    let run = AssertUnwindSafe(handler.handle(job)).catch_unwind();
    let result = match tokio::time::timeout(timeout, run).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(JobFailure::retryable(format!(
            "the handler panicked: {}",
            panic_message(panic.as_ref())
        ))),
        Err(_) => Err(JobFailure::retryable(format!(
            "the handler timed out after {} ms",
            timeout.as_millis()
        ))),
    };
    let outcome = match &result {
        Ok(()) => JobOutcome::Succeeded,
        Err(_) => JobOutcome::Failed,
    };
    METRICS.job(&job.kind, outcome);
    result
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "no message"
    }
}

/// Resolves when `shutdown` turns true or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn is_stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Sleeps for `delay` unless `shutdown` turns true first. Returns whether shutdown began.
async fn sleep_or_stop(delay: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = stopped(shutdown) => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

/// Decides when a repeated error is logged: the first time, then at most once per interval,
/// with the number of repeats in between.
#[derive(Debug)]
struct LogLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Returns the number of repeats not logged since the last logged one, or `None` when this
    /// one should not be logged either.
    fn check(&mut self) -> Option<u64> {
        let due = self.last.is_none_or(|last| last.elapsed() >= self.interval);
        if !due {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.suppressed))
    }

    /// Returns whether any error was seen since the last [`LogLimiter::reset`].
    fn has_failed(&self) -> bool {
        self.last.is_some()
    }

    fn reset(&mut self) {
        self.last = None;
        self.suppressed = 0;
    }
}

/// Exponential backoff with jitter for reconnecting.
#[derive(Debug)]
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Self {
            next: FIRST_RECONNECT_DELAY.min(max),
            max,
        }
    }

    /// Returns the next wait, the current step scaled by a random factor in [0.5, 1.0], and
    /// doubles the step up to the maximum.
    fn next_delay(&mut self) -> Duration {
        let delay = self.next.mul_f64(rand::random_range(0.5..=1.0));
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = FIRST_RECONNECT_DELAY.min(self.max);
    }
}

/// Returns a random id for a poller, relay or consumer, which distinguishes their leases and
/// connections.
fn instance_id(role: &str) -> String {
    format!("{role}-{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            delays: vec![Duration::from_millis(100), Duration::from_millis(1000)],
            max_attempts: 4,
        }
    }

    #[test]
    fn retry_delays_grow_then_repeat_the_last() {
        let policy = policy();
        assert_eq!(policy.delay_after(1), Duration::from_millis(100));
        assert_eq!(policy.delay_after(2), Duration::from_millis(1000));
        assert_eq!(policy.delay_after(7), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        let policy = policy();
        for _ in 0..200 {
            let delay = policy.jittered_delay_after(2);
            assert!(delay >= Duration::from_millis(800), "{delay:?}");
            assert!(delay <= Duration::from_millis(1200), "{delay:?}");
        }
    }

    #[test]
    fn last_attempt_is_not_retried() {
        let policy = policy();
        assert!(policy.allows_retry_after(3));
        assert!(!policy.allows_retry_after(4));
    }

    #[test]
    fn log_limiter_counts_suppressed_repeats() {
        let mut limiter = LogLimiter::new(Duration::from_secs(3600));
        assert_eq!(limiter.check(), Some(0));
        assert_eq!(limiter.check(), None);
        assert_eq!(limiter.check(), None);
        limiter.last = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(limiter.check(), Some(2));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut backoff = Backoff::new(Duration::from_millis(500));
        let waits: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        assert!(waits[0] <= Duration::from_millis(100), "{waits:?}");
        assert!(
            waits.iter().all(|wait| *wait <= Duration::from_millis(500)),
            "{waits:?}"
        );
        assert!(waits[5] >= Duration::from_millis(250), "{waits:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        let settings = Settings::embedded_defaults().expect("defaults parse").queue;
        assert!(QueueConfig::from_settings(&settings).is_ok());

        let mut bad = settings.clone();
        bad.prefix = "has space".to_owned();
        let error = QueueConfig::from_settings(&bad).expect_err("space in prefix");
        assert!(error.to_string().contains("queue.prefix"), "{error}");
        assert!(error.to_string().contains("has space"), "{error}");

        let mut bad = settings.clone();
        bad.retry_delays_ms = vec![];
        let error = QueueConfig::from_settings(&bad).expect_err("no delays");
        assert!(error.to_string().contains("retry_delays_ms"), "{error}");

        let mut bad = settings.clone();
        bad.concurrency = 0;
        let error = QueueConfig::from_settings(&bad).expect_err("no concurrency");
        assert!(error.to_string().contains("queue.concurrency"), "{error}");

        let mut bad = settings;
        bad.backend = QueueBackend::Rabbitmq;
        bad.amqp_url = "http//user:hunter2@broker".to_owned();
        let error = QueueConfig::from_settings(&bad).expect_err("not a URL");
        assert!(error.to_string().contains("queue.amqp_url"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn config_debug_hides_the_amqp_password() {
        let mut settings = Settings::embedded_defaults().expect("defaults parse").queue;
        settings.amqp_url = "amqp://linkyard:hunter2@rabbitmq:5672/%2f".to_owned();
        let config = QueueConfig::from_settings(&settings).expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
