//! When deferred tag value counts (`ingest_write/deferred_tags.rs`) are written: after a
//! batch once they have waited long enough, when processing is idle, when a store opens,
//! and before a read of them, so that reads see every processed event.

use std::sync::Arc;

use rusqlite::Connection;

use super::exec::{LiteConn, run_ready};
use super::ingest_write::{FlushClock, flush_tag_counts};
use super::lite::{self, Lite};
use super::{Backend, SqlStore};
use crate::Result;

impl SqlStore {
    /// Writes the tag value counts that batches deferred, so that a read of them sees
    /// every processed event.
    pub(super) async fn settle_tag_counts(&self) -> Result<()> {
        match (&self.lite, self.backend) {
            // One process writes an SQLite file: its own clock knows whether any wait.
            (Some(lite), _) if self.tag_flush.waiting() => {
                flush_deferred(lite, &self.tag_flush).await
            }
            // Any node's batches may wait; the table says whether any do.
            (None, Backend::Postgres) => {
                let waiting: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM tag_counts_pending LIMIT 1")
                        .fetch_optional(&self.reader)
                        .await?;
                if waiting.is_none() {
                    return Ok(());
                }
                let _turn = self.batch_writes.lock().await;
                self.flush_postgres().await
            }
            _ => Ok(()),
        }
    }

    /// Flushes deferred counts on PostgreSQL, every node's, in a transaction of its own.
    /// The caller holds this node's batch turn (`batch_writes`), so that no batch of this
    /// node commits between the flush and the clock's reset.
    pub(super) async fn flush_postgres(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Like a batch's commit: if it is lost in a crash, the deletion of the records it
        // counted is lost with it, and the next flush counts those events.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        flush_tag_counts(&mut *tx, Backend::Postgres).await?;
        tx.commit().await?;
        self.tag_flush.flushed();
        Ok(())
    }
}

/// Flushes an SQLite file's deferred counts in a transaction of their own.
pub(super) async fn flush_deferred(lite: &Lite, clock: &Arc<FlushClock>) -> Result<()> {
    let clock = Arc::clone(clock);
    lite.write(move |conn| flush_on_writer(conn, &clock)).await
}

/// `flush_deferred`, on the writer thread.
pub(super) fn flush_on_writer(conn: &mut Connection, clock: &FlushClock) -> Result<()> {
    lite::unsynced_transaction(conn, |conn| {
        run_ready(flush_tag_counts(&mut LiteConn(conn), Backend::Sqlite))
    })?;
    clock.flushed();
    Ok(())
}
