//! The ingest inbox: durable enqueue, and the claim → process → write → delete round that
//! makes processing exactly-once.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use sqlx::Row;

use super::exec::{Exec, LiteConn, Val, run_ready};
use super::lite::{self, Lite};
use super::rows::{self, INBOX_COLUMNS};
use super::spool::{self, ENQUEUE_ROWS, Spool};
use super::{Backend, ID_CHUNK, SqlStore, ingest_write, placeholders, value_rows};
use crate::model::*;
use crate::{ProcessFn, ProcessReport, Result, StoreError};

impl SqlStore {
    pub(super) async fn enqueue(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // One transaction: one fsync, all-or-nothing.
        if let (Some(lite), Some(spool)) = (&self.lite, &self.spool) {
            // The spool is another file, out of reach of the main file's foreign keys:
            // refuse entries of a missing project here, as they would.
            lite.read(|conn| projects_exist(conn, &entries))?;
            return spool.enqueue(entries).await;
        }
        if entries.len() <= ENQUEUE_ROWS {
            // One statement is atomic on its own: no BEGIN and COMMIT round trips.
            let mut conn = self.writer.acquire().await?;
            return spool::insert(&mut *conn, &entries).await;
        }
        let mut tx = self.begin_write().await?;
        let ids = spool::insert(&mut *tx, &entries).await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub(super) async fn inbox_depth(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM inbox")
            .fetch_one(&self.reader)
            .await?;
        let in_file: i64 = row.try_get("n")?;
        let spooled = match &self.spool {
            Some(spool) => spool.depth()?,
            None => 0,
        };
        Ok(in_file + spooled)
    }

    pub(super) async fn process_inbox(
        &self,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        match (&self.lite, &self.spool, self.backend) {
            (Some(lite), Some(spool), _) => {
                if self.legacy_inbox.load(Ordering::Relaxed) {
                    let report = self.process_lite(lite, limit, process).await?;
                    if report.rows > 0 {
                        return Ok(report);
                    }
                    // Rows another processor of this process holds may still fail and
                    // come back: the flag clears only once the table is empty.
                    if !lite.read(|conn| legacy_rows_left(conn))? {
                        self.legacy_inbox.store(false, Ordering::Relaxed);
                    }
                }
                self.process_spooled(lite, spool, limit, process).await
            }
            (_, _, backend) => self.process_in_transaction(backend, limit, process).await,
        }
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
    ) -> Result<ProcessReport> {
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
        let report = write_and_delete(&mut *tx, backend, &ids(&rows), &batch).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Rows that versions before the spool left in the main file's inbox, processed as
    /// they were then. SQLite has one writer: the rows are read on a reader connection, so
    /// the CPU work of `process` runs without holding it; the write transaction then
    /// deletes exactly the rows it read, or fails if another process got there first.
    async fn process_lite(
        &self,
        lite: &Lite,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        let (rows, claim) = spool::claim_oldest(lite, limit)?;
        if rows.is_empty() {
            return Ok(ProcessReport::default());
        }
        let batch = process(&rows);
        let ids = ids(&rows);
        drop(rows);
        let report = lite
            .write(move |conn| {
                lite::unsynced_transaction(conn, |conn| {
                    run_ready(write_and_delete(
                        &mut LiteConn(conn),
                        Backend::Sqlite,
                        &ids,
                        &batch,
                    ))
                })
            })
            .await;
        drop(claim);
        report
    }

    /// The spool round (see `spool.rs`): claim rows from the spool, skip those already
    /// marked done, write what the rest produced together with their marks in one
    /// transaction of the main file, delete all of them from the spool, and leave the
    /// marks for the next batch transaction to remove.
    async fn process_spooled(
        &self,
        lite: &Lite,
        spool: &Spool,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        let (rows, claim) = spool.claim(limit)?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(ProcessReport::default());
        };
        let done = lite.read(|conn| marked(conn, first.id, last.id))?;
        let (stale, todo): (Vec<InboxRow>, Vec<InboxRow>) =
            rows.into_iter().partition(|row| done.contains(&row.id));
        let mut report = ProcessReport {
            rows: stale.len() + todo.len(),
            events: Vec::new(),
        };
        let todo_ids = ids(&todo);
        if !todo.is_empty() {
            let batch = process(&todo);
            drop(todo);
            let prune = std::mem::take(&mut *self.spool_marks.lock().expect("marks lock"));
            let (marks, pruned) = (todo_ids.clone(), prune.clone());
            // Synced (FULL), unlike the single-file round: the rows leave the spool for
            // good right after, so the marks and the events must be on disk first.
            let written = lite
                .write(move |conn| {
                    lite::transaction(conn, |conn| {
                        let mut conn = LiteConn(conn);
                        run_ready(unmark(&mut conn, &pruned))?;
                        run_ready(mark(&mut conn, &marks))?;
                        run_ready(ingest_write::write_batch(
                            &mut conn,
                            Backend::Sqlite,
                            &batch,
                        ))
                    })
                })
                .await;
            match written {
                Ok(events) => report.events = events,
                Err(err) => {
                    self.spool_marks.lock().expect("marks lock").extend(prune);
                    return Err(err);
                }
            }
        }
        let mut consumed = ids(&stale);
        consumed.extend(todo_ids);
        // If this fails the rows stay in the spool, marked, and the next claim drops them.
        spool.forget(consumed.clone()).await?;
        self.spool_marks
            .lock()
            .expect("marks lock")
            .extend(consumed);
        drop(claim);
        Ok(report)
    }
}

/// Opens the spool of the database file `lite` writes, and finishes what a crash between
/// the steps of `process_spooled` left: rows marked done are deleted from the spool, then
/// their marks. Also says whether the main file's own inbox still holds rows.
pub(super) async fn open_spool(lite: &Lite, path: PathBuf) -> Result<(Spool, bool)> {
    let (marks, legacy) = lite.read(|conn| {
        let mut stmt = conn.prepare("SELECT id FROM inbox_done ORDER BY id")?;
        let marks = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok((marks, legacy_rows_left(conn)?))
    })?;
    // The spool's ids stay above every mark, even if its file was replaced.
    let spool = Spool::open(path, marks.last().copied().unwrap_or(0))?;
    if !marks.is_empty() {
        spool.forget(marks.clone()).await?;
        lite.write(move |conn| {
            lite::transaction(conn, |conn| run_ready(unmark(&mut LiteConn(conn), &marks)))
        })
        .await?;
    }
    Ok((spool, legacy))
}

/// Whether the main file's own inbox, where versions before the spool queued requests,
/// still holds rows.
fn legacy_rows_left(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM inbox)", [], |r| r.get(0))?)
}

