//! An in-memory blob store for the pool tests, with switchable failures and call counters.

use crate::backends::blob::{Blob, BlobEntry, BlobError, BlobStore};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// An in-memory blob store that counts calls and fails on request.
#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, Blob>>,
    pub fail_reads: AtomicBool,
    pub fail_writes: AtomicBool,
    pub gets: AtomicUsize,
    pub puts: AtomicUsize,
}

impl MemoryStore {
    pub fn keys(&self) -> Vec<String> {
        self.objects
            .lock()
            .expect("store lock")
            .keys()
            .cloned()
            .collect()
    }

    pub fn object(&self, key: &str) -> Option<Blob> {
        self.objects.lock().expect("store lock").get(key).cloned()
    }

    pub fn insert(&self, key: &str, bytes: impl Into<Bytes>, content_type: &str) {
        let blob = Blob {
            bytes: bytes.into(),
            content_type: content_type.to_owned(),
        };
        self.objects
            .lock()
            .expect("store lock")
            .insert(key.to_owned(), blob);
    }

    fn failure(&self, operation: &'static str) -> BlobError {
        BlobError::Unavailable {
            backend: "memory",
            operation,
            message: "injected failure".to_owned(),
        }
    }
}

#[async_trait]
impl BlobStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(self.failure("put"));
        }
        let blob = Blob {
            bytes,
            content_type: content_type.to_owned(),
        };
        self.objects
            .lock()
            .expect("store lock")
            .insert(key.to_owned(), blob);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(self.failure("get"));
        }
        Ok(self.object(key))
    }

    async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(self.failure("exists"));
        }
        Ok(self.object(key).is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.objects.lock().expect("store lock").remove(key);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BlobEntry>, BlobError> {
        let objects = self.objects.lock().expect("store lock");
        let entries = objects
            .iter()
            .filter(|(key, _)| {
                key.starts_with(prefix) && after.is_none_or(|after| key.as_str() > after)
            })
            .take(limit)
            .map(|(key, blob)| BlobEntry {
                key: key.clone(),
                size: blob.bytes.len() as u64,
                last_modified: None,
            })
            .collect();
        Ok(entries)
    }

    async fn ping(&self) -> Result<(), BlobError> {
        Ok(())
    }
}
