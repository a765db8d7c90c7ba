//! The ingest inbox: durable enqueue, and the read → process → write round that makes
//! processing exactly-once. An SQLite file store queues in its journal (`journal/`); the
//! other stores in their `inbox` table.
//!
//! `process_inbox` writes what a batch of queued requests produced and records them as
//! consumed in one transaction, and refuses the batch if any of them was consumed already,
//! so nothing is stored twice:
//! - In an `inbox` table (PostgreSQL, in-memory SQLite, and rows that versions before the
//!   journal left in an SQLite file) the record is the deletion of the rows. PostgreSQL
//!   nodes share the table: `FOR UPDATE SKIP LOCKED` claims rows inside that transaction.
//! - In the journal it is the consumed position, moved only if it is still where the batch
//!   started. Batches are handed out one after another, several are parsed and grouped at
//!   once before the single writer is asked, and each commits only after every batch read
//!   before it (`journal/reader.rs`; a failed batch takes back the ones read after it).
//!
//! Processing commits skip their own flush (SQLite's `synchronous = NORMAL`, PostgreSQL's
//! `synchronous_commit = off`): a lost commit loses the events together with the record
//! that their requests were consumed, which are then processed again. Enqueue commits, the
//! acknowledgements, keep the durable setting.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use sqlx::Row;

use super::exec::{Exec, LiteConn, Positional, Val, run_ready};
use super::ingest_write::{FlushClock, TagCounts};
use super::journal::{self, Journal, Position};
use super::lite::{self, Lite};
use super::rows::{self, INBOX_COLUMNS};
use super::tag_flush::{after_batch_on_writer, flush_deferred, flush_if_due};
use super::{Backend, ID_CHUNK, SqlStore, ingest_write, legacy_spool, placeholders, value_rows};
use crate::model::*;
use crate::{ProcessFn, ProcessReport, Result, StoreError};