fn projects_exist(conn: &mut Connection, entries: &[InboxEntry]) -> Result<()> {
    let mut wanted: Vec<i64> = entries.iter().map(|e| e.project_id).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut stmt = conn.prepare_cached("SELECT 1 FROM projects WHERE id = ?1")?;
    for id in wanted {
        if !stmt.exists([id])? {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// Ids between `from` and `to` (inclusive) that are marked done.
fn marked(conn: &mut Connection, from: i64, to: i64) -> Result<HashSet<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM inbox_done WHERE id BETWEEN ?1 AND ?2")?;
    let ids = stmt.query_map([from, to], |r| r.get(0))?;
    Ok(ids.collect::<rusqlite::Result<HashSet<i64>>>()?)
}

/// Marks spool rows done. A mark that exists already means another process consumed the
/// row and has not yet removed its mark: the whole batch is refused. Once that mark is
/// gone this check no longer catches it, so two processes must not process one spool.
async fn mark(conn: &mut impl Exec, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "INSERT INTO inbox_done (id) VALUES {}",
            value_rows(1, chunk.len(), 1)
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        conn.execute(&sql, &args).await.map_err(|err| match err {
            StoreError::Conflict(_) => {
                StoreError::Conflict("inbox rows were processed by another process".into())
            }
            other => other,
        })?;
    }
    Ok(())
}

async fn unmark(conn: &mut impl Exec, ids: &[i64]) -> Result<()> {
    delete_ids(conn, "inbox_done", ids).await.map(|_| ())
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
) -> Result<ProcessReport> {
    let deleted = delete_ids(conn, "inbox", ids).await?;
    if deleted != ids.len() as u64 {
        return Err(StoreError::Conflict(
            "inbox rows were processed by another process".into(),
        ));
    }
    let events = ingest_write::write_batch(conn, backend, batch).await?;
    Ok(ProcessReport {
        rows: ids.len(),
        events,
    })
}
