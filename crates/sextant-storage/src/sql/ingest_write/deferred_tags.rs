//! Issue tag value counts written for many batches at once.
//!
//! Most of an event's tags repeat on every event of its issue (environment, release,
//! level, browser, …), so a batch's count upserts are mostly for rows that the batches
//! just before it also touched. Counting them once every half second instead of once per
//! batch saves most of those upserts and the log pages they dirty: one upsert then stands
//! for hundreds. Issue counters (`times_seen`, distinct users) are still written with
//! their batch.
//!
//! Nothing is held only in memory. A batch that defers its counts records, in its own
//! transaction, which events are not counted yet (`tag_counts_pending`). A flush recounts
//! those events out of their stored `tags` column, writes the sums and clears the record,
//! all in one transaction: it can run at any time, in any process, any number of times,
//! and a crash between the two leaves the record for the next flush. When flushes run is
//! `sql/tag_flush.rs`.
//!
//! How the record names the events differs by backend:
//! - An SQLite file keeps one mark, the lowest row id not counted yet (the minimum across
//!   batches, `tag_counts_pending.from_event`). Rows of a rowid table get ids above every
//!   row that exists when they are inserted, so every event at or after the mark is one not
//!   yet counted, even after the newest events were deleted and their ids reused. One
//!   writer means one mark suffices.
//! - PostgreSQL nodes share the database, and a sequence interleaves the ids that
//!   concurrent batches get, so each batch adds a row listing its events' ids. A flush
//!   deletes the rows it counts (`DELETE … RETURNING`), so two nodes flushing at once
//!   count each batch once: the second waits for the first's row locks and then finds
//!   those rows gone.
//!
//! `sql/tests/deferred_tags.rs` covers the mark, a restart and reused row ids;
//! `sql/tests/deferred_tags_pg.rs` two nodes, a stopped node and events deleted before
//! their flush.

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::super::exec::{DbRow, Exec, Positional, Val};
use super::super::{Backend, ID_CHUNK, placeholders};
use super::counters::{tally, write_tag_counts};
use crate::Result;

/// Notes that the events with these row ids are not counted yet.
pub(super) async fn mark(
    conn: &mut impl Exec,
    backend: Backend,
    ids: impl Iterator<Item = i64>,
) -> Result<()> {
    match backend {
        Backend::Sqlite => {
            let Some(first) = ids.min() else {
                return Ok(());
            };
            conn.execute(
                "UPDATE tag_counts_pending SET from_event = MIN(COALESCE(from_event, $1), $1) \
                 WHERE id = 1",
                &[Val::Int(first)],
            )
            .await?;
        }
        Backend::Postgres => {
            let mut list = String::new();
            let mut digits = itoa::Buffer::new();
            for (i, id) in ids.enumerate() {
                if i > 0 {
                    list.push(',');
                }
                list.push_str(digits.format(id));
            }
            conn.execute(
                "INSERT INTO tag_counts_pending (events) VALUES ($1)",
                &[Val::Text(&list)],
            )
            .await?;
        }
    }
    Ok(())
}

/// Counts the events that batches recorded as not counted yet, if any.
pub(in crate::sql) async fn flush(conn: &mut impl Exec, backend: Backend) -> Result<()> {
    let rows = match backend {
        Backend::Sqlite => match from_mark(conn).await? {
            Some(rows) => rows,
            None => return Ok(()),
        },
        Backend::Postgres => listed(conn).await?,
    };
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
    if backend == Backend::Sqlite {
        conn.execute(
            "UPDATE tag_counts_pending SET from_event = NULL WHERE id = 1",
            &[],
        )
        .await?;
    }
    Ok(())
}

/// SQLite: the events from the mark on, in row order; `None` without a mark.
async fn from_mark(conn: &mut impl Exec) -> Result<Option<Vec<DbRow>>> {
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
        return Ok(None);
    };
    let rows = conn
        .fetch(
            "SELECT issue_id, timestamp_ms, tags FROM events \
             WHERE id >= $1 AND issue_id IS NOT NULL ORDER BY id",
            &[Val::Int(from)],
        )
        .await?;
    Ok(Some(rows))
}

/// PostgreSQL: the events of every batch recorded so far, whose records this
/// transaction deletes (and so holds until it commits).
async fn listed(conn: &mut impl Exec) -> Result<Vec<DbRow>> {
    let mut ids = Vec::new();
    for row in conn
        .fetch("DELETE FROM tag_counts_pending RETURNING events", &[])
        .await?
    {
        for id in row.text(0)?.split(',') {
            match id.parse::<i64>() {
                Ok(id) => ids.push(id),
                // Written by `mark` from integers; a bad entry must not stop every flush.
                Err(_) => tracing::warn!(%id, "pending tag count entry unreadable; skipped"),
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut rows = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT issue_id, timestamp_ms, tags FROM events \
             WHERE id IN ({}) AND issue_id IS NOT NULL ORDER BY id",
            placeholders(1, chunk.len())
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        rows.extend(conn.fetch(&sql, &args).await?);
    }
    Ok(rows)
}

type Tag<'a> = (Cow<'a, str>, Cow<'a, str>);

/// A string of the stored tags: borrowed from the text, owned only if it has an escape.
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// An event's stored tags (`[[key, value], …]`), read in one pass. `None`, with a
/// warning, for text that does not read back: it was written by `insert_events` from the
/// same type, and one bad row must not stop every later flush, and so every batch.
fn parse_tags(text: &str) -> Option<Vec<Tag<'_>>> {
    match serde_json::from_str::<Vec<(Text, Text)>>(text) {
        Ok(pairs) => Some(pairs.into_iter().map(|(Text(k), Text(v))| (k, v)).collect()),
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
    /// earlier ones already do. Returns whether they have waited long enough to be
    /// flushed.
    pub(in crate::sql) fn deferred(&self, now: Instant) -> bool {
        let mut since = self.0.lock().expect("flush clock lock");
        now.duration_since(*since.get_or_insert(now)) >= FLUSH_AFTER
    }

    /// After a committed flush: nothing waits.
    pub(in crate::sql) fn flushed(&self) {
        *self.0.lock().expect("flush clock lock") = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_borrow_the_text_unless_escaped() {
        let tags = parse_tags(r#"[["browser","Firefox"],["q","say \"hi\""]]"#).unwrap();
        assert!(matches!(
            &tags[0],
            (Cow::Borrowed("browser"), Cow::Borrowed("Firefox"))
        ));
        assert!(matches!(&tags[1].1, Cow::Owned(v) if v == r#"say "hi""#));
        assert!(parse_tags("{}").is_none());
    }
}
