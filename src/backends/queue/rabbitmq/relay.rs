//! The outbox relay: claims unpublished outbox rows, publishes them with publisher confirms and
//! marks them published only after the broker confirmed them.
//!
//! While the broker is unreachable the rows stay in the outbox and the relay reconnects with
//! backoff, so an outage delays jobs and loses none. A row whose confirm never arrived is
//! published again later, which may deliver its job twice; handlers are idempotent for that.

use super::{JobMessage, PublishError, RabbitMqQueue, close_connection, publish_confirmed};
use crate::backends::queue::{
    Backoff, ERROR_LOG_INTERVAL, LogLimiter, instance_id, is_stopping, sleep_or_stop, stopped,
};
use chrono::Utc;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use linkyard_actors::backends::queue::QueueError;
use linkyard_actors::db::{self, outbox::OutboxRow};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the relay deletes published rows older than the retention.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// Rows deleted by one purge statement.
const PURGE_BATCH: u64 = 1000;
/// A session that lasted this long resets the reconnection backoff.
const STABLE_SESSION: Duration = Duration::from_secs(30);

/// Relays outbox rows until `shutdown` turns true.
pub(super) async fn run(
    queue: &RabbitMqQueue,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), QueueError> {
    let mut relay = Relay {
        queue,
        owner: instance_id("relay"),
        broker_errors: LogLimiter::new(ERROR_LOG_INTERVAL),
        db_errors: LogLimiter::new(ERROR_LOG_INTERVAL),
        last_purge: None,
    };
    let mut backoff = Backoff::new(queue.config.reconnect_max);
    tracing::info!(owner = %relay.owner, "outbox relay started");

    while !is_stopping(&shutdown) {
        let started = Instant::now();
        let error = match relay.open_session().await {
            Ok(mut session) => {
                if relay.broker_errors.has_failed() {
                    tracing::info!(owner = %relay.owner, "outbox relay reconnected to RabbitMQ");
                    relay.broker_errors.reset();
                } else {
                    tracing::info!(owner = %relay.owner, "outbox relay connected to RabbitMQ");
                }
                let result = relay.relay_until_failure(&mut session, &mut shutdown).await;
                close_connection(&session.connection, "relay stopping").await;
                match result {
                    Ok(()) => break,
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };

        if let Some(repeats) = relay.broker_errors.check() {
            tracing::warn!(owner = %relay.owner, %error, repeats, "outbox relay cannot reach RabbitMQ; the jobs wait in the outbox");
        }
        if started.elapsed() >= STABLE_SESSION {
            backoff.reset();
        }
        if sleep_or_stop(backoff.next_delay(), &mut shutdown).await {
            break;
        }
    }
    tracing::info!(owner = %relay.owner, "outbox relay stopped");
    Ok(())
}

struct Relay<'a> {
    queue: &'a RabbitMqQueue,
    /// The relay's lease owner id.
    owner: String,
    broker_errors: LogLimiter,
    db_errors: LogLimiter,
    last_purge: Option<Instant>,
}

struct Session {
    connection: Connection,
    channel: Channel,
    /// Kinds whose work queue this session has declared.
    declared_kinds: HashSet<String>,
}

impl Relay<'_> {
    async fn open_session(&self) -> Result<Session, QueueError> {
        let connection = self.queue.connect("relay").await?;
        let broken = |error: lapin::Error| super::unavailable("open relay channel", &error);
        let channel = connection.create_channel().await.map_err(broken)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broken)?;
        super::declare_exchange(
            &channel,
            &self.queue.topology.work_exchange(),
            lapin::ExchangeKind::Direct,
        )
        .await
        .map_err(broken)?;
        Ok(Session {
            connection,
            channel,
            declared_kinds: HashSet::new(),
        })
    }

    /// Relays rounds of rows until shutdown (`Ok`) or a broker failure (`Err`).
    async fn relay_until_failure(
        &mut self,
        session: &mut Session,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        let config = &self.queue.config;
        while !is_stopping(shutdown) {
            self.purge_if_due().await;
            let rows = self.claim().await.unwrap_or_default();
            let full = rows.len() as u64 >= config.relay_batch;
            if !rows.is_empty() {
                self.publish_rows(session, rows).await?;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = stopped(shutdown) => {}
                _ = self.queue.wake.notified() => {}
                _ = tokio::time::sleep(config.poll_interval) => {}
            }
        }
        Ok(())
    }

    /// Claims a batch of unpublished due rows; `None` when the database failed.
    async fn claim(&mut self) -> Option<Vec<OutboxRow>> {
        let config = &self.queue.config;
        let now = Utc::now();
        let claim = db::outbox::Claim {
            owner: &self.owner,
            now,
            lease_until: now + config.lease,
            limit: config.relay_batch,
            kinds: None,
            count_attempt: false,
        };
        match db::outbox::claim(&self.queue.db, claim).await {
            Ok(rows) => {
                self.db_errors.reset();
                Some(rows)
            }
            Err(error) => {
                if let Some(repeats) = self.db_errors.check() {
                    tracing::warn!(owner = %self.owner, %error, repeats, "outbox relay cannot claim rows; retrying on the next poll");
                }
                None
            }
        }
    }

    /// Publishes `rows` one by one and settles each in the outbox. Returns the broker failure
    /// that broke the session, after releasing the rows it left unpublished.
    async fn publish_rows(
        &self,
        session: &mut Session,
        rows: Vec<OutboxRow>,
    ) -> Result<(), QueueError> {
        let mut published = Vec::with_capacity(rows.len());
        let mut broken = None;
        let mut unsent = Vec::new();
        for row in rows {
            if broken.is_some() {
                unsent.push(row.id);
                continue;
            }
            match self.publish_row(session, &row).await {
                Ok(()) => published.push(row.id),
                Err(error) if error.breaks_session() => {
                    unsent.push(row.id);
                    broken = Some(super::unavailable_publish(&error));
                }
                Err(error) => {
                    // A returned message means the kind's queue is gone; declare it again.
                    session.declared_kinds.remove(&row.kind);
                    self.delay_rejected(&row, &error).await;
                }
            }
        }

        self.settle_published(&published).await;
        // The broker may hold some of these; publishing them again after reconnecting can
        // deliver a job twice, which idempotent handlers absorb.
        if let Err(error) = db::outbox::release(&self.queue.db, &unsent, Utc::now(), None).await {
            tracing::warn!(%error, rows = unsent.len(), "releasing unpublished outbox rows failed; they return when their lease runs out");
        }
        broken.map_or(Ok(()), Err)
    }

    async fn publish_row(
        &self,
        session: &mut Session,
        row: &OutboxRow,
    ) -> Result<(), PublishError> {
        let topology = &self.queue.topology;
        if !session.declared_kinds.contains(&row.kind) {
            topology.declare_kind(&session.channel, &row.kind).await?;
            session.declared_kinds.insert(row.kind.clone());
        }
        let message = JobMessage {
            job_id: &row.job_id,
            kind: &row.kind,
            attempt: 1,
            request_id: row.request_id.as_deref(),
            last_error: None,
            created_at: u64::try_from(row.created_at.timestamp()).ok(),
        };
        publish_confirmed(
            &session.channel,
            &topology.work_exchange(),
            &row.kind,
            row.payload.as_bytes(),
            message.properties(),
            self.queue.config.lease / 2,
        )
        .await
    }

    /// Marks rows published. A failure here leaves them leased, so they are published again
    /// when the lease runs out.
    async fn settle_published(&self, ids: &[i64]) {
        if let Err(error) = db::outbox::mark_published(&self.queue.db, ids, Utc::now()).await {
            tracing::error!(%error, rows = ids.len(), "the broker confirmed outbox rows but marking them published failed; they will be published again");
        } else if !ids.is_empty() {
            tracing::debug!(rows = ids.len(), "outbox rows published");
        }
    }

    /// Puts back a row the broker returned or refused, to try again after the first retry delay.
    async fn delay_rejected(&self, row: &OutboxRow, error: &PublishError) {
        let delay = self.queue.config.retry.jittered_delay_after(1);
        let reason = format!("publishing failed: {error}");
        tracing::warn!(job_id = %row.job_id, kind = %row.kind, %error, retry_in_ms = delay.as_millis() as u64, "the broker did not accept a job; the relay tries again");
        let result =
            db::outbox::release(&self.queue.db, &[row.id], Utc::now() + delay, Some(&reason)).await;
        if let Err(error) = result {
            tracing::warn!(%error, job_id = %row.job_id, "releasing the outbox row failed; it returns when its lease runs out");
        }
    }

    /// Deletes published rows older than the retention, at most once per [`PURGE_INTERVAL`].
    async fn purge_if_due(&mut self) {
        if self
            .last_purge
            .is_some_and(|last| last.elapsed() < PURGE_INTERVAL)
        {
            return;
        }
        self.last_purge = Some(Instant::now());
        let before = Utc::now() - self.queue.config.published_retention;
        loop {
            match db::outbox::purge_published(&self.queue.db, before, PURGE_BATCH).await {
                Ok(deleted) if deleted == PURGE_BATCH => continue,
                Ok(deleted) => {
                    if deleted > 0 {
                        tracing::debug!(deleted, "purged published outbox rows");
                    }
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "purging published outbox rows failed; the next purge retries");
                    return;
                }
            }
        }
    }
}
