//! Job queue contract tests: the outbox transport on SQLite and PostgreSQL, and the RabbitMQ
//! transport against the broker at 127.0.0.1:5672.

mod outbox;
mod rabbitmq;

use super::support::PostgresDatabase;
use async_trait::async_trait;
use linkyard::Settings;
use linkyard::settings::QueueSettings;
use linkyard_actors::backends::queue::{
    Job, JobFailure, JobHandler, JobHandlers, JobQueue, NewJob, QueueError,
};
use linkyard_actors::db::{self, DbOptions};
use sea_orm::{DatabaseConnection, TransactionTrait};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

/// The kind the test handlers are registered for.
pub const KIND: &str = "test_job";

static TELEMETRY: Once = Once::new();

/// Installs the log subscriber once; `TEST_LOG=debug` shows the queue's logs. lapin logs every
/// dropped connection at error level itself, which the connection tests cause on purpose.
pub fn init_logs() {
    TELEMETRY.call_once(|| {
        let mut log = Settings::embedded_defaults().expect("defaults").log;
        log.filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "error,lapin=off".to_owned());
        linkyard::telemetry::init(&log);
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A migrated database for one test, removed when dropped.
pub struct TestDatabase {
    pub db: DatabaseConnection,
    /// The pool the queues use, as the application opens it: on SQLite a second pool whose
    /// commits skip the flush, on PostgreSQL the same pool as `db`.
    pub queue_db: DatabaseConnection,
    _sqlite_dir: Option<TempDir>,
    _postgres: Option<PostgresDatabase>,
}

impl TestDatabase {
    /// Creates the database, or returns `None` when PostgreSQL is unreachable.
    pub async fn create(kind: Db) -> Option<Self> {
        init_logs();
        let (url, sqlite_dir, postgres) = match kind {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("queue.db").display()
                );
                (url, Some(dir), None)
            }
            Db::Postgres => {
                let postgres = PostgresDatabase::create().await?;
                (postgres.url.clone(), None, Some(postgres))
            }
        };
        let options = DbOptions {
            url,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            commits: db::Commits::Durable,
        };
        let db = db::connect(&options).await.expect("connect test database");
        linkyard::migrate::run(&db)
            .await
            .expect("migrate test database");
        let queue_db = match kind {
            Db::Sqlite => {
                let relaxed = DbOptions {
                    max_connections: 2,
                    commits: db::Commits::Relaxed,
                    ..options
                };
                db::connect(&relaxed)
                    .await
                    .expect("connect the queue's test pool")
            }
            Db::Postgres => db.clone(),
        };
        Some(Self {
            db,
            queue_db,
            _sqlite_dir: sqlite_dir,
            _postgres: postgres,
        })
    }
}

/// Queue settings for tests: short delays and intervals, and a prefix of their own.
pub fn test_settings() -> QueueSettings {
    let mut settings = Settings::embedded_defaults().expect("defaults").queue;
    settings.prefix = format!("linkyard-test-{:012x}", rand::random::<u64>() >> 16);
    settings.poll_interval_ms = 50;
    settings.lease_ms = 400;
    settings.retry_delays_ms = vec![100, 400];
    settings.max_attempts = 3;
    settings.concurrency = 4;
    settings.prefetch = 4;
    settings.reconnect_max_ms = 300;
    settings.job_timeout_ms = 10_000;
    settings
}

/// Enqueues `job` in a transaction of its own and wakes the queue.
pub async fn enqueue(db: &DatabaseConnection, queue: &dyn JobQueue, job: &NewJob) {
    let transaction = db.begin().await.expect("begin");
    let inserted = linkyard_actors::backends::queue::enqueue(&transaction, job)
        .await
        .expect("enqueue");
    assert!(inserted, "job {} was already in the outbox", job.id);
    transaction.commit().await.expect("commit");
    queue.wake();
}

pub fn test_job(id: &str, payload: serde_json::Value) -> NewJob {
    NewJob::new(KIND, payload)
        .with_id(id)
        .with_request_id(Some(format!("request-{id}")))
}

/// What the handler does with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Succeed,
    FailRetryable,
    FailPermanent,
    /// Abort the consumer task that runs this handler, then never return.
    KillConsumer,
    /// Wait until the gate opens, then succeed.
    WaitForGate,
}

/// One handler call.
#[derive(Debug, Clone)]
pub struct Call {
    pub job: Job,
    pub at: Instant,
}

type Script = dyn Fn(&Job, usize) -> Step + Send + Sync;

/// A handler that records its calls and applies an idempotent effect: it adds the job id to a
/// set, so a job that runs twice still counts once in `applied`.
pub struct Recorder {
    script: Box<Script>,
    calls: Mutex<Vec<Call>>,
    applied: Mutex<HashSet<String>>,
    effects: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    gate: watch::Sender<bool>,
    consumer: OnceLock<AbortHandle>,
}

impl Recorder {
    /// `script` receives the job and the number of earlier calls for the same job id.
    pub fn new(script: impl Fn(&Job, usize) -> Step + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
            applied: Mutex::new(HashSet::new()),
            effects: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            gate: watch::channel(false).0,
            consumer: OnceLock::new(),
        })
    }

    pub fn handlers(self: &Arc<Self>) -> JobHandlers {
        let handler: Arc<dyn JobHandler> = self.clone();
        HashMap::from([(KIND.to_owned(), handler)])
    }

    /// Gives the handler the consumer task to abort on a [`Step::KillConsumer`] call.
    pub fn set_consumer(&self, task: &JoinHandle<Result<(), QueueError>>) {
        let _ = self.consumer.set(task.abort_handle());
    }

    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }

    pub fn calls_for(&self, id: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.job.id == id)
            .collect()
    }

    pub fn is_applied(&self, id: &str) -> bool {
        self.applied.lock().expect("applied lock").contains(id)
    }

    /// Returns how many times the effect was newly applied, over all jobs.
    pub fn effects(&self) -> usize {
        self.effects.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    fn apply(&self, id: &str) {
        if self
            .applied
            .lock()
            .expect("applied lock")
            .insert(id.to_owned())
        {
            self.effects.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl JobHandler for Recorder {
    async fn handle(&self, job: &Job) -> Result<(), JobFailure> {
        let earlier = {
            let mut calls = self.calls.lock().expect("calls lock");
            let earlier = calls.iter().filter(|call| call.job.id == job.id).count();
            calls.push(Call {
                job: job.clone(),
                at: Instant::now(),
            });
            earlier
        };
        let running = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(running, Ordering::SeqCst);
        let result = self.run_step((self.script)(job, earlier), job).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl Recorder {
    async fn run_step(&self, step: Step, job: &Job) -> Result<(), JobFailure> {
        match step {
            Step::Succeed => {
                self.apply(&job.id);
                Ok(())
            }
            Step::FailRetryable => Err(JobFailure::retryable("upstream returned 503")),
            Step::FailPermanent => Err(JobFailure::permanent("the bookmark no longer exists")),
            Step::KillConsumer => {
                if let Some(consumer) = self.consumer.get() {
                    consumer.abort();
                }
                std::future::pending().await
            }
            Step::WaitForGate => {
                let mut gate = self.gate.subscribe();
                let _ = gate.wait_for(|open| *open).await;
                self.apply(&job.id);
                Ok(())
            }
        }
    }
}

/// Returns the gaps between consecutive calls.
pub fn gaps(calls: &[Call]) -> Vec<Duration> {
    calls
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect()
}

/// Creates a shutdown switch for consumers.
pub fn shutdown_switch() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

/// Declares one test per database backend for an `async fn(Db)`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::queue::Db::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(crate::queue::Db::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_databases;
