//! The blob store port: opaque objects under string keys. Files under the data directory in the
//! embedded default, an S3 bucket in production.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// A stored object.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Bytes,
    pub content_type: String,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The store could not be reached or failed; the request may succeed later.
    #[error("blob store {backend} failed during {operation}: {message}")]
    Unavailable {
        backend: &'static str,
        operation: &'static str,
        message: String,
    },
    /// The key is not one this store accepts (empty, `..`, absolute, too long).
    #[error("blob key '{key}' is invalid: {reason}")]
    InvalidKey { key: String, reason: &'static str },
}

/// Object storage. Keys are `/`-separated relative paths such as `pastes/ab/abcdef`. Writes are
/// atomic: a reader sees the whole object or none of it.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The backend's name for logs and 503 responses: `filesystem` or `s3`.
    fn name(&self) -> &'static str;

    /// Stores `bytes` under `key`, replacing any object there.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError>;

    /// Returns the object under `key`, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;

    /// Whether an object exists under `key`.
    async fn exists(&self, key: &str) -> Result<bool, BlobError>;

    /// Deletes the object under `key`. Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Lists up to `limit` objects whose keys start with `prefix`, in key order, starting after
    /// `after`. The sweeper pages through orphans with it.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BlobEntry>, BlobError>;

    /// Checks that the store is reachable, for `/readyz`.
    async fn ping(&self) -> Result<(), BlobError>;
}
