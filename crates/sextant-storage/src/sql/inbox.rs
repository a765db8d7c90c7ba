//! The ingest inbox: durable enqueue, and the claim → process → write → delete round that
//! makes processing exactly-once.

use sqlx::{AssertSqlSafe, Row};

use super::rows::{self, INBOX_COLUMNS};
use super::{Backend, ID_CHUNK, SqlStore, ingest_write, placeholders, value_rows};
use crate::model::*;
use crate::{ProcessFn, ProcessReport, Result, StoreError};

impl SqlStore {
    pub(super) async fn enqueue(&self, entries: &[InboxEntry]) -> Result<Vec<i64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // One transaction and one statement per chunk: one fsync, all-or-nothing.
        let mut tx = self.writer.begin().await?;
        let mut ids = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(64) {
            let sql = format!(
                "INSERT INTO inbox (project_id, kind, received_at, client_ip, user_agent, body) \
                 VALUES {} RETURNING id",
                value_rows(1, chunk.len(), 6)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.project_id)
                    .bind(e.kind.as_str())
                    .bind(e.received_at)
                    .bind(e.client_ip.as_deref())
                    .bind(e.user_agent.as_deref())
                    .bind(e.body.as_slice());
            }
            for row in q.fetch_all(&mut *tx).await? {
                ids.push(row.try_get("id")?);
            }
        }
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
        match self.backend {
            Backend::Postgres => self.process_postgres(limit, process).await,
            Backend::Sqlite => self.process_sqlite(limit, process).await,
        }
    }

    /// PostgreSQL nodes share the inbox: row locks claim the rows, SKIP LOCKED steps over
    /// other nodes' claims, and a crashed node's locks vanish with its transaction.
    async fn process_postgres(&self, limit: u32, process: &ProcessFn<'_>) -> Result<ProcessReport> {
        let mut tx = self.writer.begin().await?;
        let claim = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
        );
        let rows = claim_rows(&mut *tx, claim, limit).await?;
        if rows.is_empty() {
            // Nothing was read that needs keeping; end the transaction without a commit.
            tx.rollback().await?;
            return Ok(ProcessReport::default());
        }
        let batch = process(&rows);
        let report = write_and_delete(&mut tx, self.backend, &rows, &batch).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// SQLite has one writer connection. The rows are read on a reader connection, so
    /// the CPU work of `process` runs without holding it and inbox commits (the
    /// acknowledgements) go on meanwhile; the write transaction then deletes exactly the
    /// rows it read, or fails if another process got there first.
    async fn process_sqlite(&self, limit: u32, process: &ProcessFn<'_>) -> Result<ProcessReport> {
        let claim = format!("SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1");
        let rows = claim_rows(&self.reader, claim, limit).await?;
        if rows.is_empty() {
            return Ok(ProcessReport::default());
        }
        let batch = process(&rows);

        let mut conn = self.writer.acquire().await?;
        // An acknowledged request is durable once its inbox commit is fsynced (FULL). The
        // processing transaction needs no fsync of its own: in WAL mode a lost tail loses
        // the events together with the deletion of their inbox rows, which are then simply
        // processed again, and the next FULL commit syncs everything before it anyway.
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await?;
        let result = async {
            use sqlx::Connection;
            let mut tx = conn.begin().await?;
            let report = write_and_delete(&mut tx, self.backend, &rows, &batch).await?;
            tx.commit().await?;
            Ok(report)
        }
        .await;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await?;
        result
    }
}

async fn claim_rows<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    claim: String,
    limit: u32,
) -> Result<Vec<InboxRow>> {
    let claimed = sqlx::query(AssertSqlSafe(claim))
        .bind(i64::from(limit))
        .fetch_all(executor)
        .await?;
    claimed.iter().map(rows::inbox_row).collect()
}

/// Deletes the processed rows and writes what they produced, in the caller's transaction.
/// A row that is already gone was processed by someone else: the whole batch is refused
/// so nothing is stored twice.
async fn write_and_delete(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    rows: &[InboxRow],
    batch: &Batch,
) -> Result<ProcessReport> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut deleted = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "DELETE FROM inbox WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        deleted += q.execute(&mut *tx).await?.rows_affected();
    }
    if deleted != ids.len() as u64 {
        return Err(StoreError::Conflict(
            "inbox rows were processed by another process".into(),
        ));
    }
    let events = ingest_write::write_batch(tx, backend, batch).await?;
    Ok(ProcessReport {
        rows: rows.len(),
        events,
    })
}
