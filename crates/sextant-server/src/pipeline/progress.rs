//! The processors' progress, for waiting until everything accepted so far is processed:
//! tests wait on the processor itself (`Server::progress`) instead of on what the API
//! shows.
//!
//! Every claim of inbox rows gets a sequence number when it starts. The pipeline is
//! drained once a claim that started after the wait began found the inbox empty, no
//! batch is in flight any more, and no batch failed since that claim started (a failed
//! batch leaves its rows in the inbox).

use std::sync::Arc;

use tokio::sync::{Notify, watch};

#[derive(Debug, Default, Clone, Copy)]
struct State {
    /// Claims started so far; a claim's sequence number is this count once it started.
    claims: u64,
    /// Claims started and not finished.
    in_flight: usize,
    /// The latest claim that found the inbox empty.
    empty: u64,
    /// `claims` when a batch last failed: only an empty claim started later counts.
    failed_at: u64,
}

/// Cheap to clone: one per processor, one in every [`super::PipelineHandle`], and one
/// for whoever runs the server.
#[derive(Clone)]
pub struct Progress {
    state: Arc<watch::Sender<State>>,
    /// Wakes an idle processor (also rung by each inbox commit).
    wake: Arc<Notify>,
    /// Rung after each committed batch, for work that follows processing (alerting).
    processed: Arc<Notify>,
}

/// How a claim ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claimed {
    Empty,
    Processed,
    Failed,
}

#[allow(clippy::new_without_default)] // a fresh channel, not a default value
impl Progress {
    pub fn new() -> Progress {
        Progress {
            state: Arc::new(watch::Sender::new(State::default())),
            wake: Arc::new(Notify::new()),
            processed: Arc::new(Notify::new()),
        }
    }

    /// What processors wait on between claims; inbox commits ring it.
    pub(super) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Rung after each batch that committed, so its follow-up work starts at once.
    pub fn processed(&self) -> Arc<Notify> {
        self.processed.clone()
    }

    /// A claim starts; returns its sequence number for [`Progress::end`].
    pub(super) fn begin(&self) -> u64 {
        let mut seq = 0;
        self.state.send_modify(|s| {
            s.claims += 1;
            s.in_flight += 1;
            seq = s.claims;
        });
        seq
    }

    /// The claim numbered `seq` is done, its batch committed (or failed) and announced.
    pub(super) fn end(&self, seq: u64, claimed: Claimed) {
        self.state.send_modify(|s| {
            s.in_flight -= 1;
            match claimed {
                Claimed::Empty => s.empty = s.empty.max(seq),
                Claimed::Processed => self.processed.notify_one(),
                Claimed::Failed => s.failed_at = s.claims,
            }
        });
    }

    /// Returns once every request accepted before the call has been processed: its
    /// events, issues and raw items committed and announced to live streams. Waits as
    /// long as that takes (it never returns while processing keeps failing), so callers
    /// put a deadline on it.
    pub async fn drained(&self) {
        let mut rx = self.state.subscribe();
        let started = rx.borrow().claims;
        // An idle processor claims at once instead of at its next poll.
        self.wake.notify_one();
        let drained = |s: &State| s.in_flight == 0 && s.empty > started.max(s.failed_at);
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = rx.wait_for(drained).await;
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn needs_an_empty_claim_that_started_after_the_wait() {
        let progress = Progress::new();
        let early = progress.begin();
        progress.end(early, Claimed::Empty);
        let mut wait = pin!(progress.drained());
        assert!(
            (&mut wait).now_or_never().is_none(),
            "that claim may have started before the request was accepted"
        );
        let late = progress.begin();
        progress.end(late, Claimed::Empty);
        assert!(
            wait.now_or_never().is_some(),
            "an empty claim after the wait ends it"
        );
    }

    #[test]
    fn waits_for_batches_in_flight_and_retries_after_a_failure() {
        let progress = Progress::new();
        let mut wait = pin!(progress.drained());
        assert!((&mut wait).now_or_never().is_none());
        // One processor holds rows while another finds nothing left to claim.
        let busy = progress.begin();
        let empty = progress.begin();
        progress.end(empty, Claimed::Empty);
        assert!((&mut wait).now_or_never().is_none(), "a batch is in flight");
        // The batch fails: its rows are back in the inbox, the empty claim proves nothing.
        progress.end(busy, Claimed::Failed);
        assert!(
            (&mut wait).now_or_never().is_none(),
            "the rows are still there"
        );
        let retry = progress.begin();
        progress.end(retry, Claimed::Processed);
        assert!((&mut wait).now_or_never().is_none(), "no empty claim since");
        let last = progress.begin();
        progress.end(last, Claimed::Empty);
        assert!(wait.now_or_never().is_some(), "drained after the retry");
    }
}