impl SqlStore {
    pub(super) async fn enqueue(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(lite) = &self.lite {
            // The journal is outside the main file's foreign keys: refuse entries of a
            // missing project here, as they would. Projects once seen are remembered; one
            // deleted since (by another process) has its requests dropped by processing.
            let mut unseen: Vec<i64> = {
                let seen = self.seen_projects.read().expect("projects lock");
                entries
                    .iter()
                    .map(|e| e.project_id)
                    .filter(|id| !seen.contains(id))
                    .collect()
            };
            if !unseen.is_empty() {
                unseen.sort_unstable();
                unseen.dedup();
                lite.read(|conn| projects_exist(conn, &unseen))?;
                self.seen_projects
                    .write()
                    .expect("projects lock")
                    .extend(unseen);
            }
            return self.journal().await?.append(entries).await;
        }
        // One transaction: one flush, all-or-nothing.
        if entries.len() <= ENQUEUE_ROWS {
            // One statement is atomic on its own: no BEGIN and COMMIT round trips.
            let mut conn = self.writer.acquire().await?;
            return insert(&mut *conn, &entries).await;
        }
        let mut tx = self.begin_write().await?;
        let ids = insert(&mut *tx, &entries).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// The journal of an SQLite file store, opened on first use: it takes the journal's
    /// lock, so only a process that queues or processes requests (the server) opens it.
    pub(super) async fn journal(&self) -> Result<&Journal> {
        let Some(lite) = &self.lite else {
            return Err(StoreError::Backend("this store has no journal".into()));
        };
        self.journal
            .get_or_try_init(|| async {
                // The lock first: a server still shutting down moves the consumed position
                // and may still hold the old spool until it lets go.
                let options = journal::Options::default();
                let dir = journal::dir_for(lite.path());
                let lock = tokio::task::spawn_blocking(move || {
                    journal::Lock::take(dir, options.lock_wait)
                })
                .await
                .map_err(|e| StoreError::Backend(format!("locking the journal: {e}")))??;
                legacy_spool::migrate(lite).await?;
                self.legacy_inbox
                    .store(lite.read(|conn| legacy_rows_left(conn))?, Ordering::Relaxed);
                // Synced, so that everything committed before is durable too: the journal
                // deletes segments the cursor has moved past.
                let cursor = lite
                    .write(|conn| lite::transaction(conn, read_cursor))
                    .await?;
                // Counts an earlier run deferred and could not flush before it stopped.
                flush_deferred(lite, &self.tag_flush).await?;
                tokio::task::spawn_blocking(move || Journal::open_locked(lock, cursor, options))
                    .await
                    .map_err(|e| StoreError::Backend(format!("opening the journal: {e}")))?
            })
            .await
    }

    pub(super) async fn inbox_depth(&self) -> Result<i64> {
        let in_table = if self.lite.is_none() || self.legacy_inbox.load(Ordering::Relaxed) {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM inbox")
                .fetch_one(&self.reader)
                .await?;
            row.try_get::<i64, _>("n")?
        } else {
            0
        };
        let journaled = match &self.lite {
            Some(lite) => match self.journal.get() {
                Some(journal) => journal.depth(),
                // Not this process's to open (it takes the journal's lock): count the
                // records after the consumed position as they are on disk.
                None => {
                    let cursor = lite.read(|conn| load_cursor(conn))?;
                    journal::depth_of(&journal::dir_for(lite.path()), cursor)?
                }
            },
            None => 0,
        };
        Ok(in_table + journaled)
    }

    pub(super) async fn process_inbox(
        &self,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        let now = self.clock.now_ms();
        let Some(lite) = &self.lite else {
            return self
                .process_in_transaction(self.backend, limit, process, now)
                .await;
        };
        let journal = self.journal().await?;
        if self.legacy_inbox.load(Ordering::Relaxed) {
            // Rows an earlier version left in the table come first, one round at a time.
            let _turn = self.batch_writes.lock().await;
            if self.legacy_inbox.load(Ordering::Relaxed) {
                let report = self.process_table(lite, limit, process, now).await?;
                if report.rows > 0 {
                    return Ok(report);
                }
                self.legacy_inbox.store(false, Ordering::Relaxed);
            }
        }
        process_journal(lite, journal, &self.tag_flush, limit, process, now).await
    }

    /// Claims, processes and writes in one transaction. PostgreSQL nodes share the inbox:
    /// row locks claim the rows, SKIP LOCKED steps over other nodes' claims, and a crashed
    /// node's locks vanish with its transaction. An in-memory SQLite database has a single
    /// connection, which does everything in turn.
    async fn process_in_transaction(
        &self,
        backend: Backend,
        limit: u32,
        process: &ProcessFn<'_>,
        now: Millis,
    ) -> Result<ProcessReport> {
        // PostgreSQL defers tag value counts; an in-memory SQLite database, where nothing
        // competes for its one connection, writes them with the batch.
        let deferred = backend == Backend::Postgres;
        let mut tx = self.begin_write().await?;
        let lock = match backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claim = format!("SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1{lock}");
        let rows = claim_rows(&mut *tx, &claim, limit).await?;
        if rows.is_empty() {
            // Nothing was read that needs keeping; end the transaction without a commit.
            tx.rollback().await?;
            if deferred {
                self.flush_postgres_if_due().await?;
            }
            return Ok(ProcessReport::default());
        }
        let batch = process(&rows);
        // Concurrent processors of this node parse and group in parallel but write one at
        // a time: two batches touching the same issues, tags and users would otherwise
        // lock rows in opposite orders and deadlock.
        let _turn = self.batch_writes.lock().await;
        if backend == Backend::Postgres {
            // As on SQLite, the processing commit needs no flush of its own: if it is lost
            // in a crash, the deletion of its inbox rows is lost with it and they are
            // processed again. Inbox commits (acknowledgements) keep the durable setting.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        let tags = if deferred {
            TagCounts::Deferred
        } else {
            TagCounts::Now
        };
        let report = write_and_delete(&mut *tx, backend, &ids(&rows), &batch, tags, now).await?;
        tx.commit().await?;
        if deferred {
            // Still this node's turn, so no batch of it commits between a flush and the
            // clock's reset.
            self.after_postgres_batch().await;
        }
        Ok(report)
    }

    /// Rows that versions before the journal left in the main file's `inbox` table,
    /// processed as they were then: read on a reader connection, so the CPU work of
    /// `process` runs without holding the single writer; the write transaction then
    /// deletes exactly the rows it read, or fails if another process got there first.
    async fn process_table(
        &self,
        lite: &Lite,
        limit: u32,
        process: &ProcessFn<'_>,
        now: Millis,
    ) -> Result<ProcessReport> {
        let claim = format!("SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1");
        let rows = lite.read(|conn| run_ready(claim_rows(&mut LiteConn(conn), &claim, limit)))?;
        if rows.is_empty() {
            return Ok(ProcessReport::default());
        }
        let batch = process(&rows);
        let ids = ids(&rows);
        drop(rows);
        lite.write(move |conn| {
            lite::unsynced_transaction(conn, |conn| {
                run_ready(write_and_delete(
                    &mut LiteConn(conn),
                    Backend::Sqlite,
                    &ids,
                    &batch,
                    TagCounts::Now,
                    now,
                ))
            })
        })
        .await
    }
}

/// The journal round (see `journal/`): read the records after those already handed out,
/// process them (concurrent rounds do this in parallel), then, once every earlier round
/// has committed, write what they produced together with the new consumed position in one
/// transaction of the main file, on the condition that the position is still where the
/// batch started.
async fn process_journal(
    lite: &Lite,
    journal: &Journal,
    clock: &Arc<FlushClock>,
    limit: u32,
    process: &ProcessFn<'_>,
    now: Millis,
) -> Result<ProcessReport> {
    let mut pending = journal.read(limit as usize)?;
    if pending.is_empty() {
        flush_if_due(lite, clock).await?;
        return Ok(ProcessReport::default());
    }
    let rows = std::mem::take(&mut pending.rows);
    let count = rows.len();
    // Only records skipped as unreadable move the position without rows.
    let batch = if count > 0 {
        process(&rows)
    } else {
        Batch::default()
    };
    drop(rows);
    if !pending.turn().await {
        // An earlier round failed; these records are handed out again.
        return Ok(ProcessReport::default());
    }
    let (from, to) = (pending.from, pending.to);
    // A commit that lets whole segments go is synced first; the others need no sync of
    // their own: a lost tail loses the events together with the position that says they
    // were consumed, and the records are simply processed again.
    let frees = journal.frees_segments(&to);
    let clock = Arc::clone(clock);
    let written = lite
        .write(move |conn| {
            let body = |conn: &mut Connection| {
                advance_cursor(conn, &from, &to)?;
                run_ready(ingest_write::write_batch(
                    &mut LiteConn(conn),
                    Backend::Sqlite,
                    &batch,
                    TagCounts::Deferred,
                    now,
                ))
            };
            let written = if frees {
                lite::transaction(conn, body)
            } else {
                lite::unsynced_transaction(conn, body)
            };
            if written.is_ok() {
                after_batch_on_writer(conn, &clock);
            }
            written
        })
        .await;
    let events = match written {
        Ok(events) => events,
        Err(StoreError::Conflict(why)) => {
            // The database holds another position than this journal expected (records
            // consumed elsewhere, or a commit reported as failed that went through):
            // read on from the database's.
            let cursor = lite.read(|conn| load_cursor(conn))?;
            tracing::warn!(%why, cursor = cursor.next_seq, "journal position resynced from the database");
            journal.resync(cursor)?;
            return Ok(ProcessReport::default());
        }
        Err(err) => return Err(err),
    };
    pending.commit();
    if frees && let Err(err) = journal.release() {
        // Kept segments cost only disk; the next open deletes them.
        tracing::warn!(error = %err, "consumed journal segments not deleted");
    }
    Ok(ProcessReport {
        rows: count,
        events,
    })
}

/// The consumed position the main file holds. It is rewritten too, so that the caller's
/// synced transaction makes everything committed before it durable.
fn read_cursor(conn: &mut Connection) -> Result<Position> {
    conn.execute(
        "UPDATE journal_cursor SET next_seq = next_seq WHERE id = 1",
        [],
    )?;
    load_cursor(conn)
}

fn load_cursor(conn: &Connection) -> Result<Position> {
    let (next_seq, segment, offset): (i64, i64, i64) = conn.query_row(
        "SELECT next_seq, segment, byte_offset FROM journal_cursor WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let unsigned = |v: i64| {
        u64::try_from(v).map_err(|_| StoreError::Backend(format!("journal cursor holds {v}")))
    };
    Ok(Position {
        segment: unsigned(segment)?,
        offset: unsigned(offset)?,
        next_seq: unsigned(next_seq)?,
    })
}

/// Moves the consumed position from `from` to `to`, or refuses (`Conflict`) if it is no
/// longer at `from`: another process consumed those records.
fn advance_cursor(conn: &mut Connection, from: &Position, to: &Position) -> Result<()> {
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "UPDATE journal_cursor SET next_seq = ?1, segment = ?2, byte_offset = ?3 \
         WHERE id = 1 AND next_seq = ?4",
    )?;
    let changed = stmt.execute([
        signed(to.next_seq),
        signed(to.segment),
        signed(to.offset),
        signed(from.next_seq),
    ])?;
    if changed != 1 {
        return Err(StoreError::Conflict(
            "journal records were processed by another process".into(),
        ));
    }
    Ok(())
}

