//! The background processor: claims inbox rows in batches and stores what they hold.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sextant_storage::{Batch, InboxRow, Store};
use tokio::sync::{Notify, watch};

use super::items::{Notes, process_rows};
use super::progress::{Claimed, Progress};
use crate::metrics::Metrics;

/// How often an idle processor looks for rows written by other nodes.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// After a partial batch, how long to let the inbox fill before claiming again. Under a
/// steady stream this turns many tiny batches, each paying a transaction and a turn of the
/// single SQLite writer, into fewer larger ones; an idle processor still claims a lone
/// event the moment it is committed.
const LINGER: Duration = Duration::from_millis(20);
/// Batches smaller than this mean a light load, where tiny batches cost little and
/// lingering would only delay lone events.
const LINGER_MIN_ROWS: usize = 8;
/// Pause after a storage error before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Nice value of the threads that process batches: acknowledgements (the request path)
/// get the CPU first when both want it, and processing takes what is left.
const PROCESSING_NICE: i32 = 5;

type Job = (Vec<InboxRow>, mpsc::SyncSender<(Batch, Notes)>);

/// A long-lived thread, at a lower priority, that turns inbox rows into batches for one
/// processor. Long-lived so its zstd contexts and allocator caches stay warm.
struct BatchThread {
    jobs: Option<mpsc::Sender<Job>>,
}

impl BatchThread {
    fn start() -> BatchThread {
        let (jobs, queue) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("sextant-process".into())
            .spawn(move || {
                lower_priority();
                // Ends when the processor, and with it the sender, is gone.
                for (rows, reply) in queue {
                    let _ = reply.send(process_rows(&rows));
                }
            });
        if let Err(err) = &started {
            tracing::warn!(error = %err, "no batch thread; processing on the runtime");
        }
        BatchThread {
            jobs: started.ok().map(|_| jobs),
        }
    }

    /// Processes `rows` on the batch thread. The calling runtime worker first hands its
    /// queue to another thread (multi-threaded runtime), so the tasks behind it, ingest
    /// requests waiting for their reply among them, go on meanwhile.
    fn process(&self, rows: &[InboxRow]) -> (Batch, Notes) {
        let multi_thread = matches!(
            tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread)
        );
        let Some(jobs) = self.jobs.as_ref().filter(|_| multi_thread) else {
            return process_rows(rows);
        };
        tokio::task::block_in_place(|| {
            let (reply, result) = mpsc::sync_channel(1);
            // Rows are copied: a few KiB each, against hundreds of microseconds of work.
            if jobs.send((rows.to_vec(), reply)).is_ok()
                && let Ok(done) = result.recv()
            {
                return done;
            }
            // The thread is gone (it panicked): do the work here, where a panic surfaces.
            process_rows(rows)
        })
    }
}

fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux a thread id names one thread, so this leaves the rest of the process
        // alone. Failing to lower it costs only latency, so the error is ignored.
        let _ =
            rustix::process::setpriority_process(Some(rustix::thread::gettid()), PROCESSING_NICE);
    }
}

pub(super) async fn run(
    store: Arc<dyn Store>,
    batch_size: u32,
    notify: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    metrics: Metrics,
    live: super::notice::LiveSender,
    progress: Progress,
) {
    let batches = BatchThread::start();
    loop {
        let notes = Mutex::new(Notes::default());
        let started = Instant::now();
        let claim = progress.begin();
        let result = store
            .process_inbox(batch_size, &|rows| {
                let (batch, row_notes) = batches.process(rows);
                // Kept aside and applied only after the commit, so a retried batch is
                // never counted twice.
                *notes.lock().expect("notes lock") = row_notes;
                batch
            })
            .await;
        match result {
            Ok(report) if report.rows > 0 => {
                let notes = notes.into_inner().expect("notes lock");
                notes.apply(&metrics, store.clock().now_ms());
                metrics.observe("sextant_batch_seconds", started.elapsed());
                let regressions = report.events.iter().filter(|e| e.regression).count();
                let new_issues = report.events.iter().filter(|e| e.new_issue).count();
                tracing::debug!(
                    rows = report.rows,
                    events = report.events.len(),
                    new_issues,
                    regressions,
                    "processed batch"
                );
                super::notice::publish(&live, store.as_ref(), &report.events).await;
                progress.end(claim, Claimed::Processed);
                if (LINGER_MIN_ROWS..batch_size as usize).contains(&report.rows) && !*stop.borrow()
                {
                    tokio::select! {
                        _ = tokio::time::sleep(LINGER) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            Ok(_) => {
                progress.end(claim, Claimed::Empty);
                if *stop.borrow() {
                    return;
                }
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(err) => {
                tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "processing batch failed; rows stay in the inbox"
                );
                progress.end(claim, Claimed::Failed);
                if *stop.borrow() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(ERROR_BACKOFF) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}
