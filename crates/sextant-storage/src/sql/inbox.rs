//! The ingest inbox: durable enqueue, and the claim → process → write → delete round that
//! makes processing exactly-once.

use sqlx::Row;

use super::exec::{Exec, LiteConn, Positional, Val, run_ready};
use super::lite::{self, Lite};
use super::rows::{self, INBOX_COLUMNS};
use super::{Backend, ID_CHUNK, SqlStore, ingest_write, placeholders, value_rows};
use crate::model::*;
use crate::{ProcessFn, ProcessReport, Result, StoreError};

/// Rows per inbox `INSERT`: bodies make these rows large.
const ENQUEUE_ROWS: usize = 64;

impl SqlStore {
    pub(super) async fn enqueue(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // One transaction: one fsync, all-or-nothing.
        if let Some(lite) = &self.lite {
            return lite
                .write(move |conn| {
                    lite::transaction(conn, |conn| {
                        run_ready(insert_entries(&mut LiteConn(conn), &entries))
                    })
                })
                .await;
        }
        if entries.len() <= ENQUEUE_ROWS {
            // One statement is atomic on its own: no BEGIN and COMMIT round trips.
            let mut conn = self.writer.acquire().await?;
            return insert_entries(&mut *conn, &entries).await;
        }
        let mut tx = self.begin_write().await?;
        let ids = insert_entries(&mut *tx, &entries).await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub(super) async fn inbox_depth(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM inbox")
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub(super) async fn process_inbox(
        &self,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        match (&self.lite, self.backend) {
            (Some(lite), _) => self.process_lite(lite, limit, process).await,
            (None, backend) => self.process_in_transaction(backend, limit, process).await,
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

    /// SQLite has one writer. The rows are read on a reader connection, so the CPU work
    /// of `process` runs without holding it and inbox commits (the acknowledgements), and
    /// other batches' writes, go on meanwhile; the write transaction then deletes exactly
    /// the rows it read, or fails if another process got there first.
    async fn process_lite(
        &self,
        lite: &Lite,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        let (rows, claim) = lite.claim(
            |conn, skip| {
                let mut sql = format!("SELECT {INBOX_COLUMNS} FROM inbox WHERE 1 = 1");
                let mut args = vec![Val::Int(i64::from(limit))];
                for (from, to) in skip {
                    sql.push_str(&format!(
                        " AND id NOT BETWEEN ${} AND ${}",
                        args.len() + 1,
                        args.len() + 2
                    ));
                    args.extend([Val::Int(*from), Val::Int(*to)]);
                }
                sql.push_str(" ORDER BY id LIMIT $1");
                let claimed = run_ready(LiteConn(conn).fetch(&sql, &args))?;
                claimed.iter().map(rows::inbox_row).collect()
            },
            |row| row.id,
        )?;
        if rows.is_empty() {
            return Ok(ProcessReport::default());
        }
        let batch = process(&rows);
        let ids = ids(&rows);
        drop(rows);
        let report = lite
            .write(move |conn| {
                // An acknowledged request is durable once its inbox commit is fsynced (FULL).
                // The processing transaction needs no fsync of its own: in WAL mode a lost
                // tail loses the events together with the deletion of their inbox rows, which
                // are then simply processed again, and the next FULL commit syncs everything
                // before it anyway.
                conn.execute_batch("PRAGMA synchronous = NORMAL")?;
                let result = lite::transaction(conn, |conn| {
                    run_ready(write_and_delete(
                        &mut LiteConn(conn),
                        Backend::Sqlite,
                        &ids,
                        &batch,
                    ))
                });
                conn.execute_batch("PRAGMA synchronous = FULL")?;
                result
            })
            .await;
        drop(claim);
        report
    }
}

fn ids(rows: &[InboxRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

async fn insert_entries(conn: &mut impl Exec, entries: &[InboxEntry]) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(ENQUEUE_ROWS) {
        let sql = format!(
            "INSERT INTO inbox (project_id, kind, received_at, client_ip, user_agent, body) \
             VALUES {} RETURNING id",
            value_rows(1, chunk.len(), 6)
        );
        let mut args = Vec::with_capacity(chunk.len() * 6);
        for e in chunk {
            args.extend([
                Val::Int(e.project_id),
                Val::Text(e.kind.as_str()),
                Val::Int(e.received_at),
                Val::OptText(e.client_ip.as_deref()),
                Val::OptText(e.user_agent.as_deref()),
                Val::Blob(&e.body),
            ]);
        }
        for row in conn.fetch(&sql, &args).await? {
            ids.push(row.int(0)?);
        }
    }
    Ok(ids)
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
    let mut deleted = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "DELETE FROM inbox WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        deleted += conn.execute(&sql, &args).await?;
    }
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
