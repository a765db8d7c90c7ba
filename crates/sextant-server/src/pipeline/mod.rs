//! The processing pipeline: the durable inbox writer and the background processor.
//!
//! Ingest hands each accepted request to the writer and waits for its commit; the
//! processor then turns inbox rows into events, issues and raw items.

pub mod codec;
mod items;
pub mod notice;
mod processor;
mod progress;
mod sessions;
mod writer;

use std::sync::Arc;

use sextant_storage::{InboxEntry, Store};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Pipeline as PipelineConfig;
use crate::disk::DiskGuard;
use crate::metrics::Metrics;

pub use items::process_rows;
pub use progress::Progress;

struct WriteRequest {
    entry: InboxEntry,
    reply: oneshot::Sender<Result<(), String>>,
}

/// Cheap to clone; held by every ingest handler.
#[derive(Clone)]
pub struct PipelineHandle {
    commit: Commit,
    admission: Arc<Admission>,
    metrics: Metrics,
}

/// How an accepted request reaches the inbox.
#[derive(Clone)]
enum Commit {
    /// Through the group-commit task (`writer.rs`), for stores that commit each call on
    /// its own.
    Writer(mpsc::Sender<WriteRequest>),
    /// Straight to a store that gathers concurrent calls into one commit itself: no
    /// extra task hand-off on the request path.
    Direct {
        store: Arc<dyn Store>,
        notify: Arc<Notify>,
    },
}

/// Bounds on work waiting for the inbox writer: a request count and a byte budget (in
/// KiB), so an overload turns into early 429s instead of unbounded memory. Also the disk
/// guard, so a full disk turns into 507s instead of failed writes.
pub struct Admission {
    requests: Arc<Semaphore>,
    kib: Arc<Semaphore>,
    kib_total: u32,
    disk: DiskGuard,
    backlog: Backlog,
}

/// Accepted requests waiting to be processed, as last counted, and the bound on them.
#[derive(Clone)]
pub struct Backlog {
    count: Arc<std::sync::atomic::AtomicU64>,
    max: u64,
}

impl Backlog {
    /// `max` 0 is no bound.
    pub fn new(max: u64) -> Backlog {
        Backlog {
            count: Default::default(),
            max,
        }
    }

    pub fn set(&self, count: u64) {
        self.count
            .store(count, std::sync::atomic::Ordering::Relaxed);
    }

    fn full(&self) -> bool {
        self.max > 0 && self.count.load(std::sync::atomic::Ordering::Relaxed) >= self.max
    }
}

/// A full backlog drains at the processing rate: clients are asked to stay away longer
/// than from a momentary queue.
const BACKLOG_RETRY_SECS: u64 = 10;
/// How often the backlog is counted (for PostgreSQL a `COUNT(*)` of the inbox).
const BACKLOG_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Why the pipeline would not take a request; ingest turns each into its response.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Too much is waiting already; the client should retry after this many seconds.
    #[error("too much is waiting to be stored; retry after {retry_after}s")]
    Busy { retry_after: u64 },
    #[error("not enough disk space ({free} bytes free, {floor} required)")]
    DiskFull { free: u64, floor: u64 },
    /// The commit failed or the writer stopped.
    #[error("the inbox commit failed: {0}")]
    CommitFailed(String),
}

/// Held while a request waits for its commit.
pub struct Admitted {
    _request: OwnedSemaphorePermit,
    _kib: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(
        max_requests: usize,
        max_bytes: usize,
        disk: DiskGuard,
        backlog: Backlog,
    ) -> Admission {
        let kib_total = u32::try_from((max_bytes / 1024).max(1)).unwrap_or(u32::MAX);
        Admission {
            requests: Arc::new(Semaphore::new(max_requests.max(1))),
            kib: Arc::new(Semaphore::new(kib_total as usize)),
            kib_total,
            disk,
            backlog,
        }
    }

    /// Takes room for a body of `len` bytes, or refuses at once. A body larger than the
    /// whole budget takes all of it, so it is admitted only when nothing else waits.
    pub fn admit(&self, len: usize) -> Result<Admitted, Refusal> {
        self.disk
            .check()
            .map_err(|(free, floor)| Refusal::DiskFull { free, floor })?;
        if self.backlog.full() {
            return Err(Refusal::Busy {
                retry_after: BACKLOG_RETRY_SECS,
            });
        }
        let overloaded = |_| Refusal::Busy { retry_after: 1 };
        let request = self
            .requests
            .clone()
            .try_acquire_owned()
            .map_err(overloaded)?;
        let kib = u32::try_from(len / 1024 + 1)
            .unwrap_or(u32::MAX)
            .min(self.kib_total);
        let kib = self
            .kib
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(overloaded)?;
        Ok(Admitted {
            _request: request,
            _kib: kib,
        })
    }
}

impl PipelineHandle {
    /// Returns once the entry is committed to the inbox. Refuses with 429 when more
    /// requests are already waiting than the configured bound, so memory stays bounded.
    pub async fn submit(&self, entry: InboxEntry) -> Result<(), Refusal> {
        let permit = self.admission.admit(entry.body.len())?;
        let pending = self.metrics.pending_writes();
        pending.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = match &self.commit {
            Commit::Writer(tx) => {
                let (reply, response) = oneshot::channel();
                match tx.send(WriteRequest { entry, reply }).await {
                    Ok(()) => response
                        .await
                        .map_err(|_| "inbox writer stopped".to_string())
                        .and_then(|r| r),
                    Err(_) => Err("inbox writer stopped".to_string()),
                }
            }
            Commit::Direct { store, notify } => {
                let started = std::time::Instant::now();
                let committed = store.enqueue(vec![entry]).await;
                self.metrics
                    .observe("sextant_db_write_seconds", started.elapsed());
                match committed {
                    Ok(_) => {
                        notify.notify_one();
                        Ok(())
                    }
                    Err(err) => {
                        tracing::error!(
                            error = &err as &dyn std::error::Error,
                            "inbox commit failed"
                        );
                        Err(err.to_string())
                    }
                }
            }
        };
        pending.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        drop(permit);
        result.map_err(Refusal::CommitFailed)
    }
}