/// Whether the main file's own inbox, where versions before the journal queued requests,
/// still holds rows.
fn legacy_rows_left(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM inbox)", [], |r| r.get(0))?)
}

fn projects_exist(conn: &mut Connection, ids: &[i64]) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM projects WHERE id = ?1")?;
    for id in ids {
        if !stmt.exists([id])? {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// `INSERT INTO inbox … VALUES` with placeholders for `rows` entries (see [`entry_values`]).
pub(super) fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO inbox (project_id, kind, received_at, client_ip, user_agent, body) \
         VALUES {}",
        value_rows(1, rows, 6)
    )
}

/// An entry's values in the column order of [`insert_sql`].
pub(super) fn entry_values(e: &InboxEntry) -> [Val<'_>; 6] {
    [
        Val::Int(e.project_id),
        Val::Text(e.kind.as_str()),
        Val::Int(e.received_at),
        Val::OptText(e.client_ip.as_deref()),
        Val::OptText(e.user_agent.as_deref()),
        Val::Blob(&e.body),
    ]
}

/// Rows per inbox `INSERT`: bodies make these rows large.
const ENQUEUE_ROWS: usize = 64;

/// Inserts inbox rows and returns their ids, in a transaction the caller holds.
async fn insert(conn: &mut impl Exec, entries: &[InboxEntry]) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ENQUEUE_ROWS) {
        let sql = format!("{} RETURNING id", insert_sql(chunk.len()));
        let args: Vec<Val> = chunk.iter().flat_map(entry_values).collect();
        for row in conn.fetch(&sql, &args).await? {
            ids.push(row.int(0)?);
        }
    }
    if ids.len() != entries.len() {
        return Err(StoreError::Backend(
            "inbox insert returned too few ids".into(),
        ));
    }
    Ok(ids)
}

