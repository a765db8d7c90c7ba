//! The inbox writer: group commit of accepted requests.
//!
//! Requests that arrive while a commit is in flight wait in the channel and are
//! committed together by the next transaction, so one fsync covers many requests and
//! the rate of commits, not of requests, bounds throughput.

use std::sync::Arc;
use std::time::Instant;

use sextant_storage::Store;
use tokio::sync::{Notify, mpsc};

use super::WriteRequest;
use crate::metrics::Metrics;

pub(super) async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<WriteRequest>,
    max_batch: usize,
    notify: Arc<Notify>,
    metrics: Metrics,
) {
    let mut batch: Vec<WriteRequest> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let (entries, replies): (Vec<_>, Vec<_>) =
            batch.drain(..).map(|r| (r.entry, r.reply)).unzip();
        let started = Instant::now();
        let requests = entries.len();
        let result = store.enqueue(entries).await;
        metrics.observe("sextant_db_write_seconds", started.elapsed());
        match &result {
            Ok(_) => notify.notify_one(),
            Err(err) => {
                tracing::error!(
                    error = err as &dyn std::error::Error,
                    requests,
                    "inbox commit failed"
                )
            }
        }
        for reply in replies {
            // A dropped receiver means the client went away; the commit stands anyway.
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
    }
}