/// The running background tasks. `shutdown` drains them.
pub struct Pipeline {
    writer: Option<JoinHandle<()>>,
    processors: Vec<JoinHandle<()>>,
    counter: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Pipeline {
    /// Starts the writer and processors; they report to `progress`, which whoever runs
    /// the server may hold to wait for them.
    pub fn start(
        store: Arc<dyn Store>,
        config: &PipelineConfig,
        metrics: Metrics,
        live: notice::LiveSender,
        disk: DiskGuard,
        progress: Progress,
    ) -> (Pipeline, PipelineHandle) {
        let notify = progress.wake();
        let (stop, stop_rx) = watch::channel(false);
        let (commit, writer) = if store.enqueue_groups_itself() {
            let direct = Commit::Direct {
                store: store.clone(),
                notify: notify.clone(),
            };
            (direct, None)
        } else {
            let (tx, rx) = mpsc::channel(config.max_pending.max(1));
            let writer = tokio::spawn(writer::run(
                store.clone(),
                rx,
                config.commit_batch.max(1),
                notify.clone(),
                metrics.clone(),
            ));
            (Commit::Writer(tx), Some(writer))
        };
        let processors = (0..config.processors())
            .map(|_| {
                tokio::spawn(processor::run(
                    store.clone(),
                    config.batch_size.max(1),
                    notify.clone(),
                    stop_rx.clone(),
                    metrics.clone(),
                    live.clone(),
                    progress.clone(),
                ))
            })
            .collect();
        let backlog = Backlog::new(config.max_backlog);
        let counter = tokio::spawn(count_backlog(
            store.clone(),
            backlog.clone(),
            metrics.clone(),
            stop_rx.clone(),
        ));
        let handle = PipelineHandle {
            commit,
            admission: Arc::new(Admission::new(
                config.max_pending,
                config.max_pending_bytes,
                disk,
                backlog,
            )),
            metrics,
        };
        (
            Pipeline {
                writer,
                processors,
                counter,
                stop,
            },
            handle,
        )
    }

    /// Waits for the writer to commit what it was given (it ends when every handle is
    /// dropped), then lets the processors empty the inbox and stop.
    pub async fn shutdown(self) {
        if let Some(writer) = self.writer
            && let Err(err) = writer.await
        {
            tracing::error!(error = %err, "inbox writer ended abnormally");
        }
        let _ = self.stop.send(true);
        for processor in self.processors {
            if let Err(err) = processor.await {
                tracing::error!(error = %err, "processor ended abnormally");
            }
        }
        let _ = self.counter.await;
    }
}

/// Keeps the backlog count (and the inbox depth gauge) current until `stop`.
async fn count_backlog(
    store: Arc<dyn Store>,
    backlog: Backlog,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match store.inbox_depth().await {
            Ok(depth) => {
                backlog.set(u64::try_from(depth).unwrap_or(0));
                metrics.set_inbox_depth(depth);
            }
            Err(err) => tracing::warn!(
                error = &err as &dyn std::error::Error,
                "cannot count the backlog"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(BACKLOG_POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(requests: usize, bytes: usize) -> Admission {
        Admission::new(requests, bytes, DiskGuard::new(None, 0), Backlog::new(0))
    }

    #[test]
    fn refuses_past_the_request_bound_until_a_slot_frees() {
        let admission = admission(2, 1 << 20);
        let first = admission.admit(100).unwrap();
        let _second = admission.admit(100).unwrap();
        assert!(matches!(admission.admit(100), Err(Refusal::Busy { .. })));
        drop(first);
        assert!(admission.admit(100).is_ok());
    }

    #[test]
    fn refuses_past_the_byte_budget() {
        let admission = admission(100, 64 * 1024);
        let big = admission.admit(40 * 1024).unwrap();
        assert!(matches!(
            admission.admit(40 * 1024),
            Err(Refusal::Busy { .. })
        ));
        assert!(admission.admit(1024).is_ok(), "small bodies still fit");
        drop(big);
        // Larger than the whole budget: admitted alone.
        assert!(admission.admit(10 << 20).is_ok());
    }

    #[test]
    fn a_full_backlog_is_429_until_it_drains() {
        let backlog = Backlog::new(100);
        let admission = Admission::new(10, 1 << 20, DiskGuard::new(None, 0), backlog.clone());
        backlog.set(99);
        assert!(admission.admit(10).is_ok());
        backlog.set(100);
        assert!(matches!(
            admission.admit(10),
            Err(Refusal::Busy { retry_after }) if retry_after > 1
        ));
        backlog.set(0);
        assert!(admission.admit(10).is_ok());
        // 0 is no bound.
        let unbounded = Backlog::new(0);
        unbounded.set(u64::MAX);
        assert!(!unbounded.full());
    }

    #[test]
    fn a_full_disk_is_507_not_429() {
        let admission = Admission::new(
            10,
            1 << 20,
            DiskGuard::new(Some(std::env::temp_dir()), u64::MAX),
            Backlog::new(0),
        );
        assert!(matches!(admission.admit(10), Err(Refusal::DiskFull { .. })));
    }
}
