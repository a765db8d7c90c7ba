//! The inbox of an SQLite file store, kept in a file of its own (`<name>.inbox.db`) so
//! that acknowledgements take a different write lock from processed batches: a request
//! never waits for a batch of events to be written before its own commit.
//!
//! Exactly-once across two files, which SQLite cannot commit together: the batch
//! transaction in the main file also records the ids of the rows it consumed
//! (`inbox_done`); the rows are deleted from the spool afterwards (a durable commit), and
//! only then are their marks removed, by a later batch transaction. A row with a mark is
//! done whatever state the spool is in, so a crash between the steps never processes a
//! row twice; opening the store finishes what a crash interrupted.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::exec::{Exec, LiteConn, Positional, Val, run_ready};
use super::inbox::delete_ids;
use super::lite::{self, Claim, Lite};
use super::rows::{self, INBOX_COLUMNS};
use super::value_rows;
use crate::model::{InboxEntry, InboxRow};
use crate::{Result, StoreError};

/// Rows per inbox `INSERT`: bodies make these rows large.
pub(super) const ENQUEUE_ROWS: usize = 64;

/// `AUTOINCREMENT`: ids are never reused, even after every row was deleted, because a
/// mark in the main file may still name a deleted row's id.
const SCHEMA: &str = "PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    body         BLOB    NOT NULL
);";

pub(super) struct Spool {
    lite: Lite,
}

/// The spool file beside the database file `db`.
pub(super) fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_stem().unwrap_or_default().to_os_string();
    name.push(".inbox.db");
    db.with_file_name(name)
}

impl Spool {
    /// Opens (creating) the spool at `path` and makes sure its next id is above `floor`,
    /// the highest id the main file holds a mark for.
    pub(super) fn open(path: PathBuf, floor: i64) -> Result<Spool> {
        let mut conn = Connection::open(&path)?;
        conn.execute_batch(SCHEMA)?;
        // A spool file deleted or replaced by hand must not hand out a marked id again.
        let tx = conn.transaction()?;
        let raised = tx.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'inbox'",
            [floor],
        )?;
        if raised == 0 {
            tx.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('inbox', ?1)",
                [floor],
            )?;
        }
        tx.commit()?;
        drop(conn);
        Ok(Spool {
            lite: Lite::open(path, "spool")?,
        })
    }

    /// Commits the entries durably (FULL sync) in one transaction and returns their ids.
    pub(super) async fn enqueue(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>> {
        self.lite
            .write(move |conn| {
                lite::transaction(conn, |conn| {
                    run_ready(insert(&mut LiteConn(conn), &entries))
                })
            })
            .await
    }

    /// Drops the queued requests of a deleted project, as the main file's foreign keys
    /// drop everything else of it.
    pub(super) async fn discard_project(&self, project_id: i64) -> Result<()> {
        self.lite
            .write(move |conn| {
                conn.execute("DELETE FROM inbox WHERE project_id = ?1", [project_id])?;
                Ok(())
            })
            .await
    }

    pub(super) fn depth(&self) -> Result<i64> {
        self.lite
            .read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM inbox", [], |r| r.get(0))?))
    }

    /// Reads and claims the oldest rows that no other batch of this process holds.
    pub(super) fn claim(&self, limit: u32) -> Result<(Vec<InboxRow>, Option<Claim<'_>>)> {
        claim_oldest(&self.lite, limit)
    }

    /// Deletes processed rows, durably: their marks may be removed once this returns.
    pub(super) async fn forget(&self, ids: Vec<i64>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.lite
            .write(move |conn| {
                lite::transaction(conn, |conn| {
                    run_ready(delete_ids(&mut LiteConn(conn), "inbox", &ids)).map(|_| ())
                })
            })
            .await
    }
}

/// Reads and claims the oldest rows of the `inbox` table of `lite`'s file that no other
/// batch of this process holds.
pub(super) fn claim_oldest(lite: &Lite, limit: u32) -> Result<(Vec<InboxRow>, Option<Claim<'_>>)> {
    lite.claim(
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
    )
}

/// Inserts inbox rows and returns their ids, in a transaction the caller holds.
pub(super) async fn insert(conn: &mut impl Exec, entries: &[InboxEntry]) -> Result<Vec<i64>> {
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
    if ids.len() != entries.len() {
        return Err(StoreError::Backend(
            "inbox insert returned too few ids".into(),
        ));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests;
