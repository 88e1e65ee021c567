//! The job queue port: background jobs written to a transactional outbox and run by handlers.
//!
//! A caller enqueues a job with [`enqueue`] inside the same database transaction as the change
//! that needs it, so the job exists exactly when the change does. A transport then delivers it:
//! the embedded default polls the `outbox` table in process, and the production transport
//! relays the rows to RabbitMQ and consumes them from there. Either way delivery is at least
//! once, so handlers must be idempotent (see [`JobHandler`]).

use crate::db::{self, DbError};
use async_trait::async_trait;
use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tokio::sync::watch;

tokio::task_local! {
    /// The id of the HTTP request being handled, set by the HTTP layer around each handler. Jobs
    /// created while it is set carry it, so a job's log lines name the request that caused it.
    pub static REQUEST_ID: String;
}

/// Returns the id of the request the current task is handling, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Fetch a bookmark's page, extract its metadata and update the row.
pub const ENRICH_BOOKMARK: &str = "enrich_bookmark";
/// Write a bookmark's search document.
pub const INDEX_BOOKMARK: &str = "index_bookmark";
/// Remove a deleted bookmark's search document.
pub const DELETE_BOOKMARK_DOCUMENT: &str = "delete_bookmark_document";
/// Render a QR image ahead of its first request and store it in the blob store.
pub const RENDER_QR: &str = "render_qr";

/// The maximum length of a kind. Kinds become RabbitMQ routing keys and queue names.
pub const MAX_KIND_BYTES: usize = 64;
/// The maximum length of a job id, the AMQP limit of a message id.
pub const MAX_JOB_ID_BYTES: usize = 255;

/// A job as a handler receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Unique per job and stable across retries: the idempotency key.
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// The delivery number, starting at 1. A delivery that ended without a result (a crashed
    /// consumer, an expired lease) counts as an attempt too.
    pub attempt: u32,
    /// The id of the HTTP request that enqueued the job, for logs.
    pub request_id: Option<String>,
}

impl Job {
    /// Deserializes the payload. A payload of the wrong shape cannot succeed on a retry, so the
    /// error is a permanent failure.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, JobFailure> {
        T::deserialize(&self.payload).map_err(|error| {
            JobFailure::permanent(format!("invalid {} payload: {error}", self.kind))
        })
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub request_id: Option<String>,
}

impl NewJob {
    /// Creates a job with a random 128-bit hex id. Use [`NewJob::with_id`] instead when the id should
    /// collapse duplicates, such as one pending enrichment per bookmark.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            id: format!("{:032x}", rand::random::<u128>()),
            kind: kind.into(),
            payload,
            request_id: current_request_id(),
        }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// The reason a handler did not finish a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// A fault that may pass, such as a timeout, a 503 or an unreachable database: the job runs
    /// again after a growing delay, until the attempts run out.
    Retryable(String),
    /// A fault that retrying cannot fix, such as an invalid payload: the job is parked at once.
    Permanent(String),
}

impl JobFailure {
    pub fn retryable(reason: impl fmt::Display) -> Self {
        Self::Retryable(reason.to_string())
    }

    pub fn permanent(reason: impl fmt::Display) -> Self {
        Self::Permanent(reason.to_string())
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable(reason) | Self::Permanent(reason) => reason,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retryable(reason) => write!(formatter, "retryable failure: {reason}"),
            Self::Permanent(reason) => write!(formatter, "permanent failure: {reason}"),
        }
    }
}

/// Runs the jobs of one kind.
///
/// The contract:
/// - The queue acknowledges a job only after `handle` returns `Ok`, so `handle` must commit its
///   own database work before it returns. Nothing the queue does afterwards rolls it back.
/// - Delivery is at least once. A job runs again when its consumer dies after the handler
///   committed but before the acknowledgement, or when the broker connection drops before the
///   acknowledgement arrives. It also runs again when an outbox lease runs out because its
///   poller could not renew it, and when the relay cannot record a confirmed publish.
/// - Handlers must therefore be idempotent: running a job twice must leave the same state as
///   running it once. Write absolute values keyed by the job's data (upserts, "set status where
///   status is pending"), never increments, and treat "already done" and "the row is gone" as
///   success.
/// - Jobs run concurrently and in no guaranteed order, even jobs of one kind.
/// - A handler that exceeds the job timeout is cancelled at an `.await` point and the attempt
///   counts as a retryable failure; a handler that panics counts the same way.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: &Job) -> Result<(), JobFailure>;
}

/// The handlers of a consumer, by kind. A consumer receives only the kinds it has a handler for.
pub type JobHandlers = HashMap<String, Arc<dyn JobHandler>>;

