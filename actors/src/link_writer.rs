//! `LinkWriter`: group commit for new links.
//!
//! Creates from all shards queue here. While one batch commits, the next one collects, and each
//! batch is a single multi-row `INSERT … ON CONFLICT (code) DO NOTHING RETURNING` in its own
//! transaction. A caller is answered only after its batch has committed, so every acknowledged
//! link is durable, and SQLite sees one writer instead of many competing for its lock.

use crate::backends::queue::NewJob;
use crate::db::entities::links;
use crate::db::{self, DbError};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// Whether the row was inserted, or skipped because its code was already taken.
pub type InsertReply = RpcReplyPort<Result<bool, Arc<DbError>>>;

#[derive(Clone)]
pub struct LinkWriter;

pub struct LinkWriterArguments {
    pub db: DatabaseConnection,
    /// The most rows in one statement; both backends accept this many bind parameters.
    pub max_batch: usize,
}

pub enum LinkWriterMessage {
    /// Inserts a link, and with it the job to enqueue when it is inserted.
    Insert(Box<links::ActiveModel>, Option<NewJob>, String, InsertReply),
    BatchCommitted,
}

type Pending = (Box<links::ActiveModel>, Option<NewJob>, String, InsertReply);

pub struct LinkWriterState {
    arguments: LinkWriterArguments,
    pending: Vec<Pending>,
    committing: bool,
}

impl Actor for LinkWriter {
    type Msg = LinkWriterMessage;
    type State = LinkWriterState;
    type Arguments = LinkWriterArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        arguments: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(LinkWriterState {
            arguments,
            pending: Vec::new(),
            committing: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            LinkWriterMessage::Insert(row, job, code, reply) => {
                state.pending.push((row, job, code, reply))
            }
            LinkWriterMessage::BatchCommitted => state.committing = false,
        }
        if !state.committing && !state.pending.is_empty() {
            commit_next_batch(&myself, state);
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Rows still pending at shutdown were never acknowledged; commit them anyway so a
        // request that raced the shutdown does not lose its link.
        while !state.pending.is_empty() {
            let take = state.pending.len().min(state.arguments.max_batch);
            let batch: Vec<_> = state.pending.drain(..take).collect();
            commit(&state.arguments.db, batch).await;
        }
        Ok(())
    }
}

fn commit_next_batch(myself: &ActorRef<LinkWriterMessage>, state: &mut LinkWriterState) {
    let take = state.pending.len().min(state.arguments.max_batch);
    let batch: Vec<_> = state.pending.drain(..take).collect();
    state.committing = true;

    let db = state.arguments.db.clone();
    let myself = myself.clone();
    tokio::spawn(async move {
        commit(&db, batch).await;
        let _ = myself.cast(LinkWriterMessage::BatchCommitted);
    });
}

async fn commit(db: &DatabaseConnection, batch: Vec<Pending>) {
    let (rows, waiters): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|(row, job, code, reply)| ((*row, job), (code, reply)))
        .unzip();

    let size = rows.len();
    match db::links::insert_batch(db, rows).await {
        Ok(inserted) => {
            tracing::debug!(size, inserted = inserted.len(), "link batch committed");
            // Two rows of one batch can carry the same alias; only the first one gets it.
            let mut taken = inserted;
            for (code, reply) in waiters {
                crate::reply(reply, Ok(taken.remove(&code)));
            }
        }
        Err(error) => {
            tracing::error!(%error, size, "link batch failed");
            let error = Arc::new(error);
            for (_, reply) in waiters {
                crate::reply(reply, Err(Arc::clone(&error)));
            }
        }
    }
}
