//! Direct rusqlite connections to an SQLite file for the ingest hot path: one writer
//! thread that runs whole jobs (an inbox commit, a processed batch), and a few reader
//! connections used in place for point reads.
//!
//! sqlx's SQLite driver runs each statement on a worker thread and hands the result back
//! over a channel; on the hot path those hand-offs cost more than SQLite's own work. Here
//! a job crosses threads once, however many statements it runs.
//!
//! A checkpointer thread, at most every 100 ms while writes go on, copies what the
//! write-ahead log gathered into the database file (`PASSIVE`), so the writer never waits
//! for a checkpoint. Jobs write in immediate transactions (see `sql/mod.rs`). A processed
//! batch may commit without an fsync of its own (`unsynced_transaction`): a lost tail loses
//! its events together with the record that their requests were consumed, and those
//! requests are processed again.

use std::path::PathBuf;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::{Result, StoreError};

/// On top of the settings every SQLite connection gets (`SQLITE_PRAGMAS`): a larger page
/// cache for the hot path.
const HOT_PATH_PRAGMAS: &str = "PRAGMA cache_size = -16000;";
/// The writer's own settings. Statement journals (the undo log of each multi-row
/// statement) stay in memory instead of a temporary file. Checkpoints are the
/// checkpointer thread's job; the writer checkpoints only if the log grows far beyond
/// what that thread keeps up with.
const WRITER_PRAGMAS: &str = "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16000;";
/// Checkpoints run at most this often while writes go on, each copying what the log
/// gathered meanwhile into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
const STATEMENT_CACHE: usize = 512;
/// Idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

pub(crate) struct Lite {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
}

fn connect(path: &PathBuf) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(super::SQLITE_PRAGMAS)?;
    conn.execute_batch(HOT_PATH_PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Lite {
    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Opens the writer thread's connection for an existing, migrated database file.
    /// `name` prefixes the threads' names (`<name>-writer`, `<name>-checkpoint`).
    pub(crate) fn open(path: PathBuf, name: &str) -> Result<Lite> {
        let mut writer = connect(&path)?;
        writer.execute_batch(WRITER_PRAGMAS)?;
        let checkpointer = connect(&path)?;
        let (kick, kicked) = mpsc::sync_channel::<()>(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let spawn = |name: &str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map_err(|e| StoreError::Backend(format!("cannot start {name}: {e}")))
        };
        spawn(
            &format!("{name}-writer"),
            Box::new(move || {
                // Ends when the store, and with it the sender, is dropped.
                for job in queue {
                    let run = std::panic::AssertUnwindSafe(|| job(&mut writer));
                    if std::panic::catch_unwind(run).is_err() {
                        // The job's caller sees its reply dropped (an error); the thread
                        // and its connection stay for the next job, minus any open
                        // transaction.
                        tracing::error!("an SQLite write job panicked; rolled back");
                        if !writer.is_autocommit() {
                            let _ = writer.execute_batch("ROLLBACK");
                        }
                        let _ = writer.execute_batch("PRAGMA synchronous = FULL");
                    }
                    // A kick already waiting covers this commit too.
                    let _ = kick.try_send(());
                }
            }),
        )?;
        spawn(
            &format!("{name}-checkpoint"),
            Box::new(move || {
                // Ends with the writer thread, which holds the only sender.
                while kicked.recv().is_ok() {
                    // PASSIVE never blocks the writer: it copies the frames no reader
                    // still needs, and the log restarts from the top once all are copied.
                    let done =
                        checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(err) = done {
                        tracing::warn!(error = %err, "SQLite checkpoint failed");
                    }
                    std::thread::sleep(CHECKPOINT_INTERVAL);
                }
            }),
        )?;
        Ok(Lite {
            path,
            jobs,
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `job` on the writer thread, one job at a time. Jobs write in immediate
    /// transactions (`transaction`), so they wait for a writer on another connection
    /// (the sqlx pool, the CLI) rather than fail.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = reply.send(job(conn));
            }))
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?
    }

    /// Runs a short read on a reader connection, on the calling thread: point reads take
    /// microseconds, less than a hand-off to another thread would.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let idle = self.readers.lock().expect("reader pool lock").pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = read(&mut conn);
        let mut idle = self.readers.lock().expect("reader pool lock");
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// Runs `body` in an immediate transaction: the write lock is taken up front, so a
/// concurrent writer in another process makes it wait (busy timeout) instead of failing
/// halfway. Rolled back on error.
pub(crate) fn transaction<T>(
    conn: &mut Connection,
    body: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match body(conn) {
        Ok(value) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(err) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(err.into())
            }
        },
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}

/// `transaction` without an fsync at commit, for processed batches. An acknowledged
/// request is durable once its inbox commit is fsynced (FULL); a processing transaction
/// needs no fsync of its own: in WAL mode a lost tail loses the events together with the
/// record that their inbox rows were consumed, and those rows are simply processed again.
/// The next FULL commit on the file syncs everything before it anyway.
pub(crate) fn unsynced_transaction<T>(
    conn: &mut Connection,
    body: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
    let result = transaction(conn, body);
    conn.execute_batch("PRAGMA synchronous = FULL")?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_leaves_the_writer_usable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lite.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
        let lite = Lite::open(path, "test").unwrap();

        let failed = lite
            .write(|conn| -> Result<()> {
                conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")?;
                panic!("job bug");
            })
            .await;
        assert!(failed.is_err(), "the caller learns the job failed");

        let count = lite
            .write(|conn| {
                let count = |c: &mut Connection| -> Result<i64> {
                    Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?)
                };
                assert!(
                    conn.is_autocommit(),
                    "the half-done transaction was rolled back"
                );
                transaction(conn, |c| {
                    c.execute_batch("INSERT INTO t VALUES (2);")?;
                    Ok(())
                })?;
                count(conn)
            })
            .await
            .unwrap();
        assert_eq!(count, 1, "only the second job's row is stored");
    }
}
