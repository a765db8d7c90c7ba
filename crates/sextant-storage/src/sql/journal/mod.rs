//! The journal: where an SQLite file store queues accepted requests, as checksummed
//! records appended to 64 MiB segment files in a directory beside the database
//! (`<file name>.journal/`, e.g. `sextant.db.journal/`).
//!
//! An append is one `write` and one `fdatasync` for every request that arrived while the
//! previous one was syncing (group commit on a thread of its own), and nothing else: no
//! B-tree, no write-ahead log, no checkpoint, and no wait for the main file's write lock. A
//! request is acknowledged only once its record is synced.
//!
//! Exactly-once processing: the main database holds the position of the first record
//! not yet consumed (`journal_cursor`), and the transaction that writes what a batch of
//! records produced also moves that position, on the condition that it is still where
//! the batch started. Records are never deleted one by one: a segment file is deleted
//! once the position has moved past it durably. Processing reads only synced records, so
//! the position can never point past what a crash leaves in the journal; a processing
//! commit lost to a power cut takes the position back with its events, and the records are
//! processed again. Events are unique per (project, event id) and a duplicate changes
//! nothing, so a replayed batch stores each event once. On open, a torn record at the end
//! (never acknowledged) is cut off.
//!
//! One process owns a journal at a time (a lock file): it is the server's, never a
//! command-line tool's. The lock is taken before the consumed position is read, since a
//! server still shutting down moves that position until it lets go, and the appending
//! thread holds it until it has written everything it was given. A second server on the
//! same data directory waits for the lock, then refuses to start. A commit that finds the
//! position elsewhere than expected makes the journal read on from the database's position
//! (`Journal::resync`).

mod reader;
mod record;
mod segment;
#[cfg(test)]
mod tests;
mod writer;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use reader::{Progress, Reader};
pub(crate) use segment::Position;
use writer::{Writer, create_segment};

use crate::model::InboxEntry;
use crate::{Result, StoreError};

/// The most bytes one append (one write and one sync) carries, so a burst becomes
/// several appends instead of one huge buffer.
const GROUP_BYTES: usize = 16 << 20;
const LOCK_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// A segment is closed and a new one started once it holds this much. Consumed
    /// segments are deleted whole, so this is also how much consumed data may linger.
    pub segment_bytes: u64,
    /// How long opening waits for another process (a server still shutting down) to let
    /// go of the journal.
    pub lock_wait: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            segment_bytes: 64 << 20,
            lock_wait: Duration::from_secs(30),
        }
    }
}

/// The journal directory beside the database file `db`.
pub(crate) fn dir_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    db.with_file_name(name)
}

struct Append {
    entries: Vec<InboxEntry>,
    reply: oneshot::Sender<Result<Vec<i64>>>,
}

/// State shared by the appending thread and the readers.
struct Shared {
    /// Just past the last synced record.
    durable: Position,
    /// Every segment file, oldest first.
    segments: Vec<u64>,
}

pub(crate) struct Journal {
    dir: PathBuf,
    appends: mpsc::Sender<Append>,
    /// The appending thread, which holds the lock; joined on drop.
    writer: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Mutex<Shared>>,
    reader: Mutex<Reader>,
    /// What has been committed, watched by batches waiting for their turn.
    progress: watch::Sender<Progress>,
}

fn io_error(what: &str, dir: &Path, err: std::io::Error) -> StoreError {
    StoreError::Backend(format!("journal {}: {what}: {err}", dir.display()))
}

/// The journal directory's lock, held by the one process that appends and processes.
/// Take it before reading the consumed position from the database: a server still shutting
/// down moves that position until it lets go.
pub(crate) struct Lock {
    dir: PathBuf,
    _file: File,
}

impl Lock {
    /// Creates the directory `dir` if need be and locks it, waiting up to `wait` for
    /// another process that holds it.
    pub(crate) fn take(dir: PathBuf, wait: Duration) -> Result<Lock> {
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| io_error("cannot create", &dir, e))?;
            // The new directory's own entry, so a crash cannot take the journal with it.
            if let Some(parent) = dir.parent() {
                segment::sync_dir(parent).map_err(|e| io_error("cannot sync", parent, e))?;
            }
        }
        let file = take_lock(&dir, wait)?;
        Ok(Lock { dir, _file: file })
    }
}

