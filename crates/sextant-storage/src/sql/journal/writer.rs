//! The appending side of the journal: a thread that writes every request waiting for it
//! in one `write`, syncs once, and only then answers them.
//!
//! Records are written into space filled with zeros beforehand, a few MiB at a time:
//! syncing data written over blocks the file already has needs no change to the file's
//! size or block map, so the filesystem has no metadata to commit, and `fdatasync` takes
//! about half the time (and a small fraction of the worst case) that appending to the end
//! of the file does. Readers take a zero frame for the end of a segment's records.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use super::segment::{self, Position};
use super::{Append, GROUP_BYTES, Shared, io_error, record};
use crate::{Result, StoreError};

/// Zeros written ahead of the records at a time.
const ZERO_CHUNK: u64 = 8 << 20;
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

pub(super) fn create_segment(dir: &Path, first: u64) -> Result<File> {
    let file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(segment::path(dir, first))
        .map_err(|e| io_error("cannot create a segment", dir, e))?;
    segment::sync_dir(dir).map_err(|e| io_error("cannot sync", dir, e))?;
    Ok(file)
}

/// The appending side, owned by its thread.
pub(super) struct Writer {
    dir: PathBuf,
    file: File,
    end: Position,
    /// The file's length: zeros from `end.offset` on.
    zeroed: u64,
    segment_bytes: u64,
    buffer: Vec<u8>,
    /// Set after a failed append that could not be undone: the tail of the file is in
    /// doubt, so nothing more is appended until a restart recovers it.
    broken: Option<String>,
}

impl Writer {
    pub(super) fn open(dir: &Path, end: Position, segment_bytes: u64) -> Result<Writer> {
        let file = OpenOptions::new()
            .write(true)
            .open(segment::path(dir, end.segment))
            .map_err(|e| io_error("cannot open a segment", dir, e))?;
        let zeroed = file
            .metadata()
            .map_err(|e| io_error("cannot read", dir, e))?
            .len();
        Ok(Writer {
            dir: dir.to_path_buf(),
            file,
            end,
            zeroed,
            segment_bytes,
            buffer: Vec::new(),
            broken: None,
        })
    }

    pub(super) fn run(mut self, queue: mpsc::Receiver<Append>, shared: &Mutex<Shared>) {
        // Ends when the journal, and with it the sender, is dropped.
        while let Ok(first) = queue.recv() {
            let mut group = vec![first];
            let mut bytes = group[0].entries.iter().map(|e| e.body.len()).sum::<usize>();
            while bytes < GROUP_BYTES
                && let Ok(more) = queue.try_recv()
            {
                bytes += more.entries.iter().map(|e| e.body.len()).sum::<usize>();
                group.push(more);
            }
            let result = self.append(&group, shared);
            let mut next = result.as_ref().map_or(0, |first| *first);
            for append in group {
                let reply = match &result {
                    Ok(_) => {
                        let ids = (next..next + append.entries.len() as u64)
                            .map(|seq| seq as i64)
                            .collect();
                        next += append.entries.len() as u64;
                        Ok(ids)
                    }
                    Err(err) => Err(StoreError::Backend(err.clone())),
                };
                // A dropped receiver means the client went away; the append stands.
                let _ = append.reply.send(reply);
            }
        }
    }

    /// Writes and syncs the group; returns the first sequence number it got.
    fn append(&mut self, group: &[Append], shared: &Mutex<Shared>) -> Result<u64, String> {
        if let Some(broken) = &self.broken {
            return Err(broken.clone());
        }
        let first = self.end.next_seq;
        self.buffer.clear();
        let mut seq = first;
        for entry in group.iter().flat_map(|a| &a.entries) {
            record::encode(seq, entry, &mut self.buffer)?;
            seq += 1;
        }
        if self.end.offset >= self.segment_bytes {
            self.rotate(shared)?;
        }
        let written = self
            .zero_ahead(self.buffer.len() as u64)
            .and_then(|()| self.file.write_all_at(&self.buffer, self.end.offset))
            .and_then(|()| self.file.sync_data());
        if let Err(err) = written {
            let err = format!("journal write failed: {err}");
            // Cut back to the last synced record so a later append follows on from it.
            match self.file.set_len(self.end.offset) {
                Ok(()) => self.zeroed = self.end.offset,
                Err(undo) => self.broken = Some(format!("{err}; undoing it failed too: {undo}")),
            }
            return Err(err);
        }
        self.end.offset += self.buffer.len() as u64;
        self.end.next_seq = seq;
        shared.lock().expect("journal lock").durable = self.end;
        Ok(first)
    }

    /// Makes sure `len` bytes from the end of the records are zeros the file already has.
    fn zero_ahead(&mut self, len: u64) -> std::io::Result<()> {
        let needed = self.end.offset + len;
        if needed <= self.zeroed {
            return Ok(());
        }
        let target = (needed + ZERO_CHUNK).min(needed.max(self.segment_bytes));
        while self.zeroed < target {
            let n = (target - self.zeroed).min(ZEROS.len() as u64) as usize;
            self.file.write_all_at(&ZEROS[..n], self.zeroed)?;
            self.zeroed += n as u64;
        }
        Ok(())
    }

    fn rotate(&mut self, shared: &Mutex<Shared>) -> Result<(), String> {
        let first = self.end.next_seq;
        let file = create_segment(&self.dir, first).map_err(|e| e.to_string())?;
        self.file = file;
        self.zeroed = 0;
        self.end = Position {
            segment: first,
            offset: 0,
            next_seq: first,
        };
        let mut shared = shared.lock().expect("journal lock");
        shared.segments.push(first);
        shared.durable = self.end;
        Ok(())
    }
}
