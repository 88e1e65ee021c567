//! The outbox transport, polled in process, on SQLite and PostgreSQL.

use super::{
    Db, KIND, Recorder, Step, TestDatabase, enqueue, gaps, on_both_databases, shutdown_switch,
    test_job, test_settings,
};
use crate::support::eventually;
use linkyard::backends::queue::QueueConfig;
use linkyard::backends::queue::outbox::OutboxQueue;
use linkyard::settings::QueueSettings;
use linkyard_actors::backends::queue::{self, JobQueue, NewJob};
use linkyard_actors::db::outbox;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(15);

fn outbox_queue(db: &DatabaseConnection, settings: &QueueSettings) -> Arc<OutboxQueue> {
    let config = QueueConfig::from_settings(settings).expect("valid queue settings");
    Arc::new(OutboxQueue::new(db.clone(), config))
}

async fn row_gone(db: &DatabaseConnection, job_id: &str) -> Option<()> {
    match outbox::find(db, job_id).await.expect("find row") {
        Some(_) => None,
        None => Some(()),
    }
}

async fn secret_exists(db: &DatabaseConnection, name: &str) -> bool {
    let sql = format!("SELECT value FROM app_secrets WHERE name = '{name}'");
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("read app_secrets")
    .is_some()
}

on_both_databases!(
    delivers_committed_job_once,
    retries_with_growing_delays_then_parks,
    permanent_failure_parks_then_requeues,
    job_survives_consumer_killed_mid_job,
    concurrent_pollers_run_each_job_once,
    concurrency_is_bounded_and_shutdown_waits,
    wake_skips_the_poll_interval,
);

async fn delivers_committed_job_once(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let queue = outbox_queue(&test.queue_db, &test_settings());
    let recorder = Recorder::new(|_, _| Step::Succeed);
    let (stop, shutdown) = shutdown_switch();
    let consumers = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });

    // The caller's own row and the job commit or roll back together.
    let rolled_back = db.begin().await.expect("begin");
    rolled_back
        .execute_unprepared("INSERT INTO app_secrets (name, value) VALUES ('rolled_back', 'x')")
        .await
        .expect("insert own row");
    queue::enqueue(&rolled_back, &test_job("rolled-back", json!({"n": 0})))
        .await
        .expect("enqueue");
    rolled_back.rollback().await.expect("rollback");

    let committed = db.begin().await.expect("begin");
    committed
        .execute_unprepared("INSERT INTO app_secrets (name, value) VALUES ('committed', 'x')")
        .await
        .expect("insert own row");
    queue::enqueue(&committed, &test_job("committed", json!({"n": 1})))
        .await
        .expect("enqueue");
    committed.commit().await.expect("commit");
    queue.wake();

    let other = NewJob::new("other_kind", json!({})).with_id("other");
    enqueue(db, queue.as_ref(), &other).await;

    let deleted = eventually(DEADLINE, || row_gone(db, "committed")).await;
    assert!(deleted.is_some(), "the succeeded job's row was not deleted");
    assert!(secret_exists(db, "committed").await);
    assert!(!secret_exists(db, "rolled_back").await);

    let calls = recorder.calls_for("committed");
    assert_eq!(calls.len(), 1, "delivered more than once: {calls:?}");
    assert_eq!(calls[0].job.attempt, 1);
    assert_eq!(calls[0].job.kind, KIND);
    assert_eq!(calls[0].job.payload, json!({"n": 1}));
    assert_eq!(
        calls[0].job.request_id.as_deref(),
        Some("request-committed")
    );
    assert!(recorder.calls_for("rolled-back").is_empty());
    assert!(
        outbox::find(db, "rolled-back")
            .await
            .expect("find")
            .is_none()
    );

    let again = queue::enqueue(db, &other).await.expect("enqueue duplicate");
    assert!(
        !again,
        "a job id still in the outbox must not be enqueued twice"
    );
    let invalid = NewJob::new("Not A Kind", json!({}));
    let error = queue::enqueue(db, &invalid)
        .await
        .expect_err("invalid kind");
    assert_eq!(error.code(), "invalid_job_kind");
    assert!(error.to_string().contains("Not A Kind"), "{error}");

    stop.send_replace(true);
    consumers
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
    let other = outbox::find(db, "other")
        .await
        .expect("find")
        .expect("other row");
    assert_eq!(
        other.attempts, 0,
        "a kind without a handler must not be claimed"
    );
    assert!(other.lease_owner.is_none());
}

