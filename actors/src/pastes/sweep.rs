//! The sweeper: deletes expired pastes and orphaned objects.
//!
//! Expired pastes lose their object first and their row second, so an object never outlives
//! its row. An expired row is already invisible to every read. Orphans are objects without a
//! row, left behind by a create whose row insert failed or by a failed object delete. Only
//! orphans older than the grace period are deleted, because a create writes its object before
//! its row.

use super::PasteError;
use super::core::PasteCore;
use super::domain::{BLOB_PREFIX, PasteId};
use crate::db;
use chrono::Utc;
use futures_util::StreamExt;
use std::collections::HashSet;

/// Objects deleted at once.
const DELETE_CONCURRENCY: usize = 8;

/// The maximum batches of expired pastes that one sweep deletes, so one run stays bounded.
/// The next run continues.
const MAX_BATCHES: usize = 100;

/// Counts of what one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Expired pastes whose row and object were deleted.
    pub expired: u64,
    /// Objects without a row, older than the grace period, that were deleted.
    pub orphans: u64,
}

impl PasteCore {
    /// Runs one sweep: expired pastes in batches, then orphaned objects.
    pub async fn sweep(&self) -> Result<SweepReport, PasteError> {
        let expired = self.sweep_expired().await?;
        let orphans = self.sweep_orphans().await?;
        Ok(SweepReport { expired, orphans })
    }

    async fn sweep_expired(&self) -> Result<u64, PasteError> {
        let batch = self.rules.sweep_batch.max(1);
        let mut deleted = 0;
        for _ in 0..MAX_BATCHES {
            let now = Utc::now();
            let ids = db::pastes::expired_ids(&self.db, now, batch).await?;
            if ids.is_empty() {
                break;
            }
            let gone = self.delete_objects(&ids).await;
            if gone.is_empty() {
                // Every object delete failed: the blob store is down, so stop until next time.
                break;
            }
            deleted += db::pastes::delete_expired(&self.db, &gone, now).await?;
            if (ids.len() as u64) < batch {
                break;
            }
        }
        Ok(deleted)
    }

    /// Deletes the objects of `ids` and returns the ids whose object is gone.
    async fn delete_objects(&self, ids: &[String]) -> Vec<String> {
        let blobs = &self.blobs;
        futures_util::stream::iter(ids.iter().cloned())
            .map(|id| async move {
                let key = PasteId::parse(&id).ok()?.blob_key();
                match blobs.delete(&key).await {
                    Ok(()) => Some(id),
                    Err(error) => {
                        tracing::warn!(paste = %id, %error, "deleting an expired paste's object failed");
                        None
                    }
                }
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .filter_map(|id| async move { id })
            .collect()
            .await
    }

    // NOTE: every sweep lists all paste objects, one page of `sweep_batch` keys at a time. Its
    // cost grows with the number of pastes, so a large deployment should sweep less often.
    async fn sweep_orphans(&self) -> Result<u64, PasteError> {
        let grace = chrono::Duration::from_std(self.rules.orphan_grace).unwrap_or_default();
        let cutoff = Utc::now() - grace;
        let page_size = self.rules.sweep_batch.max(1) as usize;
        let mut after: Option<String> = None;
        let mut deleted = 0;
        loop {
            let page = self
                .blobs
                .list(BLOB_PREFIX, after.as_deref(), page_size)
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.key.clone());
            let full = page.len() == page_size;

            // An object without a time cannot be proven old, so it is kept.
            let old: Vec<(String, PasteId)> = page
                .into_iter()
                .filter(|entry| entry.last_modified.is_some_and(|time| time < cutoff))
                .filter_map(|entry| PasteId::from_blob_key(&entry.key).map(|id| (entry.key, id)))
                .collect();
            deleted += self.delete_orphans(old).await?;
            if !full {
                break;
            }
        }
        Ok(deleted)
    }

    async fn delete_orphans(&self, candidates: Vec<(String, PasteId)>) -> Result<u64, PasteError> {
        if candidates.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = candidates.iter().map(|(_, id)| id.to_string()).collect();
        let existing: HashSet<String> = db::pastes::existing_ids(&self.db, &ids).await?;
        let mut deleted = 0;
        for (key, id) in candidates {
            if existing.contains(id.as_str()) {
                continue;
            }
            match self.blobs.delete(&key).await {
                Ok(()) => deleted += 1,
                Err(error) => {
                    tracing::warn!(%key, %error, "deleting an orphaned paste object failed")
                }
            }
        }
        Ok(deleted)
    }
}
