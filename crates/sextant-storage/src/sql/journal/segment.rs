//! Segment files of the journal: naming, listing, and reading records out of one.
//!
//! A segment is named after the sequence number of its first record
//! (`00000000000000000042.log`), so the files sort in record order and a position in the
//! journal is (segment, byte offset, next sequence number).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, Bad};
use crate::model::InboxRow;

const SUFFIX: &str = ".log";
/// Bytes read from a segment per read call; a larger record is read on its own.
const WINDOW: usize = 1 << 20;

/// Where the next record starts, and the sequence number it has (or will have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The segment's first sequence number (its name).
    pub segment: u64,
    pub offset: u64,
    pub next_seq: u64,
}

pub(super) fn path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}{SUFFIX}"))
}

/// The segments in `dir`, oldest first.
pub(super) fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        segments.push(first);
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Makes a new file's directory entry durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What reading a stretch of a segment gave.
pub(super) struct Read {
    pub rows: Vec<InboxRow>,
    /// Just past the last record read.
    pub end: Position,
    /// Set when reading stopped at bytes that are not the expected record.
    pub bad: Option<String>,
    /// Set when reading stopped at the zeros after the segment's last record.
    pub end_of_records: bool,
}

/// Reads up to `limit` records of `file` from `from` until byte `end`, checking each
/// record's checksum and that sequence numbers follow on; `keep` says whether to return
/// them or only step over them. Stops early (with `bad`) at the first record that does
/// not check out; a record cut off by `end` counts as bad.
pub(super) fn read(
    file: &File,
    from: Position,
    end: u64,
    limit: usize,
    keep: bool,
) -> io::Result<Read> {
    let mut out = Read {
        rows: Vec::new(),
        end: from,
        bad: None,
        end_of_records: false,
    };
    let mut taken = 0usize;
    let mut window = Vec::new();
    'windows: while taken < limit && out.end.offset < end {
        let want = usize::try_from(end - out.end.offset)
            .unwrap_or(usize::MAX)
            .min(WINDOW);
        window.resize(want, 0);
        file.read_exact_at(&mut window, out.end.offset)?;
        let mut at = 0;
        while taken < limit && at < window.len() {
            let rest = &window[at..];
            let reaches_end = out.end.offset + rest.len() as u64 == end;
            let total = match record::size(rest) {
                Ok(total) => total,
                Err(Bad::Short { .. }) if !reaches_end => continue 'windows,
                // Zeros written ahead of the records: the clean end of this segment.
                Err(Bad::End) => {
                    out.end_of_records = true;
                    return Ok(out);
                }
                Err(bad) => return Ok(out.stop(&bad)),
            };
            if out.end.offset + total as u64 > end {
                return Ok(out.stop(&Bad::Short { needed: total }));
            }
            let decoded = if total <= rest.len() {
                record::decode(&rest[..total])
            } else if at > 0 {
                // Read the next window from this record on.
                continue 'windows;
            } else {
                // Larger than a window: read on its own.
                let mut whole = vec![0; total];
                file.read_exact_at(&mut whole, out.end.offset)?;
                record::decode(&whole)
            };
            let row = match decoded {
                Ok((row, _)) => row,
                Err(bad) => return Ok(out.stop(&bad)),
            };
            if u64::try_from(row.id).ok() != Some(out.end.next_seq) {
                let due = out.end.next_seq;
                out.bad = Some(format!("record {} where {due} was due", row.id));
                return Ok(out);
            }
            if keep {
                out.rows.push(row);
            }
            taken += 1;
            at += total;
            out.end.offset += total as u64;
            out.end.next_seq += 1;
        }
    }
    Ok(out)
}

impl Read {
    fn stop(mut self, bad: &Bad) -> Read {
        self.bad = Some(match bad {
            Bad::End => format!("zeros at byte {}", self.end.offset),
            Bad::Short { .. } => format!("a torn record at byte {}", self.end.offset),
            Bad::Corrupt(why) => format!("{why} at byte {}", self.end.offset),
        });
        self
    }
}

/// The end of the valid records of a whole segment: where the first record that does not
/// check out starts (a torn write), or the end of the file.
pub(super) fn valid_end(file: &File, segment: u64) -> io::Result<(Position, Option<String>)> {
    let len = file.metadata()?.len();
    let mut pos = Position {
        segment,
        offset: 0,
        next_seq: segment,
    };
    let read = read(file, pos, len, usize::MAX, false)?;
    pos = read.end;
    Ok((pos, read.bad))
}

/// The position of record `seq` in `segment`, scanning from the start (or the end of
/// its valid records, if `seq` is past them).
pub(super) fn seek(file: &File, segment: u64, seq: u64) -> io::Result<Position> {
    let len = file.metadata()?.len();
    let mut pos = Position {
        segment,
        offset: 0,
        next_seq: segment,
    };
    if seq > pos.next_seq {
        let skip = usize::try_from(seq - pos.next_seq).unwrap_or(usize::MAX);
        pos = read(file, pos, len, skip, false)?.end;
    }
    Ok(pos)
}
