//! The reading side of the journal: batches of records handed out one after another, so
//! several can be processed at once, and committed strictly in the order they were read.
//!
//! A batch waits for its turn (everything before it committed) before its transaction
//! runs. If a batch fails, or is dropped without committing, the journal hands its records
//! out again, and the batches read after it give up their turn (they are read again too).

use std::fs::File;
use std::path::Path;

use super::segment::{self, Position};
use super::{Journal, io_error};
use crate::Result;
use crate::model::InboxRow;

pub(super) struct Reader {
    /// Where the next batch starts: past every batch handed out.
    claimed: Position,
    /// The segment being read, kept open.
    file: Option<(u64, File)>,
}

/// Committed progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Progress {
    /// The first record not yet consumed, as far as this process has committed.
    pub consumed: Position,
    /// Bumped whenever batches handed out are taken back (a batch failed).
    pub epoch: u64,
}

/// Records read for processing, and where consuming them leaves the journal.
pub(crate) struct Pending<'j> {
    pub rows: Vec<InboxRow>,
    pub from: Position,
    pub to: Position,
    epoch: u64,
    journal: &'j Journal,
    settled: bool,
}

impl Reader {
    pub(super) fn new(consumed: Position) -> Reader {
        Reader {
            claimed: consumed,
            file: None,
        }
    }

    fn open(&mut self, dir: &Path, segment: u64) -> Result<&File> {
        if self.file.as_ref().is_none_or(|(open, _)| *open != segment) {
            let file = File::open(segment::path(dir, segment))
                .map_err(|e| io_error("cannot open a segment", dir, e))?;
            self.file = Some((segment, file));
        }
        Ok(&self.file.as_ref().expect("opened above").1)
    }
}

impl Journal {
    /// Reads up to `limit` synced records after those already handed out.
    pub(crate) fn read(&self, limit: usize) -> Result<Pending<'_>> {
        let (durable, segments) = {
            let shared = self.shared.lock().expect("journal lock");
            (shared.durable, shared.segments.clone())
        };
        let mut reader = self.reader.lock().expect("journal reader lock");
        let epoch = self.progress.borrow().epoch;
        let from = reader.claimed;
        let mut pos = from;
        let mut rows = Vec::new();
        while rows.len() < limit && pos.next_seq < durable.next_seq {
            let file = reader.open(&self.dir, pos.segment)?;
            let end = if pos.segment == durable.segment {
                durable.offset
            } else {
                file.metadata()
                    .map_err(|e| io_error("cannot read", &self.dir, e))?
                    .len()
            };
            let read = segment::read(file, pos, end, limit - rows.len(), true)
                .map_err(|e| io_error("cannot read", &self.dir, e))?;
            rows.extend(read.rows);
            let stuck = read.end == pos;
            pos = read.end;
            if let Some(bad) = read.bad {
                // Only damage to the disk itself gets here: synced records do not tear.
                // What is left of the segment cannot be read; go on with the next one.
                tracing::error!(segment = pos.segment, %bad,
                    "unreadable journal records skipped; the requests in them are lost");
                pos.offset = end;
                if pos.segment == durable.segment {
                    pos.next_seq = durable.next_seq;
                }
            }
            let exhausted = read.end_of_records || pos.offset >= end;
            if exhausted && pos.segment != durable.segment {
                let Some(&next) = segments.iter().find(|s| **s > pos.segment) else {
                    break;
                };
                pos = Position {
                    segment: next,
                    offset: 0,
                    next_seq: pos.next_seq.max(next),
                };
            } else if stuck || exhausted {
                break;
            }
        }
        reader.claimed = pos;
        Ok(Pending {
            rows,
            from,
            to: pos,
            epoch,
            journal: self,
            settled: from == pos,
        })
    }

    /// Starts reading again at `cursor`, the consumed position the database holds, after
    /// a commit found it elsewhere than this journal expected. Batches handed out are
    /// taken back.
    pub(crate) fn resync(&self, cursor: Position) -> Result<()> {
        let (durable, segments) = {
            let shared = self.shared.lock().expect("journal lock");
            (shared.durable, shared.segments.clone())
        };
        let at = super::reader_start(&self.dir, &segments, cursor, durable)?;
        let mut reader = self.reader.lock().expect("journal reader lock");
        self.progress.send_modify(|progress| {
            progress.consumed = at;
            progress.epoch += 1;
        });
        reader.claimed = at;
        Ok(())
    }

    /// Takes back every batch handed out but not committed, unless that already happened
    /// since `epoch`.
    fn take_back(&self, epoch: u64) {
        let mut reader = self.reader.lock().expect("journal reader lock");
        self.progress.send_if_modified(|progress| {
            if progress.epoch != epoch {
                return false;
            }
            reader.claimed = progress.consumed;
            progress.epoch += 1;
            true
        });
    }
}

impl Pending<'_> {
    /// Whether nothing was read (and nothing is to be committed).
    pub(crate) fn is_empty(&self) -> bool {
        self.from == self.to
    }

    /// Waits until every batch read before this one is committed. `false` means an
    /// earlier batch failed: this one is to be dropped, and its records are read again.
    pub(crate) async fn turn(&self) -> bool {
        let mut progress = self.journal.progress.subscribe();
        loop {
            let now = *progress.borrow_and_update();
            if now.epoch != self.epoch {
                return false;
            }
            // By sequence number: the end of one segment and the start of the next are
            // the same place.
            if now.consumed.next_seq == self.from.next_seq {
                return true;
            }
            if now.consumed.next_seq > self.from.next_seq {
                // Read again from a position an earlier batch has since committed past.
                return false;
            }
            if progress.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Records that the batch's transaction committed. Batches taken back while it was
    /// committing (a later one failed) are read again from past it, not from its start.
    pub(crate) fn commit(mut self) {
        let to = self.to;
        let mut reader = self.journal.reader.lock().expect("journal reader lock");
        self.journal
            .progress
            .send_modify(|progress| progress.consumed = to);
        if reader.claimed.next_seq < to.next_seq {
            reader.claimed = to;
        }
        drop(reader);
        self.settled = true;
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.journal.take_back(self.epoch);
        }
    }
}
