//! Direct rusqlite connections to an SQLite file for the ingest hot path: one writer
//! thread that runs whole jobs (an inbox commit, a processed batch), and a few reader
//! connections used in place for point reads.
//!
//! sqlx's SQLite driver runs each statement on a worker thread and hands the result back
//! over a channel; on the hot path those hand-offs cost more than SQLite's own work. Here
//! a job crosses threads once, however many statements it runs.

use std::path::PathBuf;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::{Result, StoreError};

/// Same settings as the sqlx connections (see `SQLITE_PRAGMAS`); the journal mode is a
/// property of the file and already WAL.
const PRAGMAS: &str =
    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16000;";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE: usize = 128;
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
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Lite {
    /// Opens the writer thread's connection for an existing, migrated database file.
    pub(crate) fn open(path: PathBuf) -> Result<Lite> {
        let mut writer = connect(&path)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sextant-sqlite-writer".into())
            .spawn(move || {
                // Ends when the store, and with it the sender, is dropped.
                for job in queue {
                    job(&mut writer);
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Lite {
            path,
            jobs,
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `job` on the writer thread. Callers hold the in-process write gate (the sqlx
    /// writer connection) so the two drivers never write at the same time.
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
