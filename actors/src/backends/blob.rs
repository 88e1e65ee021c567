//! The blob store port: opaque objects under string keys. Files under the data directory in the
//! embedded default, an S3 bucket in production.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// The maximum key length, in bytes. S3 allows 1,024 bytes, and the rest is left for the S3
/// store's configured key prefix.
pub const MAX_KEY_BYTES: usize = 512;

/// The maximum length of one segment of a key, in bytes: the file name limit (`NAME_MAX`) of
/// common Linux and macOS filesystems.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// The maximum content type length, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;

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
    /// The key breaks the rules of [`check_key`], or the filesystem store cannot hold it next
    /// to an existing object.
    #[error(
        "blob key {key:?} is invalid: {reason}; use a relative path of non-empty segments \
         such as pastes/ab/abcdef"
    )]
    InvalidKey { key: String, reason: &'static str },
    /// The content type breaks the rules of [`check_content_type`].
    #[error(
        "blob content type {content_type:?} is invalid: {reason}; use a media type such as \
         text/plain; charset=utf-8"
    )]
    InvalidContentType {
        content_type: String,
        reason: &'static str,
    },
}

impl BlobError {
    /// Stable error code for logs and clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "blob_store_unavailable",
            Self::InvalidKey { .. } => "invalid_blob_key",
            Self::InvalidContentType { .. } => "invalid_blob_content_type",
        }
    }
}

/// Checks a key against the rules that every store enforces, so that a key accepted by one
/// store is accepted by the other. A key is a relative `/`-separated path of at most
/// [`MAX_KEY_BYTES`] with no backslash and no control character (NUL included). Its segments
/// are non-empty, at most [`MAX_SEGMENT_BYTES`] long, and do not start with `.`.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let invalid = |reason| {
        Err(BlobError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("it is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return invalid("it is longer than 512 bytes");
    }
    if key.starts_with('/') {
        return invalid("it starts with '/', but keys are relative paths");
    }
    if key.contains('\\') {
        return invalid("it contains a backslash");
    }
    if key.chars().any(char::is_control) {
        return invalid("it contains NUL or another control character");
    }
    for segment in key.split('/') {
        if let Some(reason) = segment_problem(segment) {
            return invalid(reason);
        }
    }
    Ok(())
}

fn segment_problem(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        return Some("it contains an empty segment ('//' or a trailing '/')");
    }
    if segment == "." || segment == ".." {
        return Some("it contains a '.' or '..' segment");
    }
    if segment.starts_with('.') {
        return Some(
            "a segment starts with '.', which the filesystem store reserves for its own files",
        );
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Some("a segment is longer than 255 bytes");
    }
    None
}

/// Checks a content type: 1 to [`MAX_CONTENT_TYPE_BYTES`] of visible ASCII, spaces and tabs,
/// which is what an HTTP header value can carry unchanged.
pub fn check_content_type(content_type: &str) -> Result<(), BlobError> {
    let invalid = |reason| {
        Err(BlobError::InvalidContentType {
            content_type: content_type.to_owned(),
            reason,
        })
    };
    if content_type.trim().is_empty() {
        return invalid("it is empty");
    }
    if content_type.len() > MAX_CONTENT_TYPE_BYTES {
        return invalid("it is longer than 255 bytes");
    }
    let header_safe = |byte: &u8| matches!(byte, b'\t' | b' '..=b'~');
    if !content_type.as_bytes().iter().all(header_safe) {
        return invalid("it contains a character other than visible ASCII, space or tab");
    }
    Ok(())
}

/// Object storage. Keys are `/`-separated relative paths such as `pastes/ab/abcdef` that pass
/// [`check_key`]. Writes are atomic: a reader sees the whole object or none of it.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The backend's name for logs and 503 responses: `filesystem` or `s3`.
    fn name(&self) -> &'static str;

    /// Stores `bytes` under `key`, replacing any object there. The content type must pass
    /// [`check_content_type`].
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError>;

    /// Stores `bytes` under `key` like [`BlobStore::put`], but returns before the object is on
    /// disk. So a power cut or a crash of the system may lose it or leave it damaged under its
    /// key. It is meant for data that is rebuilt when missing or damaged, such as rendered QR
    /// images, and the reader must check that an object is whole. Stores without a separate
    /// flush step simply put.
    async fn put_cache(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.put(key, bytes, content_type).await
    }

    /// Returns the object under `key`, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;

    /// Whether an object exists under `key`.
    async fn exists(&self, key: &str) -> Result<bool, BlobError>;

    /// Deletes the object under `key`. Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Lists up to `limit` objects whose keys start with `prefix`, in byte order of the keys,
    /// starting after `after`, which is normally the last key of the previous page. Some
    /// S3-compatible servers use another order (SeaweedFS 4.48 lists `a/b` before `a-c`), but
    /// paging that way still returns every key once. The sweeper pages through orphans with it.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BlobEntry>, BlobError>;

    /// Checks that the store is reachable, for `/readyz`.
    async fn ping(&self) -> Result<(), BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_for(key: &str) -> &'static str {
        match check_key(key) {
            Err(BlobError::InvalidKey { reason, .. }) => reason,
            other => panic!("key {key:?} should be invalid, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_keys_are_valid() {
        for key in [
            "a",
            "pastes/ab/abcdef",
            "favicons/0f/0f1e.ico",
            "a-b_c~d:e@f",
            "ü/ñ",
        ] {
            assert!(check_key(key).is_ok(), "{key}");
        }
        let longest = format!("{}/{}/c", "a".repeat(255), "b".repeat(254));
        assert_eq!(longest.len(), MAX_KEY_BYTES);
        assert!(check_key(&longest).is_ok());
    }

    #[test]
    fn each_broken_rule_has_its_reason() {
        assert_eq!(reason_for(""), "it is empty");
        assert!(reason_for(&"a/".repeat(300)).contains("512"));
        assert!(reason_for("/etc/passwd").contains("relative"));
        assert!(reason_for("a\\b").contains("backslash"));
        assert!(reason_for("a\0b").contains("NUL"));
        assert!(reason_for("a\nb").contains("control"));
        assert!(reason_for("a//b").contains("empty segment"));
        assert!(reason_for("a/").contains("empty segment"));
        assert!(reason_for("a/../b").contains("'..'"));
        assert!(reason_for("..").contains("'..'"));
        assert!(reason_for("./a").contains("'.'"));
        assert!(reason_for("a/.hidden").contains("reserves"));
        assert!(reason_for(&"x".repeat(256)).contains("255"));
    }

    #[test]
    fn invalid_key_message_names_the_key() {
        let error = check_key("a/../b").expect_err("invalid");
        assert!(error.to_string().contains("\"a/../b\""), "{error}");
        assert_eq!(error.code(), "invalid_blob_key");
    }

    #[test]
    fn content_type_rules() {
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        assert!(check_content_type("application/octet-stream").is_ok());
        assert!(check_content_type("").is_err());
        assert!(check_content_type("  ").is_err());
        assert!(check_content_type("text/plain\r\nX-Evil: 1").is_err());
        assert!(check_content_type("text/plaïn").is_err());
        assert!(check_content_type(&"a".repeat(256)).is_err());
        let error = check_content_type("a\nb").expect_err("invalid");
        assert_eq!(error.code(), "invalid_blob_content_type");
    }
}
