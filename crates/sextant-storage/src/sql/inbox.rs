//! The ingest inbox: durable enqueue, and the claim → process → write → delete round that
//! makes processing exactly-once.

use sqlx::{AssertSqlSafe, Row};

use super::rows::{self, INBOX_COLUMNS};
use super::{Backend, ID_CHUNK, SqlStore, ingest_write, placeholders, value_rows};
use crate::model::*;
use crate::{ProcessFn, ProcessReport, Result};

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
        // SQLite has a single writer connection, so a plain claim is exclusive. PostgreSQL
        // nodes share the table: row locks claim the rows, SKIP LOCKED steps over other
        // nodes' claims, and a crashed node's locks vanish with its transaction.
        let claim = match self.backend {
            Backend::Sqlite => format!("SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1"),
            Backend::Postgres => {
                format!(
                    "SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
                )
            }
        };
        let mut conn = self.writer.acquire().await?;
        // An acknowledged request is durable once its inbox commit is fsynced (FULL). The
        // processing transaction needs no fsync of its own: in WAL mode a lost tail loses
        // the events together with the deletion of their inbox rows, which are then simply
        // processed again, and the next FULL commit syncs everything before it anyway.
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await?;
        }
        let result = self.process_claimed(&mut conn, claim, limit, process).await;
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    async fn process_claimed(
        &self,
        conn: &mut sqlx::AnyConnection,
        claim: String,
        limit: u32,
        process: &ProcessFn<'_>,
    ) -> Result<ProcessReport> {
        use sqlx::Connection;
        let mut tx = conn.begin().await?;
        let claimed = sqlx::query(AssertSqlSafe(claim))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        if claimed.is_empty() {
            // Nothing was read that needs keeping; end the transaction without a commit.
            tx.rollback().await?;
            return Ok(ProcessReport::default());
        }
        let inbox_rows = claimed
            .iter()
            .map(rows::inbox_row)
            .collect::<Result<Vec<_>>>()?;

        let batch = process(&inbox_rows);
        let events = ingest_write::write_batch(&mut tx, self.backend, &batch).await?;

        let ids: Vec<i64> = inbox_rows.iter().map(|r| r.id).collect();
        for chunk in ids.chunks(ID_CHUNK) {
            let sql = format!(
                "DELETE FROM inbox WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ProcessReport {
            rows: inbox_rows.len(),
            events,
        })
    }
}
