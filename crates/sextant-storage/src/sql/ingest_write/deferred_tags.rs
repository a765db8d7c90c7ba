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

use std::borrow::Cow;
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

/// Counts the events that batches marked as not counted yet, if any.
pub(in crate::sql) async fn flush(conn: &mut impl Exec) -> Result<()> {
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
        return Ok(());
    };
    let rows = conn
        .fetch(
            "SELECT issue_id, timestamp_ms, tags FROM events \
             WHERE id >= $1 AND issue_id IS NOT NULL ORDER BY id",
            &[Val::Int(from)],
        )
        .await?;
    let stored: Vec<(i64, i64, String)> = rows
        .iter()
        .map(|row| Ok((row.int(0)?, row.int(1)?, row.text(2)?)))
        .collect::<Result<_>>()?;
    drop(rows);
    let events: Vec<(i64, i64, Vec<Tag<'_>>)> = stored
        .iter()
        .filter_map(|(issue, ts, text)| Some((*issue, *ts, parse_tags(text)?)))
        .collect();
    let counts = tally(events.iter().map(|(issue, ts, tags)| {
        let pairs = tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
        (*issue, *ts, pairs)
    }));
    write_tag_counts(conn, counts).await?;
    conn.execute(
        "UPDATE tag_counts_pending SET from_event = NULL WHERE id = 1",
        &[],
    )
    .await?;
    Ok(())
}

type Tag<'a> = (Cow<'a, str>, Cow<'a, str>);

/// An event's stored tags (`[[key, value], …]`), borrowed from the text unless a string
/// has an escape in it. `None`, with a warning, for text that does not read back: it was
/// written by `insert_events` from the same type, and one bad row must not stop every
/// later flush, and so every batch.
fn parse_tags(text: &str) -> Option<Vec<Tag<'_>>> {
    if let Ok(pairs) = serde_json::from_str::<Vec<(&str, &str)>>(text) {
        return Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
    }
    match serde_json::from_str::<Vec<(String, String)>>(text) {
        Ok(pairs) => Some(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "stored event tags unreadable; not counted");
            None
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

    /// After a committed batch that deferred counts: they wait from now on, unless
    /// earlier ones already do.
    pub(in crate::sql) fn deferred(&self, now: Instant) {
        self.0.lock().expect("flush clock lock").get_or_insert(now);
    }

    /// After a committed flush: nothing waits.
    pub(in crate::sql) fn flushed(&self) {
        *self.0.lock().expect("flush clock lock") = None;
    }
}