async fn retries_with_growing_delays_then_parks(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let mut settings = test_settings();
    settings.retry_delays_ms = vec![150, 600];
    settings.max_attempts = 3;
    let queue = outbox_queue(&test.queue_db, &settings);
    let recorder = Recorder::new(|_, _| Step::FailRetryable);
    let (stop, shutdown) = shutdown_switch();
    let consumers = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });

    enqueue(db, queue.as_ref(), &test_job("flaky", json!({}))).await;
    let parked = eventually(DEADLINE, || async {
        outbox::find(db, "flaky")
            .await
            .expect("find")
            .filter(|row| row.parked_at.is_some())
    })
    .await
    .expect("the job was not parked after its last attempt");

    assert_eq!(parked.attempts, 3);
    assert_eq!(parked.last_error.as_deref(), Some("upstream returned 503"));
    assert!(parked.lease_owner.is_none());
    let calls = recorder.calls_for("flaky");
    let attempts: Vec<u32> = calls.iter().map(|call| call.job.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    let gaps = gaps(&calls);
    // Jitter keeps each delay within 20% of its configured value.
    assert!(
        gaps[0] >= Duration::from_millis(120),
        "first retry too early: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(480),
        "second retry too early: {gaps:?}"
    );
    assert!(gaps[1] > gaps[0], "delays did not grow: {gaps:?}");

    let listed = outbox::list_parked(db, 10).await.expect("list parked");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].job_id, "flaky");
    assert_eq!(outbox::count_pending(db).await.expect("count"), 0);

    stop.send_replace(true);
    consumers
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
    assert_eq!(
        recorder.calls_for("flaky").len(),
        3,
        "a parked job ran again"
    );
}

async fn permanent_failure_parks_then_requeues(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let queue = outbox_queue(&test.queue_db, &test_settings());
    // The first call fails permanently; after an operator requeues the job, it succeeds.
    let recorder = Recorder::new(|_, earlier| match earlier {
        0 => Step::FailPermanent,
        _ => Step::Succeed,
    });
    let (stop, shutdown) = shutdown_switch();
    let consumers = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });

    enqueue(db, queue.as_ref(), &test_job("doomed", json!({}))).await;
    let parked = eventually(DEADLINE, || async {
        outbox::find(db, "doomed")
            .await
            .expect("find")
            .filter(|row| row.parked_at.is_some())
    })
    .await
    .expect("a permanent failure was not parked");
    assert_eq!(
        parked.attempts, 1,
        "a permanent failure must not be retried"
    );
    assert_eq!(
        parked.last_error.as_deref(),
        Some("the bookmark no longer exists")
    );

    let requeued = outbox::requeue_parked(db, "doomed", chrono::Utc::now())
        .await
        .expect("requeue");
    assert!(requeued);
    queue.wake();
    let deleted = eventually(DEADLINE, || row_gone(db, "doomed")).await;
    assert!(deleted.is_some(), "the requeued job did not run");
    let calls = recorder.calls_for("doomed");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1].job.attempt, 1,
        "requeueing resets the attempt count"
    );
    assert!(recorder.is_applied("doomed"));

    stop.send_replace(true);
    consumers
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
}

async fn job_survives_consumer_killed_mid_job(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let queue = outbox_queue(&test.queue_db, &test_settings());
    let recorder = Recorder::new(|_, earlier| match earlier {
        0 => Step::KillConsumer,
        _ => Step::Succeed,
    });
    let (stop, shutdown) = shutdown_switch();
    let first = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        let shutdown = shutdown.clone();
        async move { queue.run_consumers(handlers, shutdown).await }
    });
    recorder.set_consumer(&first);

    enqueue(db, queue.as_ref(), &test_job("survivor", json!({}))).await;
    let killed = first.await;
    assert!(
        killed.is_err_and(|error| error.is_cancelled()),
        "the first consumer was not aborted"
    );
    let row = outbox::find(db, "survivor")
        .await
        .expect("find")
        .expect("row kept");
    assert!(
        row.lease_owner.is_some(),
        "the killed consumer's claim should still hold the row"
    );

    // A new consumer claims the row once the dead consumer's lease runs out.
    let second = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });
    let deleted = eventually(DEADLINE, || row_gone(db, "survivor")).await;
    assert!(
        deleted.is_some(),
        "the job was not run again after its consumer died"
    );

    let calls = recorder.calls_for("survivor");
    let attempts: Vec<u32> = calls.iter().map(|call| call.job.attempt).collect();
    assert_eq!(attempts, [1, 2], "the interrupted run counts as an attempt");
    assert_eq!(
        recorder.effects(),
        1,
        "the idempotent effect must apply once"
    );

    stop.send_replace(true);
    second
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
}

