//! Group flushes for the filesystem blob store.
//!
//! Two `fsync` calls per object (the file, then its directory) made every small write wait
//! for its own device flush, and concurrent writes could not share one. Here writers ask for a
//! flush of the whole filesystem (`syncfs`) instead. One flush runs at a time, and everything
//! that asked while it ran is covered by the next one, so under load one flush serves many
//! objects.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Flushes of the filesystem that contains a directory, shared by concurrent writers.
#[derive(Debug, Clone)]
pub struct FlushGroup {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The store's root directory, opened once: `syncfs` flushes the filesystem it is on.
    directory: File,
    rounds: Mutex<Rounds>,
    finished: watch::Sender<Finished>,
}

#[derive(Debug, Default)]
struct Rounds {
    /// Rounds started so far; round `n` covers writes made before it started.
    started: u64,
    running: bool,
    /// Whether a writer requested a flush while one was running.
    requested: bool,
}

#[derive(Debug, Clone, Default)]
struct Finished {
    round: u64,
    /// The latest failed round and its error. A later success does not cover it, because the
    /// kernel reports a failed writeback once.
    failure: Option<(u64, String)>,
}

impl FlushGroup {
    pub fn open(directory: &Path) -> io::Result<Self> {
        let (finished, _) = watch::channel(Finished::default());
        Ok(Self {
            inner: Arc::new(Inner {
                directory: File::open(directory)?,
                rounds: Mutex::new(Rounds::default()),
                finished,
            }),
        })
    }

    /// Returns once everything written before the call is on disk, or with the error of the
    /// flush that should have covered it.
    pub async fn flush(&self) -> Result<(), String> {
        let mut finished = self.inner.finished.subscribe();
        let target = {
            let mut rounds = self.lock();
            if rounds.running {
                rounds.requested = true;
                rounds.started + 1
            } else {
                rounds.running = true;
                rounds.started += 1;
                self.start_round(rounds.started);
                rounds.started
            }
        };
        let outcome = finished
            .wait_for(|finished| finished.round >= target)
            .await
            .map_err(|_| "the flush task ended".to_owned())?;
        match &outcome.failure {
            Some((round, error)) if *round >= target => Err(error.clone()),
            _ => Ok(()),
        }
    }

    fn start_round(&self, round: u64) {
        let group = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = rustix::fs::syncfs(&group.inner.directory);
            group.finish_round(round, result.map_err(|error| error.to_string()));
        });
    }

    /// Publishes a round's outcome, then starts the next round if a writer is waiting for it.
    fn finish_round(&self, round: u64, result: Result<(), String>) {
        let mut rounds = self.lock();
        self.inner.finished.send_modify(|finished| {
            finished.round = round;
            if let Err(error) = result {
                tracing::error!(round, %error, "flushing the blob store's filesystem failed");
                finished.failure = Some((round, error));
            }
        });
        if rounds.requested {
            rounds.requested = false;
            rounds.started += 1;
            self.start_round(rounds.started);
        } else {
            rounds.running = false;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.inner
            .rounds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flush_serves_concurrent_writers() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let group = FlushGroup::open(dir.path()).expect("flush group");
        let flushes: Vec<_> = (0..50)
            .map(|i| {
                let group = group.clone();
                let path = dir.path().join(format!("object-{i}"));
                tokio::spawn(async move {
                    std::fs::write(&path, b"bytes").expect("write");
                    group.flush().await
                })
            })
            .collect();
        for flush in flushes {
            assert_eq!(flush.await.expect("task"), Ok(()));
        }

        let finished = group.inner.finished.borrow().clone();
        assert!(finished.round >= 1);
        assert!(finished.round <= 50);
        assert!(finished.failure.is_none());
        assert!(!group.lock().running);
    }

    #[tokio::test]
    async fn flush_waits_for_next_round() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let group = FlushGroup::open(dir.path()).expect("flush group");
        // A round is running: a new request must wait for the next one.
        {
            let mut rounds = group.lock();
            rounds.running = true;
            rounds.started = 1;
        }
        let waiter = {
            let group = group.clone();
            tokio::spawn(async move { group.flush().await })
        };
        while !group.lock().requested {
            tokio::task::yield_now().await;
        }
        group.finish_round(1, Ok(()));
        assert_eq!(waiter.await.expect("task"), Ok(()));
        assert_eq!(group.inner.finished.borrow().round, 2);
    }

    #[tokio::test]
    async fn flush_reports_failed_round() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let group = FlushGroup::open(dir.path()).expect("flush group");
        {
            let mut rounds = group.lock();
            rounds.running = true;
            rounds.started = 1;
        }
        let waiter = {
            let group = group.clone();
            tokio::spawn(async move { group.flush().await })
        };
        // The waiter joins round 2, which fails.
        while !group.lock().requested {
            tokio::task::yield_now().await;
        }
        {
            let mut rounds = group.lock();
            rounds.requested = false;
            rounds.started = 2;
        }
        group.finish_round(2, Err("disk gone".to_owned()));
        assert_eq!(waiter.await.expect("task"), Err("disk gone".to_owned()));
    }
}