impl Journal {
    /// [`Journal::open_locked`], taking the lock first.
    #[cfg(test)]
    pub(crate) fn open(dir: PathBuf, cursor: Position, options: Options) -> Result<Journal> {
        Journal::open_locked(Lock::take(dir, options.lock_wait)?, cursor, options)
    }

    /// Opens the locked journal, given the position the database holds as consumed, which
    /// must be durable: segments before it are deleted. Recovers from a crash by cutting
    /// off a torn record at the end. The writer thread keeps the lock until it has written
    /// every append it was given, after the journal itself is dropped.
    pub(crate) fn open_locked(lock: Lock, cursor: Position, options: Options) -> Result<Journal> {
        let dir = lock.dir.clone();
        let fail = |what: &str| {
            let dir = dir.clone();
            let what = what.to_string();
            move |e| io_error(&what, &dir, e)
        };
        let mut segments = segment::list(&dir).map_err(fail("cannot list"))?;

        // Segments wholly before the cursor were consumed; a crash may have kept them.
        while segments.len() > 1 && segments[1] <= cursor.next_seq {
            let old = segments.remove(0);
            std::fs::remove_file(segment::path(&dir, old)).map_err(fail("cannot delete"))?;
        }

        // The end of the last segment's valid records is where appending resumes.
        let mut durable = match segments.last() {
            Some(&last) => {
                let path = segment::path(&dir, last);
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(fail("cannot open"))?;
                let (end, bad) = segment::valid_end(&file, last).map_err(fail("cannot read"))?;
                if let Some(bad) = bad {
                    tracing::warn!(segment = %path.display(), %bad,
                        "cutting off the journal's torn tail (requests never acknowledged)");
                }
                // Whatever follows the last record goes, zeros written ahead included: a
                // torn write may have left bytes further on. The writer zeros anew.
                let len = file.metadata().map_err(fail("cannot read"))?.len();
                if len > end.offset {
                    file.set_len(end.offset).map_err(fail("cannot truncate"))?;
                    file.sync_all().map_err(fail("cannot sync"))?;
                }
                end
            }
            None => Position {
                segment: 0,
                offset: 0,
                next_seq: 1,
            },
        };
        // Numbers never go back, even if the files were removed by hand: the database
        // may still name them.
        if segments.is_empty() || durable.next_seq < cursor.next_seq {
            let first = durable.next_seq.max(cursor.next_seq).max(1);
            if durable.next_seq < cursor.next_seq && !segments.is_empty() {
                tracing::error!(
                    expected = cursor.next_seq,
                    found = durable.next_seq,
                    "the journal ends before records the database has consumed"
                );
            }
            create_segment(&dir, first)?;
            segments.push(first);
            durable = Position {
                segment: first,
                offset: 0,
                next_seq: first,
            };
        }

        let consumed = reader_start(&dir, &segments, cursor, durable)?;
        let writer = Writer::open(&dir, durable, options.segment_bytes)?;
        let shared = Arc::new(Mutex::new(Shared { durable, segments }));
        let (appends, queue) = mpsc::channel();
        let thread_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || {
                let _lock = lock;
                writer.run(queue, &thread_shared);
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the journal writer: {e}")))?;
        Ok(Journal {
            dir,
            appends,
            writer: Some(writer),
            shared,
            reader: Mutex::new(Reader::new(consumed)),
            progress: watch::Sender::new(Progress { consumed, epoch: 0 }),
        })
    }

    /// Appends the entries and returns their sequence numbers once they are synced.
    pub(crate) async fn append(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, done) = oneshot::channel();
        let stopped = || StoreError::Backend("the journal writer has stopped".into());
        self.appends
            .send(Append { entries, reply })
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Records appended and not yet consumed.
    pub(crate) fn depth(&self) -> i64 {
        let durable = self.shared.lock().expect("journal lock").durable;
        let consumed = self.progress.borrow().consumed;
        i64::try_from(durable.next_seq.saturating_sub(consumed.next_seq)).unwrap_or(i64::MAX)
    }

    /// Whether committing the consumption of everything before `to` would free whole
    /// segments. The commit that does so must be durable (synced) before `release`
    /// deletes them.
    pub(crate) fn frees_segments(&self, to: &Position) -> bool {
        let shared = self.shared.lock().expect("journal lock");
        shared
            .segments
            .first()
            .is_some_and(|first| *first < to.segment)
    }

    /// Deletes the segments wholly before the consumed position. Call only after a
    /// durable commit of that position.
    pub(crate) fn release(&self) -> Result<()> {
        let consumed = self.progress.borrow().consumed;
        let old: Vec<u64> = {
            let mut shared = self.shared.lock().expect("journal lock");
            let keep = shared
                .segments
                .iter()
                .position(|s| *s >= consumed.segment)
                .unwrap_or(shared.segments.len());
            shared.segments.drain(..keep).collect()
        };
        for segment in old {
            std::fs::remove_file(segment::path(&self.dir, segment))
                .map_err(|e| io_error("cannot delete a segment", &self.dir, e))?;
        }
        Ok(())
    }
}

impl Drop for Journal {
    /// Closes the queue and waits for the writer to finish what it was given, so the lock
    /// is free (for a restart in this process) only once nothing more is written.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.appends, mpsc::channel().0));
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the journal writer panicked");
        }
    }
}