/// A job transport: the embedded outbox poller or RabbitMQ.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Returns the transport's name for logs and 503 responses: `outbox` or `rabbitmq`.
    fn name(&self) -> &'static str;

    /// Wakes this process's poller or relay. Call it after committing a transaction that
    /// enqueued jobs; without it they wait for the next poll interval.
    fn wake(&self);

    /// Moves committed outbox rows to the transport until `shutdown` turns true. The RabbitMQ
    /// relay publishes them; the embedded outbox needs no relay and returns at once.
    async fn run_relay(&self, shutdown: watch::Receiver<bool>) -> Result<(), QueueError>;

    /// Runs `handlers` on delivered jobs until `shutdown` turns true, then stops taking jobs,
    /// waits for the jobs in flight and returns. Transport outages are retried, not returned.
    async fn run_consumers(
        &self,
        handlers: JobHandlers,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), QueueError>;

    /// Checks that the transport is reachable, for `/readyz`.
    async fn ping(&self) -> Result<(), QueueError>;
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The job id cannot be stored or sent: a bug in the caller.
    #[error(
        "job id '{job_id}' is invalid; use 1 to {MAX_JOB_ID_BYTES} bytes without control characters"
    )]
    InvalidJobId { job_id: String },
    /// The kind cannot be a routing key and queue name part: a bug in the caller.
    #[error("job kind '{kind}' is invalid; use 1 to {MAX_KIND_BYTES} characters of a-z, 0-9 and _")]
    InvalidKind { kind: String },
    /// A `[queue]` setting is out of range.
    #[error("queue setting {key} is invalid: {reason}")]
    InvalidSettings { key: &'static str, reason: String },
    #[error(transparent)]
    Database(#[from] DbError),
    /// The transport could not be reached or failed; the operation may succeed later.
    #[error("job queue {backend} failed during {operation}: {message}")]
    Unavailable {
        backend: &'static str,
        operation: &'static str,
        message: String,
    },
}

impl QueueError {
    /// Returns a stable snake_case code for logs and error responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJobId { .. } => "invalid_job_id",
            Self::InvalidKind { .. } => "invalid_job_kind",
            Self::InvalidSettings { .. } => "invalid_queue_settings",
            Self::Database(_) | Self::Unavailable { .. } => "backend_unavailable",
        }
    }
}

/// Writes `job` to the outbox on `txn`, which may be the caller's open transaction, so the job
/// commits or rolls back with the caller's own rows. Returns false when a job with this id is
/// still in the outbox; the existing one is kept. Call [`JobQueue::wake`] after the commit.
pub async fn enqueue(txn: &impl ConnectionTrait, job: &NewJob) -> Result<bool, QueueError> {
    check_job_id(&job.id)?;
    check_kind(&job.kind)?;
    let payload = job.payload.to_string();

    let row = db::outbox::NewRow {
        job_id: &job.id,
        kind: &job.kind,
        payload: &payload,
        request_id: job.request_id.as_deref(),
        now: Utc::now(),
    };
    Ok(db::outbox::insert(txn, row).await?)
}

/// Checks a kind: 1 to [`MAX_KIND_BYTES`] of `a-z`, `0-9` and `_`, so that it is a valid routing
/// key and queue name part on every transport.
pub fn check_kind(kind: &str) -> Result<(), QueueError> {
    let valid_bytes = kind
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if kind.is_empty() || kind.len() > MAX_KIND_BYTES || !valid_bytes {
        return Err(QueueError::InvalidKind {
            kind: kind.to_owned(),
        });
    }
    Ok(())
}

/// Checks a job id: 1 to [`MAX_JOB_ID_BYTES`] bytes without control characters.
pub fn check_job_id(id: &str) -> Result<(), QueueError> {
    if id.is_empty() || id.len() > MAX_JOB_ID_BYTES || id.chars().any(char::is_control) {
        return Err(QueueError::InvalidJobId {
            job_id: id.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_rules() {
        assert!(check_kind(ENRICH_BOOKMARK).is_ok());
        assert!(check_kind("render_qr2").is_ok());
        assert!(check_kind("").is_err());
        assert!(check_kind("Render").is_err());
        assert!(check_kind("render.qr").is_err());
        assert!(check_kind(&"a".repeat(MAX_KIND_BYTES + 1)).is_err());

        let error = check_kind("render.qr").expect_err("dot");
        assert_eq!(error.code(), "invalid_job_kind");
        assert!(error.to_string().contains("'render.qr'"), "{error}");
    }

    #[test]
    fn job_id_rules() {
        assert!(check_job_id("enrich:42").is_ok());
        assert!(check_job_id("").is_err());
        assert!(check_job_id("a\nb").is_err());
        assert!(check_job_id(&"a".repeat(MAX_JOB_ID_BYTES + 1)).is_err());
        assert_eq!(
            check_job_id("").expect_err("empty").code(),
            "invalid_job_id"
        );
    }

    #[test]
    fn new_job_ids_are_unique_hex() {
        let first = NewJob::new(RENDER_QR, serde_json::json!({}));
        let second = NewJob::new(RENDER_QR, serde_json::json!({}));
        assert_eq!(first.id.len(), 32);
        assert!(first.id.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first.id, second.id);
    }

    #[test]
    fn payload_of_wrong_shape_is_permanent() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Enrich {
            bookmark_id: i64,
        }
        let job = Job {
            id: "1".to_owned(),
            kind: ENRICH_BOOKMARK.to_owned(),
            payload: serde_json::json!({"bookmark_id": "x"}),
            attempt: 1,
            request_id: None,
        };
        let failure = job.payload_as::<Enrich>().err().expect("wrong shape");
        assert!(!failure.is_retryable());
        assert!(failure.reason().contains("enrich_bookmark"), "{failure}");
    }
}
