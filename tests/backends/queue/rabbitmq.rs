//! The RabbitMQ transport against the broker at 127.0.0.1:5672 (guest/guest), with the outbox
//! on SQLite. Each test declares its exchanges and queues under a prefix of its own and deletes
//! them when it ends, even when it fails.

use super::{
    Db, KIND, Recorder, Step, TestDatabase, gaps, shutdown_switch, test_job, test_settings,
};
use crate::support::eventually;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};
use linkyard::backends::queue::QueueConfig;
use linkyard::backends::queue::rabbitmq::{
    self, ATTEMPT_HEADER, LAST_ERROR_HEADER, RabbitMqQueue, Topology,
};
use linkyard::settings::{QueueBackend, QueueSettings};
use linkyard_actors::backends::queue::{JobQueue, NewJob};
use linkyard_actors::db::outbox;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const BROKER: &str = "127.0.0.1:5672";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const DEADLINE: Duration = Duration::from_secs(20);

/// A test's queue, database and topology. Dropping it deletes the topology.
struct Fixture {
    settings: QueueSettings,
    queue: Arc<RabbitMqQueue>,
    test: TestDatabase,
    _cleanup: TopologyCleanup,
}

impl Fixture {
    /// Returns `None`, after printing one line, when the broker is unreachable.
    async fn create(configure: impl FnOnce(&mut QueueSettings)) -> Option<Self> {
        let reachable = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(BROKER));
        if !matches!(reachable.await, Ok(Ok(_))) {
            eprintln!("skipped: RabbitMQ at {BROKER} is unreachable");
            return None;
        }
        let test = TestDatabase::create(Db::Sqlite).await?;
        let mut settings = test_settings();
        settings.backend = QueueBackend::Rabbitmq;
        settings.amqp_url = AMQP_URL.to_owned();
        configure(&mut settings);
        let cleanup = TopologyCleanup {
            config: config(&settings),
        };
        let queue = Arc::new(RabbitMqQueue::new(test.queue_db.clone(), config(&settings)));
        Some(Self {
            settings,
            queue,
            test,
            _cleanup: cleanup,
        })
    }

    fn db(&self) -> &DatabaseConnection {
        &self.test.db
    }

    fn topology(&self) -> Topology {
        Topology::new(&config(&self.settings))
    }

    /// Enqueues `job` and wakes `relay`.
    async fn enqueue(&self, relay: &dyn JobQueue, job: &NewJob) {
        let transaction = self.db().begin().await.expect("begin");
        linkyard_actors::backends::queue::enqueue(&transaction, job)
            .await
            .expect("enqueue");
        transaction.commit().await.expect("commit");
        relay.wake();
    }

    /// Returns the number of ready messages in `queue`, or `None` while the queue does not exist.
    async fn ready_messages(&self, queue: &str) -> Option<u32> {
        let (connection, channel) = inspector().await;
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = channel
            .queue_declare(queue.into(), options, FieldTable::default())
            .await;
        let _ = connection.close(200, "inspected".into()).await;
        declared.ok().map(|queue| queue.message_count())
    }
}

fn config(settings: &QueueSettings) -> QueueConfig {
    QueueConfig::from_settings(settings).expect("valid queue settings")
}

async fn inspector() -> (Connection, Channel) {
    let connection = Connection::connect(AMQP_URL, ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ");
    let channel = connection.create_channel().await.expect("open channel");
    (connection, channel)
}

/// Deletes a test's exchanges and queues on drop. Drop cannot await inside the test's runtime,
/// so the deletion runs on a thread with a runtime of its own.
struct TopologyCleanup {
    config: QueueConfig,
}

impl Drop for TopologyCleanup {
    fn drop(&mut self) {
        let config = self.config.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            let kinds = [KIND.to_owned()];
            if let Err(error) = runtime.block_on(rabbitmq::delete_topology(&config, &kinds)) {
                eprintln!(
                    "deleting the test topology {} failed: {error}",
                    config.prefix
                );
            }
        });
        let _ = cleanup.join();
    }
}