/// Records after `cursor` in the journal in `dir`, counted without opening the journal
/// (no lock): for a process that does not own it, such as a command-line tool.
pub(crate) fn depth_of(dir: &Path, cursor: Position) -> Result<i64> {
    let fail = |e| io_error("cannot read", dir, e);
    let segments = match segment::list(dir) {
        Ok(segments) => segments,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(fail(err)),
    };
    let mut count = 0u64;
    let start = segments
        .iter()
        .rposition(|s| *s <= cursor.next_seq)
        .unwrap_or(0);
    for &segment in &segments[start.min(segments.len())..] {
        let file = match File::open(segment::path(dir, segment)) {
            Ok(file) => file,
            // Consumed and deleted meanwhile.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(fail(err)),
        };
        let len = file.metadata().map_err(fail)?.len();
        let from = segment::seek(&file, segment, cursor.next_seq).map_err(fail)?;
        let read = segment::read(&file, from, len, usize::MAX, false).map_err(fail)?;
        count += read.end.next_seq - from.next_seq;
    }
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

fn take_lock(dir: &Path, wait: Duration) -> Result<File> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("cannot open the lock file", dir, e))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                if started.elapsed() < LOCK_POLL {
                    tracing::info!(journal = %dir.display(),
                        "waiting for another Sextant server to release this data directory");
                }
                std::thread::sleep(LOCK_POLL);
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Conflict(format!(
                    "another Sextant server is using {} (its journal is locked)",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_error("cannot lock", dir, e));
            }
        }
    }
}

/// Where processing resumes: the record the cursor names, found in its segment.
fn reader_start(
    dir: &Path,
    segments: &[u64],
    cursor: Position,
    durable: Position,
) -> Result<Position> {
    if cursor.next_seq >= durable.next_seq {
        return Ok(durable);
    }
    let Some(&segment) = segments.iter().rev().find(|s| **s <= cursor.next_seq) else {
        let first = segments.first().copied().unwrap_or(durable.segment);
        tracing::error!(
            expected = cursor.next_seq,
            first,
            "journal records before the first segment are gone"
        );
        return Ok(Position {
            segment: first,
            offset: 0,
            next_seq: first,
        });
    };
    let file = File::open(segment::path(dir, segment))
        .map_err(|e| io_error("cannot open a segment", dir, e))?;
    segment::seek(&file, segment, cursor.next_seq).map_err(|e| io_error("cannot read", dir, e))
}
