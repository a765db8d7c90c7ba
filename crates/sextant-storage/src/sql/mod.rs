//! The SQL implementation of `Store`: connecting, migrating, and helpers shared by the
//! per-domain modules. One SQL text serves both backends through sqlx's `Any` driver;
//! `Backend` is consulted only where the dialects must differ (DDL, search, row claims).
//! Migrations live in `migrations/sqlite` and `migrations/postgres`; `tests/upgrade.rs`
//! checks that a migration which rebuilds a table keeps its rows.
//!
//! An SQLite file store (WAL mode) has three ways in:
//! - accepted requests are appended to the journal beside the file (`journal/`);
//! - processed batches and DSN key lookups run on a dedicated rusqlite writer thread and
//!   reader connections (`lite.rs`), bypassing sqlx;
//! - everything else goes through the sqlx pools below: one writer connection, so writers
//!   of this process queue instead of racing for the file lock, and a few readers.
//!
//! PostgreSQL and in-memory SQLite stores queue requests in an `inbox` table and do
//! everything through sqlx. The batch-writing code is written once against `Exec`
//! (`exec.rs`) and runs on both drivers.
//!
//! Immediate transactions: on an SQLite file every multi-statement write begins with `BEGIN
//! IMMEDIATE`, on the writer thread (`lite::transaction`) and on the sqlx writer
//! (`begin_write`) alike, and single statements commit on their own. So writers (the hot
//! path, the API, a command-line tool in another process) wait for each other's lock (busy
//! timeout) instead of failing the way a deferred transaction that read first would.
//!
//! Id floors: a project id is never handed out again once its project is deleted. SQLite
//! would reuse the largest id, so a trigger keeps a floor in `id_floors` that new ids start
//! above; PostgreSQL's sequence never goes back. Requests still queued for a deleted project
//! are therefore dropped by processing, never stored under a newer one.

mod accounts;
mod admin;
mod alerts;
mod events;
mod exec;
mod inbox;
mod ingest_write;
mod issues;
mod journal;
mod legacy_spool;
mod lite;
mod mail;
mod members;
mod metric_alerts;
mod releases;
mod rows;
mod search;
mod sessions;
mod store_impl;
mod tag_flush;

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) struct SqlStore {
    backend: Backend,
    /// Every write goes through this pool. On SQLite it holds a single connection, so
    /// writers queue here instead of racing for the file lock (no SQLITE_BUSY).
    writer: AnyPool,
    /// Queries. Separate connections on SQLite (WAL lets them read while a write is in
    /// progress); the same pool as `writer` on PostgreSQL.
    reader: AnyPool,
    /// The ingest hot path on an SQLite file: processed batches and key lookups run on
    /// direct connections. Both it and `writer` write in immediate transactions (or
    /// single statements), so each waits for the other's lock.
    lite: Option<lite::Lite>,
    /// Where an SQLite file store queues accepted requests (see `journal/`), opened on
    /// first use.
    journal: tokio::sync::OnceCell<journal::Journal>,
    /// Projects that `enqueue` has seen exist (SQLite file stores).
    seen_projects: std::sync::RwLock<std::collections::HashSet<i64>>,
    /// Whether the main file's `inbox` table, where versions before the journal queued
    /// requests, may still hold rows; they are processed before the journal's.
    legacy_inbox: std::sync::atomic::AtomicBool,
    /// Batch writes of this process take turns (see `process_in_transaction`), and so do
    /// rounds over the rows an earlier version left in an SQLite file's `inbox` table.
    batch_writes: tokio::sync::Mutex<()>,
    /// When batches of this process last deferred tag value counts (SQLite files and
    /// PostgreSQL).
    tag_flush: std::sync::Arc<ingest_write::FlushClock>,
    /// What "now" is for every row this store stamps.
    pub(crate) clock: std::sync::Arc<dyn crate::clock::Clock>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Per-connection SQLite settings. WAL lets readers run beside the writer; FULL sync makes
/// a committed inbox write survive power loss (batched commits keep the fsyncs few).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

const SQLITE_READERS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 8;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            // Only a reference to a missing parent (project, organization) violates a
            // foreign key here, which is what callers know as "not found".
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            other => StoreError::Database(Box::new(other)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(Box::new(e))
    }
}

/// Opens the pools for `url` and brings the schema up to date.
pub(crate) async fn open(url: &str) -> Result<SqlStore> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);

    if url.starts_with("sqlite:") {
        open_sqlite(url).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        open_postgres(url).await
    } else {
        Err(StoreError::BadUrl(format!(
            "unsupported scheme in {:?}: expected sqlite:// or postgres://",
            crate::redact_url(url)
        )))
    }
}

