//! The processing pipeline: the durable inbox writer and the background processor.
//!
//! Ingest hands each accepted request to the writer and waits for its commit; the
//! processor then turns inbox rows into events, issues and raw items.

pub mod codec;
mod items;
pub mod notice;
mod processor;
mod sessions;
mod writer;

use std::sync::Arc;

use sextant_storage::{InboxEntry, Store};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Pipeline as PipelineConfig;
use crate::disk::DiskGuard;
use crate::ingest::error::IngestError;
use crate::metrics::Metrics;

pub use items::process_rows;

struct WriteRequest {
    entry: InboxEntry,
    reply: oneshot::Sender<Result<(), String>>,
}

/// Cheap to clone; held by every ingest handler.
#[derive(Clone)]
pub struct PipelineHandle {
    tx: mpsc::Sender<WriteRequest>,
    admission: Arc<Admission>,
    metrics: Metrics,
}

/// Bounds on work waiting for the inbox writer: a request count and a byte budget (in
/// KiB), so an overload turns into early 429s instead of unbounded memory. Also the disk
/// guard, so a full disk turns into 507s instead of failed writes.
pub struct Admission {
    requests: Arc<Semaphore>,
    kib: Arc<Semaphore>,
    kib_total: u32,
    disk: DiskGuard,
}

/// Held while a request waits for its commit.
pub struct Admitted {
    _request: OwnedSemaphorePermit,
    _kib: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(max_requests: usize, max_bytes: usize, disk: DiskGuard) -> Admission {
        let kib_total = u32::try_from((max_bytes / 1024).max(1)).unwrap_or(u32::MAX);
        Admission {
            requests: Arc::new(Semaphore::new(max_requests.max(1))),
            kib: Arc::new(Semaphore::new(kib_total as usize)),
            kib_total,
            disk,
        }
    }

    /// Takes room for a body of `len` bytes, or refuses at once. A body larger than the
    /// whole budget takes all of it, so it is admitted only when nothing else waits.
    pub fn admit(&self, len: usize) -> Result<Admitted, IngestError> {
        self.disk
            .check()
            .map_err(|(free, floor)| IngestError::DiskFull { free, floor })?;
        let overloaded = |_| IngestError::Overloaded { retry_after: 1 };
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
    pub async fn submit(&self, entry: InboxEntry) -> Result<(), IngestError> {
        let permit = self.admission.admit(entry.body.len())?;
        let pending = self.metrics.pending_writes();
        pending.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, response) = oneshot::channel();
        let sent = self.tx.send(WriteRequest { entry, reply }).await;
        let result = match sent {
            Ok(()) => response
                .await
                .map_err(|_| "inbox writer stopped".to_string())
                .and_then(|r| r),
            Err(_) => Err("inbox writer stopped".to_string()),
        };
        pending.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        drop(permit);
        result.map_err(IngestError::Internal)
    }
}

/// The running background tasks. `shutdown` drains them.
pub struct Pipeline {
    writer: JoinHandle<()>,
    processors: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Pipeline {
    pub fn start(
        store: Arc<dyn Store>,
        config: &PipelineConfig,
        metrics: Metrics,
        live: notice::LiveSender,
        disk: DiskGuard,
    ) -> (Pipeline, PipelineHandle) {
        let (tx, rx) = mpsc::channel(config.max_pending.max(1));
        let notify = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        let writer = tokio::spawn(writer::run(
            store.clone(),
            rx,
            config.commit_batch.max(1),
            notify.clone(),
            metrics.clone(),
        ));
        let processors = (0..config.processors_for(store.backend_name()))
            .map(|_| {
                tokio::spawn(processor::run(
                    store.clone(),
                    config.batch_size.max(1),
                    notify.clone(),
                    stop_rx.clone(),
                    metrics.clone(),
                    live.clone(),
                ))
            })
            .collect();
        let handle = PipelineHandle {
            tx,
            admission: Arc::new(Admission::new(
                config.max_pending,
                config.max_pending_bytes,
                disk,
            )),
            metrics,
        };
        (
            Pipeline {
                writer,
                processors,
                stop,
            },
            handle,
        )
    }

    /// Waits for the writer to commit what it was given (it ends when every handle is
    /// dropped), then lets the processors empty the inbox and stop.
    pub async fn shutdown(self) {
        if let Err(err) = self.writer.await {
            tracing::error!(error = %err, "inbox writer ended abnormally");
        }
        let _ = self.stop.send(true);
        for processor in self.processors {
            if let Err(err) = processor.await {
                tracing::error!(error = %err, "processor ended abnormally");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(requests: usize, bytes: usize) -> Admission {
        Admission::new(requests, bytes, DiskGuard::new(None, 0))
    }

    #[test]
    fn refuses_past_the_request_bound_until_a_slot_frees() {
        let admission = admission(2, 1 << 20);
        let first = admission.admit(100).unwrap();
        let _second = admission.admit(100).unwrap();
        assert!(matches!(
            admission.admit(100),
            Err(IngestError::Overloaded { .. })
        ));
        drop(first);
        assert!(admission.admit(100).is_ok());
    }

    #[test]
    fn refuses_past_the_byte_budget() {
        let admission = admission(100, 64 * 1024);
        let big = admission.admit(40 * 1024).unwrap();
        assert!(matches!(
            admission.admit(40 * 1024),
            Err(IngestError::Overloaded { .. })
        ));
        assert!(admission.admit(1024).is_ok(), "small bodies still fit");
        drop(big);
        // Larger than the whole budget: admitted alone.
        assert!(admission.admit(10 << 20).is_ok());
    }

    #[test]
    fn a_full_disk_is_507_not_429() {
        let admission = Admission::new(
            10,
            1 << 20,
            DiskGuard::new(Some(std::env::temp_dir()), u64::MAX),
        );
        assert!(matches!(
            admission.admit(10),
            Err(IngestError::DiskFull { .. })
        ));
    }
}