/// Deletes the rows of `table` with these ids, in statements within the bind limits;
/// returns how many were there.
pub(super) async fn delete_ids(conn: &mut impl Exec, table: &str, ids: &[i64]) -> Result<u64> {
    let mut deleted = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        deleted += conn.execute(&sql, &args).await?;
    }
    Ok(deleted)
}

fn ids(rows: &[InboxRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

async fn claim_rows(conn: &mut impl Exec, claim: &str, limit: u32) -> Result<Vec<InboxRow>> {
    let claimed = conn.fetch(claim, &[Val::Int(i64::from(limit))]).await?;
    claimed.iter().map(rows::inbox_row).collect()
}

/// Deletes the processed rows and writes what they produced, in the caller's transaction.
/// A row that is already gone was processed by someone else: the whole batch is refused
/// so nothing is stored twice.
async fn write_and_delete(
    conn: &mut impl Exec,
    backend: Backend,
    ids: &[i64],
    batch: &Batch,
    tags: TagCounts,
    now: Millis,
) -> Result<ProcessReport> {
    let deleted = delete_ids(conn, "inbox", ids).await?;
    if deleted != ids.len() as u64 {
        return Err(StoreError::Conflict(
            "inbox rows were processed by another process".into(),
        ));
    }
    let events = ingest_write::write_batch(conn, backend, batch, tags, now).await?;
    Ok(ProcessReport {
        rows: ids.len(),
        events,
    })
}