fn spawn_worker(
    queue: &Arc<RabbitMqQueue>,
    recorder: &Arc<Recorder>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<Result<(), linkyard_actors::backends::queue::QueueError>> {
    let queue: Arc<dyn JobQueue> = queue.clone();
    let handlers = recorder.handlers();
    let shutdown = shutdown.clone();
    tokio::spawn(linkyard::backends::queue::run_worker(
        queue, handlers, shutdown,
    ))
}

async fn published(db: &DatabaseConnection, job_id: &str) -> Option<()> {
    let row = outbox::find(db, job_id).await.expect("find row")?;
    row.published_at.map(|_| ())
}

fn header_number(headers: Option<&FieldTable>, name: &str) -> Option<i64> {
    match headers?.inner().get(name)? {
        AMQPValue::LongLongInt(number) => Some(*number),
        _ => None,
    }
}

fn header_text(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_delivers_once_and_acknowledges() {
    let Some(fixture) = Fixture::create(|_| {}).await else {
        return;
    };
    let recorder = Recorder::new(|_, _| Step::Succeed);
    let (stop, shutdown) = shutdown_switch();
    let worker = spawn_worker(&fixture.queue, &recorder, &shutdown);

    fixture
        .enqueue(fixture.queue.as_ref(), &test_job("one", json!({"n": 1})))
        .await;
    let done = eventually(DEADLINE, || async {
        recorder.is_applied("one").then_some(())
    })
    .await;
    assert!(done.is_some(), "the job was not delivered");
    let marked = eventually(DEADLINE, || published(fixture.db(), "one")).await;
    assert!(marked.is_some(), "the relay did not mark the row published");

    stop.send_replace(true);
    worker
        .await
        .expect("worker task")
        .expect("worker stops cleanly");
    let calls = recorder.calls_for("one");
    assert_eq!(calls.len(), 1, "delivered more than once: {calls:?}");
    assert_eq!(calls[0].job.attempt, 1);
    assert_eq!(calls[0].job.kind, KIND);
    assert_eq!(calls[0].job.payload, json!({"n": 1}));
    assert_eq!(calls[0].job.request_id.as_deref(), Some("request-one"));

    // The consumer's connection is closed now, so an unacknowledged message would be back in
    // the queue.
    let topology = fixture.topology();
    assert_eq!(
        fixture.ready_messages(&topology.work_queue(KIND)).await,
        Some(0)
    );
    assert_eq!(
        fixture.ready_messages(&topology.parked_queue()).await,
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_shutdown_finishes_jobs_in_flight() {
    let Some(fixture) = Fixture::create(|settings| settings.concurrency = 2).await else {
        return;
    };
    let recorder = Recorder::new(|_, _| Step::WaitForGate);
    let (stop, shutdown) = shutdown_switch();
    let worker = spawn_worker(&fixture.queue, &recorder, &shutdown);

    for id in ["slow-1", "slow-2", "slow-3"] {
        fixture
            .enqueue(fixture.queue.as_ref(), &test_job(id, json!({})))
            .await;
    }
    let full = eventually(DEADLINE, || async {
        (recorder.in_flight() == 2).then_some(())
    })
    .await;
    assert!(full.is_some(), "the consumers did not fill their 2 slots");

    stop.send_replace(true);
    let returned = eventually(Duration::from_millis(300), || async {
        worker.is_finished().then_some(())
    })
    .await;
    assert!(
        returned.is_none(),
        "shutdown returned before the jobs in flight finished"
    );
    recorder.open_gate();
    worker
        .await
        .expect("worker task")
        .expect("worker stops cleanly");

    assert_eq!(recorder.max_in_flight(), 2);
    assert_eq!(
        recorder.calls().len(),
        2,
        "a job started after shutdown began"
    );
    // The two finished jobs were acknowledged; the third is back in its queue, unstarted.
    let work_queue = fixture.topology().work_queue(KIND);
    assert_eq!(fixture.ready_messages(&work_queue).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_retries_growing_delays_then_parks() {
    let configure = |settings: &mut QueueSettings| {
        settings.retry_delays_ms = vec![200, 800];
        settings.max_attempts = 3;
    };
    let Some(fixture) = Fixture::create(configure).await else {
        return;
    };
    let recorder = Recorder::new(|job, _| match job.payload["mode"].as_str() {
        Some("permanent") => Step::FailPermanent,
        _ => Step::FailRetryable,
    });
    let (stop, shutdown) = shutdown_switch();
    let worker = spawn_worker(&fixture.queue, &recorder, &shutdown);

    let relay = fixture.queue.as_ref();
    fixture
        .enqueue(relay, &test_job("flaky", json!({"mode": "retryable"})))
        .await;
    fixture
        .enqueue(relay, &test_job("doomed", json!({"mode": "permanent"})))
        .await;
    let parked_queue = fixture.topology().parked_queue();
    let parked = eventually(DEADLINE, || async {
        (fixture.ready_messages(&parked_queue).await == Some(2)).then_some(())
    })
    .await;
    assert!(parked.is_some(), "the two jobs were not parked");

    stop.send_replace(true);
    worker
        .await
        .expect("worker task")
        .expect("worker stops cleanly");
    let flaky = recorder.calls_for("flaky");
    let attempts: Vec<u32> = flaky.iter().map(|call| call.job.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    let gaps = gaps(&flaky);
    assert!(
        gaps[0] >= Duration::from_millis(200),
        "first retry too early: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(800),
        "second retry too early: {gaps:?}"
    );
    assert!(gaps[1] > gaps[0], "delays did not grow: {gaps:?}");
    let doomed: Vec<u32> = recorder
        .calls_for("doomed")
        .iter()
        .map(|call| call.job.attempt)
        .collect();
    assert_eq!(doomed, [1], "a permanent failure must not be retried");

    let (connection, channel) = inspector().await;
    let mut seen = Vec::new();
    while let Some(message) = channel
        .basic_get(parked_queue.as_str().into(), BasicGetOptions::default())
        .await
        .expect("basic.get")
    {
        let properties = &message.delivery.properties;
        let id = properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned());
        let headers = properties.headers().as_ref();
        seen.push((
            id.unwrap_or_default(),
            header_number(headers, ATTEMPT_HEADER),
            header_text(headers, LAST_ERROR_HEADER),
        ));
        message
            .delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .expect("ack");
    }
    let _ = connection.close(200, "inspected".into()).await;
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "doomed".to_owned(),
                Some(1),
                Some("the bookmark no longer exists".to_owned())
            ),
            (
                "flaky".to_owned(),
                Some(3),
                Some("upstream returned 503".to_owned())
            ),
        ]
    );
    assert_eq!(
        fixture
            .ready_messages(&fixture.topology().work_queue(KIND))
            .await,
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_job_survives_killed_consumer() {
    let Some(fixture) = Fixture::create(|_| {}).await else {
        return;
    };
    let recorder = Recorder::new(|_, earlier| match earlier {
        0 => Step::KillConsumer,
        _ => Step::Succeed,
    });
    let (stop, shutdown) = shutdown_switch();
    let relay = tokio::spawn({
        let queue = Arc::clone(&fixture.queue);
        let shutdown = shutdown.clone();
        async move { queue.run_relay(shutdown).await }
    });
    let first = tokio::spawn({
        let queue = Arc::clone(&fixture.queue);
        let handlers = recorder.handlers();
        let shutdown = shutdown.clone();
        async move { queue.run_consumers(handlers, shutdown).await }
    });
    recorder.set_consumer(&first);

    fixture
        .enqueue(fixture.queue.as_ref(), &test_job("survivor", json!({})))
        .await;
    let killed = first.await;
    assert!(
        killed.is_err_and(|error| error.is_cancelled()),
        "the first consumer was not aborted"
    );

    // The aborted consumer's connection closed with the message unacknowledged, so the broker
    // redelivers it to the next consumer.
    let second = tokio::spawn({
        let queue = Arc::clone(&fixture.queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });
    let done = eventually(DEADLINE, || async {
        recorder.is_applied("survivor").then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "the job was not delivered again after its consumer died"
    );

    stop.send_replace(true);
    second
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
    relay
        .await
        .expect("relay task")
        .expect("relay stops cleanly");
    let attempts: Vec<u32> = recorder
        .calls_for("survivor")
        .iter()
        .map(|call| call.job.attempt)
        .collect();
    assert_eq!(
        attempts,
        [1, 2],
        "the interrupted delivery counts as an attempt"
    );
    assert_eq!(
        recorder.effects(),
        1,
        "the idempotent effect must apply once"
    );
    assert_eq!(
        fixture
            .ready_messages(&fixture.topology().work_queue(KIND))
            .await,
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_reconnects_after_broker_closes_connections() {
    let Some(fixture) = Fixture::create(|_| {}).await else {
        return;
    };
    let recorder = Recorder::new(|_, _| Step::Succeed);
    let (stop, shutdown) = shutdown_switch();
    let worker = spawn_worker(&fixture.queue, &recorder, &shutdown);

    let relay = fixture.queue.as_ref();
    fixture.enqueue(relay, &test_job("before", json!({}))).await;
    let done = eventually(DEADLINE, || async {
        recorder.is_applied("before").then_some(())
    })
    .await;
    assert!(done.is_some(), "the first job was not delivered");

    let names = [
        format!("{} consumer", fixture.settings.prefix),
        format!("{} relay", fixture.settings.prefix),
    ];
    let Some(closed) = close_connections(&names).await else {
        stop.send_replace(true);
        let _ = worker.await;
        return;
    };
    assert_eq!(
        closed, 2,
        "expected the relay's and the consumer's connection"
    );

    fixture.enqueue(relay, &test_job("after", json!({}))).await;
    let done = eventually(DEADLINE, || async {
        recorder.is_applied("after").then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "the job enqueued after the connections closed was not delivered"
    );

    stop.send_replace(true);
    worker
        .await
        .expect("worker task")
        .expect("worker stops cleanly");
    assert_eq!(recorder.calls_for("before").len(), 1);
    assert_eq!(recorder.calls_for("after").len(), 1);
}

/// Closes, from the broker's side, the connections whose client properties contain one of
/// `names`, with `rabbitmqctl`. Returns how many it closed, or `None` (after printing one line)
/// when `rabbitmqctl` cannot be run.
async fn close_connections(names: &[String]) -> Option<usize> {
    let names = names.to_vec();
    let closed = tokio::task::spawn_blocking(move || {
        // The table format prints each pid in the form close_connection accepts, then the
        // client properties, which contain the connection name.
        let output = std::process::Command::new("rabbitmqctl")
            .args(["list_connections", "pid", "client_properties", "-q"])
            .output()
            .map_err(|error| error.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let listed = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut closed = 0;
        for line in listed.lines() {
            if !names.iter().any(|name| line.contains(name.as_str())) {
                continue;
            }
            let pid = line.split_whitespace().next().unwrap_or_default();
            let status = std::process::Command::new("rabbitmqctl")
                .args(["close_connection", pid, "closed by a linkyard test", "-q"])
                .status()
                .map_err(|error| error.to_string())?;
            if status.success() {
                closed += 1;
            }
        }
        Ok(closed)
    })
    .await
    .expect("rabbitmqctl task");
    match closed {
        Ok(closed) => Some(closed),
        Err(error) => {
            eprintln!("skipped: rabbitmqctl cannot list or close connections ({error})");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_relay_waits_for_broker() {
    let Some(fixture) = Fixture::create(|_| {}).await else {
        return;
    };
    let proxy = BrokerProxy::start().await;
    let mut relay_settings = fixture.settings.clone();
    relay_settings.amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.address);
    let relay_queue = Arc::new(RabbitMqQueue::new(
        fixture.test.queue_db.clone(),
        config(&relay_settings),
    ));

    let recorder = Recorder::new(|_, _| Step::Succeed);
    let (stop, shutdown) = shutdown_switch();
    let relay = tokio::spawn({
        let queue = Arc::clone(&relay_queue);
        let shutdown = shutdown.clone();
        async move { queue.run_relay(shutdown).await }
    });
    let consumers = tokio::spawn({
        let queue = Arc::clone(&fixture.queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });

    let ids = ["held-1", "held-2", "held-3"];
    for id in ids {
        fixture
            .enqueue(relay_queue.as_ref(), &test_job(id, json!({})))
            .await;
    }
    // The broker address drops every connection, so the relay keeps retrying.
    let retried = eventually(DEADLINE, || async {
        (proxy.connections() >= 3).then_some(())
    })
    .await;
    assert!(retried.is_some(), "the relay did not retry its connection");
    for id in ids {
        let row = outbox::find(fixture.db(), id)
            .await
            .expect("find")
            .expect("row kept");
        assert!(
            row.published_at.is_none(),
            "{id} was marked published without a broker"
        );
    }
    assert!(recorder.calls().is_empty());

    proxy.start_forwarding();
    for id in ids {
        let done = eventually(DEADLINE, || async { recorder.is_applied(id).then_some(()) }).await;
        assert!(
            done.is_some(),
            "{id} was not delivered after the broker came back"
        );
        let marked = eventually(DEADLINE, || published(fixture.db(), id)).await;
        assert!(marked.is_some(), "{id} was not marked published");
    }

    stop.send_replace(true);
    relay
        .await
        .expect("relay task")
        .expect("relay stops cleanly");
    consumers
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
    for id in ids {
        assert_eq!(
            recorder.calls_for(id).len(),
            1,
            "{id} was delivered more than once"
        );
    }
}

/// A TCP proxy in front of the broker that drops every connection until it starts forwarding.
struct BrokerProxy {
    address: SocketAddr,
    forwarding: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl BrokerProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let forwarding = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let forwarding = Arc::clone(&forwarding);
            let connections = Arc::clone(&connections);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    if forwarding.load(Ordering::SeqCst) {
                        tokio::spawn(forward(client));
                    }
                }
            }
        });
        Self {
            address,
            forwarding,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn start_forwarding(&self) {
        self.forwarding.store(true, Ordering::SeqCst);
    }
}

impl Drop for BrokerProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(mut client: TcpStream) {
    if let Ok(mut broker) = TcpStream::connect(BROKER).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
    }
}
