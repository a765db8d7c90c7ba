//! Issue tag value counts written for many batches at once (SQLite files).
//!
//! Most of an event's tags repeat on every event of its issue (environment, release,
//! level, browser, …), so a batch's count upserts are mostly for rows that the batches
//! just before it also touched. Counting them once every half second instead of once per
//! batch saves most of those upserts and the log pages they dirty.
//!
//! Nothing is held only in memory. A batch that defers its counts records, in its own
//! transaction, the lowest row id among its events (`tag_counts_pending.from_event`, kept
//! as the minimum across batches). A flush recounts the events from that row on out of
//! their stored `tags` column, writes the sums and clears the mark, all in one
//! transaction: it can run at any time, in any process, any number of times, and a
//! crash between the two leaves the mark for the next flush.
//!
//! The mark is a row id, not a time: rows of a rowid table get ids above every row that
//! exists when they are inserted, so every event at or after the mark is one not yet
//! counted, even after the newest events were deleted and their ids reused.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::super::exec::{Exec, Positional, Val};
use super::counters::{tally, write_tag_counts};
use crate::Result;

/// Notes that events from row `first` on are not counted yet.
pub(super) async fn mark(conn: &mut impl Exec, first: i64) -> Result<()> {
    conn.execute(
        "UPDATE tag_counts_pending SET from_event = MIN(COALESCE(from_event, $1), $1) WHERE id = 1",
        &[Val::Int(first)],
    )
    .await?;
    Ok(())
}

/// Counts the events that batches marked as not counted yet, if any. Returns whether
/// there were any.
pub(in crate::sql) async fn flush(conn: &mut impl Exec) -> Result<bool> {
    let from = match conn
        .fetch(
            "SELECT from_event FROM tag_counts_pending WHERE id = 1",
            &[],
        )
        .await?
        .first()
    {
        Some(row) => row.opt_int(0)?,
        None => None,
    };
    let Some(from) = from else {
        return Ok(false);
    };
    let rows = conn
        .fetch(
            "SELECT issue_id, timestamp_ms, tags FROM events \
             WHERE id >= $1 AND issue_id IS NOT NULL ORDER BY id",
            &[Val::Int(from)],
        )
        .await?;
    // (issue id, timestamp, tags) of each event, the tags borrowed from the row's text
    // unless a string has an escape in it.
    let mut events: Vec<(i64, i64, Tags<'_>)> = Vec::with_capacity(rows.len());
    let texts: Vec<String> = rows.iter().map(|row| row.text(2)).collect::<Result<_>>()?;
    for (row, text) in rows.iter().zip(&texts) {
        let tags = match serde_json::from_str::<Vec<(&str, &str)>>(text) {
            Ok(tags) => Tags::Borrowed(tags),
            Err(_) => match serde_json::from_str::<Vec<(String, String)>>(text) {
                Ok(tags) => Tags::Owned(tags),
                // Written by `insert_events` from the same type; a row that does not
                // read back must not stop every later flush, and so every batch.
                Err(err) => {
                    tracing::warn!(error = %err, "stored event tags unreadable; not counted");
                    continue;
                }
            },
        };
        events.push((row.int(0)?, row.int(1)?, tags));
    }
    let counts = tally(
        events
            .iter()
            .map(|(issue, ts, tags)| (*issue, *ts, tags.pairs())),
    );
    write_tag_counts(conn, counts).await?;
    conn.execute(
        "UPDATE tag_counts_pending SET from_event = NULL WHERE id = 1",
        &[],
    )
    .await?;
    Ok(true)
}

/// An event's stored tags.
enum Tags<'a> {
    Borrowed(Vec<(&'a str, &'a str)>),
    Owned(Vec<(String, String)>),
}

impl Tags<'_> {
    fn pairs(&self) -> Vec<(&str, &str)> {
        match self {
            Tags::Borrowed(pairs) => pairs.clone(),
            Tags::Owned(pairs) => pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        }
    }
}

/// How long counts may wait once a batch deferred them.
const FLUSH_AFTER: Duration = Duration::from_millis(500);

/// When this process last deferred counts without flushing them since. Only timing
/// lives here; what is not counted yet is in the database.
#[derive(Default)]
pub(in crate::sql) struct FlushClock(Mutex<Option<Instant>>);

impl FlushClock {
    /// Whether counts deferred by this process may still wait for a flush.
    pub(in crate::sql) fn waiting(&self) -> bool {
        self.0.lock().expect("flush clock lock").is_some()
    }

    /// Whether counts have waited long enough to be flushed.
    pub(in crate::sql) fn due(&self, now: Instant) -> bool {
        self.0
            .lock()
            .expect("flush clock lock")
            .is_some_and(|since| now.duration_since(since) >= FLUSH_AFTER)
    }

    /// After a committed batch that deferred counts (`flushed` false) or flushed them.
    pub(in crate::sql) fn committed(&self, flushed: bool, now: Instant) {
        let mut since = self.0.lock().expect("flush clock lock");
        if flushed {
            *since = None;
        } else {
            since.get_or_insert(now);
        }
    }
}
