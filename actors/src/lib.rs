//! linkyard's core: the supervised ractor actors, their messages, the domain types parsed at the
//! edge and the backend traits. The HTTP front end and the backend implementations live in the
//! `linkyard` binary crate.

pub mod accounts;
pub mod analytics;
pub mod backends;
pub mod bookmarks;
pub mod db;
pub mod domain;
pub mod enrich;
pub mod id_allocator;
pub mod link_reader;
pub mod link_writer;
pub mod links;
pub mod pastes;
pub mod qr;
pub mod supervisor;
pub mod url_shard;

/// Sends `value` to a caller that may have gone away. A dropped reply is not an error for the
/// actor: the caller disconnected or timed out, so it is logged at debug and the actor carries on.
pub fn reply<T: Send + 'static>(port: ractor::RpcReplyPort<T>, value: T) {
    if port.send(value).is_err() {
        tracing::debug!("reply dropped: the caller went away");
    }
}