async fn concurrent_pollers_run_each_job_once(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let mut settings = test_settings();
    // Long enough that no lease runs out while SQLite writers queue for its lock, so a second
    // run can only come from a double claim.
    settings.lease_ms = 30_000;
    let recorder = Recorder::new(|_, _| Step::Succeed);
    let (stop, shutdown) = shutdown_switch();
    let mut pollers = Vec::new();
    for _ in 0..3 {
        let queue = outbox_queue(&test.queue_db, &settings);
        let handlers = recorder.handlers();
        let shutdown = shutdown.clone();
        pollers.push(tokio::spawn(async move {
            queue.run_consumers(handlers, shutdown).await
        }));
    }

    let waker = outbox_queue(&test.queue_db, &settings);
    let ids: Vec<String> = (0..60).map(|n| format!("bulk-{n}")).collect();
    for id in &ids {
        enqueue(db, waker.as_ref(), &test_job(id, json!({}))).await;
    }
    let drained = eventually(DEADLINE, || async {
        (outbox::count_pending(db).await.expect("count") == 0).then_some(())
    })
    .await;
    assert!(drained.is_some(), "the pollers did not drain the outbox");

    stop.send_replace(true);
    for poller in pollers {
        poller
            .await
            .expect("poller task")
            .expect("pollers stop cleanly");
    }
    for id in &ids {
        let attempts: Vec<u32> = recorder
            .calls_for(id)
            .iter()
            .map(|call| call.job.attempt)
            .collect();
        assert_eq!(attempts, [1], "job {id} ran more than once");
    }
    assert_eq!(recorder.effects(), ids.len());
}

async fn concurrency_is_bounded_and_shutdown_waits(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let mut settings = test_settings();
    settings.concurrency = 3;
    let queue = outbox_queue(&test.queue_db, &settings);
    let recorder = Recorder::new(|_, _| Step::WaitForGate);
    let (stop, shutdown) = shutdown_switch();
    let consumers = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });

    for n in 0..8 {
        enqueue(
            db,
            queue.as_ref(),
            &test_job(&format!("slow-{n}"), json!({})),
        )
        .await;
    }
    let full = eventually(DEADLINE, || async {
        (recorder.in_flight() == 3).then_some(())
    })
    .await;
    assert!(full.is_some(), "the poller did not fill its 3 slots");

    // Shutdown stops claiming but waits for the 3 running jobs.
    stop.send_replace(true);
    let still_running = eventually(Duration::from_millis(300), || async {
        consumers.is_finished().then_some(())
    })
    .await;
    assert!(
        still_running.is_none(),
        "shutdown returned before the jobs in flight finished"
    );
    recorder.open_gate();
    consumers
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");

    assert_eq!(recorder.max_in_flight(), 3);
    assert_eq!(
        recorder.calls().len(),
        3,
        "jobs were claimed after shutdown began"
    );
    assert_eq!(outbox::count_pending(db).await.expect("count"), 5);
    let finished = recorder.calls().into_iter().map(|call| call.job.id);
    for id in finished {
        assert!(
            outbox::find(db, &id).await.expect("find").is_none(),
            "{id} was not deleted"
        );
    }
}

async fn wake_skips_the_poll_interval(kind: Db) {
    let Some(test) = TestDatabase::create(kind).await else {
        return;
    };
    let db = &test.db;
    let mut settings = test_settings();
    settings.poll_interval_ms = 60_000;
    let queue = outbox_queue(&test.queue_db, &settings);
    let recorder = Recorder::new(|_, _| Step::Succeed);
    let (stop, shutdown) = shutdown_switch();
    let consumers = tokio::spawn({
        let queue = Arc::clone(&queue);
        let handlers = recorder.handlers();
        async move { queue.run_consumers(handlers, shutdown).await }
    });

    // Each job is enqueued while the poller sleeps through a 60 s interval, so only the wake
    // can deliver it within the deadline.
    for id in ["first", "second"] {
        enqueue(db, queue.as_ref(), &test_job(id, json!({}))).await;
        let done = eventually(Duration::from_secs(5), || async {
            recorder.is_applied(id).then_some(())
        })
        .await;
        assert!(done.is_some(), "job {id} waited for the poll interval");
    }

    stop.send_replace(true);
    consumers
        .await
        .expect("consumer task")
        .expect("consumers stop cleanly");
}
