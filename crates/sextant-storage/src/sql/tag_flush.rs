//! When deferred tag value counts (`ingest_write/deferred_tags.rs`) are written: after a
//! batch once they have waited long enough, when processing is idle, when a store opens,
//! and before a read of them (tag summaries, tag search), so that reads see every processed
//! event.
//!
//! A due flush commits on its own after its batch, not inside it, so the batch's events are
//! visible without waiting for it. On an SQLite file one process writes, and its own clock
//! knows whether counts wait. On PostgreSQL a read flushes every node's waiting counts
//! (the table says whether any wait), and a node counts as waiting from its start, so its
//! first idle round writes what stopped nodes deferred and never flushed.

use std::sync::Arc;
use std::time::Instant;

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

    /// After a PostgreSQL batch that deferred its counts committed, with this node's
    /// batch turn still held: a due flush commits on its own after the batch.
    pub(super) async fn after_postgres_batch(&self) {
        if self.tag_flush.deferred(Instant::now())
            && let Err(err) = self.flush_postgres().await
        {
            not_flushed(&err);
        }
    }

    /// An idle PostgreSQL round: counts deferred by the last batches should not wait for
    /// the next ones.
    pub(super) async fn flush_postgres_if_due(&self) -> Result<()> {
        if !self.tag_flush.due(Instant::now()) {
            return Ok(());
        }
        let _turn = self.batch_writes.lock().await;
        self.flush_postgres().await
    }

    /// Flushes deferred counts on PostgreSQL, every node's, in a transaction of its own.
    /// The caller holds this node's batch turn (`batch_writes`), so that no batch of this
    /// node commits between the flush and the clock's reset.
    async fn flush_postgres(&self) -> Result<()> {
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

/// After an SQLite batch that deferred its counts committed, on the writer thread, in the
/// order batches commit: a due flush commits on its own after the batch, so the batch's
/// events are visible without waiting for it.
pub(super) fn after_batch_on_writer(conn: &mut Connection, clock: &FlushClock) {
    if clock.deferred(Instant::now())
        && let Err(err) = flush_on_writer(conn, clock)
    {
        not_flushed(&err);
    }
}

/// An idle SQLite round: counts deferred by the last batches should not wait for the
/// next ones.
pub(super) async fn flush_if_due(lite: &Lite, clock: &Arc<FlushClock>) -> Result<()> {
    if !clock.due(Instant::now()) {
        return Ok(());
    }
    flush_deferred(lite, clock).await
}

/// A failed flush after a batch is not the batch's failure: the record of what is not
/// counted stays, and the next flush counts those events.
fn not_flushed(err: &crate::StoreError) {
    tracing::warn!(error = %err, "tag value counts not flushed; retried later");
}

/// Flushes an SQLite file's deferred counts in a transaction of their own.
pub(super) async fn flush_deferred(lite: &Lite, clock: &Arc<FlushClock>) -> Result<()> {
    let clock = Arc::clone(clock);
    lite.write(move |conn| flush_on_writer(conn, &clock)).await
}

/// `flush_deferred`, on the writer thread.
fn flush_on_writer(conn: &mut Connection, clock: &FlushClock) -> Result<()> {
    lite::unsynced_transaction(conn, |conn| {
        run_ready(flush_tag_counts(&mut LiteConn(conn), Backend::Sqlite))
    })?;
    clock.flushed();
    Ok(())
}
