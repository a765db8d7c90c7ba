//! The processing pipeline: the durable inbox writer and the background processor.
//!
//! Ingest hands each accepted request to the writer and waits for its commit; the
//! processor then turns inbox rows into events, issues and raw items.

mod items;
mod processor;
mod writer;

use std::sync::Arc;

use sextant_storage::{InboxEntry, Store};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::Pipeline as PipelineConfig;
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
    permits: Arc<Semaphore>,
    metrics: Metrics,
}

impl PipelineHandle {
    /// Returns once the entry is committed to the inbox. Refuses with 429 when more
    /// requests are already waiting than the configured bound, so memory stays bounded.
    pub async fn submit(&self, entry: InboxEntry) -> Result<(), IngestError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| IngestError::Overloaded { retry_after: 1 })?;
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
    processor: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Pipeline {
    pub fn start(
        store: Arc<dyn Store>,
        config: &PipelineConfig,
        metrics: Metrics,
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
        let processor = tokio::spawn(processor::run(
            store,
            config.batch_size.max(1),
            notify,
            stop_rx,
            metrics.clone(),
        ));
        let handle = PipelineHandle {
            tx,
            permits: Arc::new(Semaphore::new(config.max_pending.max(1))),
            metrics,
        };
        (
            Pipeline {
                writer,
                processor,
                stop,
            },
            handle,
        )
    }

    /// Waits for the writer to commit what it was given (it ends when every handle is
    /// dropped), then lets the processor empty the inbox and stop.
    pub async fn shutdown(self) {
        if let Err(err) = self.writer.await {
            tracing::error!(error = %err, "inbox writer ended abnormally");
        }
        let _ = self.stop.send(true);
        if let Err(err) = self.processor.await {
            tracing::error!(error = %err, "processor ended abnormally");
        }
    }
}