async fn open_sqlite(url: &str) -> Result<SqlStore> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || params.contains("mode=memory");

    let mut full_url = url.to_string();
    if !in_memory {
        if let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::BadUrl(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        // Create the file on first use unless the caller chose a mode.
        if !params.contains("mode=") {
            full_url.push(if params.is_empty() && !url.contains('?') {
                '?'
            } else {
                '&'
            });
            full_url.push_str("mode=rwc");
        }
    }
    let options =
        AnyConnectOptions::from_str(&full_url).map_err(|e| StoreError::BadUrl(e.to_string()))?;

    let pool = |max: u32| {
        AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            })
    };

    if in_memory {
        // Each connection to an in-memory database is its own database, so one connection
        // must serve both roles and must never be closed.
        let one = pool(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&one).await?;
        return Ok(SqlStore {
            backend: Backend::Sqlite,
            writer: one.clone(),
            reader: one,
            lite: None,
            journal: Default::default(),
            seen_projects: Default::default(),
            legacy_inbox: Default::default(),
            batch_writes: tokio::sync::Mutex::new(()),
            tag_flush: Default::default(),
            clock: std::sync::Arc::new(crate::clock::SystemClock),
        });
    }

    let writer = pool(1).connect_with(options.clone()).await?;
    // Migrate before the readers connect so they never see a half-built schema.
    SQLITE_MIGRATIONS.run(&writer).await?;
    let reader = pool(SQLITE_READERS).connect_with(options).await?;
    let lite = lite::Lite::open(std::path::PathBuf::from(path), "sqlite")?;
    Ok(SqlStore {
        backend: Backend::Sqlite,
        writer,
        reader,
        lite: Some(lite),
        journal: Default::default(),
        seen_projects: Default::default(),
        legacy_inbox: Default::default(),
        batch_writes: tokio::sync::Mutex::new(()),
        tag_flush: Default::default(),
        clock: std::sync::Arc::new(crate::clock::SystemClock),
    })
}

async fn open_postgres(url: &str) -> Result<SqlStore> {
    let options =
        AnyConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
    // One connection first: a pool retries until its timeout and then reports only that
    // it timed out, where this says why (refused, unknown host, bad password) at once.
    {
        use sqlx::Connection;
        sqlx::AnyConnection::connect_with(&options)
            .await?
            .close()
            .await?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?;
    POSTGRES_MIGRATIONS.run(&pool).await?;
    // As if counts waited from the start: the first idle round after half a second then
    // writes those that stopped nodes deferred and never flushed.
    let tag_flush = std::sync::Arc::new(ingest_write::FlushClock::default());
    tag_flush.deferred(std::time::Instant::now());
    Ok(SqlStore {
        backend: Backend::Postgres,
        writer: pool.clone(),
        reader: pool,
        lite: None,
        journal: Default::default(),
        seen_projects: Default::default(),
        legacy_inbox: Default::default(),
        batch_writes: tokio::sync::Mutex::new(()),
        tag_flush,
        clock: std::sync::Arc::new(crate::clock::SystemClock),
    })
}

impl SqlStore {
    /// A write transaction on the sqlx writer. On an SQLite file it is `IMMEDIATE`: the
    /// hot-path writer thread writes beside this pool, and a deferred transaction that
    /// read first could not wait for it (SQLite refuses the upgrade at once); an immediate
    /// one takes the write lock up front and waits its turn (busy timeout).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(if self.lite.is_some() {
            self.writer.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.writer.begin().await?
        })
    }
}

/// Booleans are stored as BIGINT 0/1: the one integer type both backends decode alike.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// `$start, $start+1, …` for `n` values: the dynamic queries build their placeholders by
/// hand because `QueryBuilder<Any>` emits `?`, which PostgreSQL rejects.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    let mut sql = String::with_capacity(n * 6);
    push_placeholders(&mut sql, start, n);
    sql
}

/// `($s, …, $s+cols-1), (…)` for `rows` rows: multi-row `VALUES` lists, so one statement
/// writes a whole batch instead of paying the driver's per-statement cost per row.
pub(crate) fn value_rows(start: usize, rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * (cols * 6 + 4));
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        push_placeholders(&mut sql, start + r * cols, cols);
        sql.push(')');
    }
    sql
}

/// Built on the hot path for every batch statement (a hundred numbers per event), hence
/// `itoa`: `write!` cost several times as much per number.
fn push_placeholders(sql: &mut String, start: usize, n: usize) {
    let mut digits = itoa::Buffer::new();
    for i in start..start + n {
        if i > start {
            sql.push_str(", ");
        }
        sql.push('$');
        sql.push_str(digits.format(i));
    }
}

/// A value bound to a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// Collects the arguments of a dynamic query and hands out their `$N` numbers.
#[derive(Debug, Default)]
pub(crate) struct Args(Vec<Arg>);

impl Args {
    /// Adds a value and returns its placeholder.
    pub(crate) fn push(&mut self, arg: Arg) -> String {
        self.0.push(arg);
        format!("${}", self.0.len())
    }

    pub(crate) fn bind_all<'q>(
        self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for arg in self.0 {
            query = match arg {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
            };
        }
        query
    }
}

/// Splits id lists so no statement exceeds the backends' bind-parameter limits.
pub(crate) const ID_CHUNK: usize = 500;

/// Deletes the rows of `table` with these ids; returns how many there were, so a caller
/// consuming claimed rows can tell whether another took some first. `table` is named by
/// the caller's code only.
pub(crate) async fn delete_ids(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &'static str,
    ids: &[i64],
) -> Result<u64> {
    let mut deleted = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        deleted += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests;
