//! One interface for the write path's statements over two drivers: sqlx (PostgreSQL, and
//! in-memory SQLite) and rusqlite (the SQLite file's dedicated writer thread). The
//! batch-writing code is written once against `Exec`; only how a statement is bound and
//! run differs.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rusqlite::types::Value as LiteValue;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::{Result, StoreError};

/// A value bound to a statement, borrowed from the batch being written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Int(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Blob(&'a [u8]),
}

/// A fetched row, read by column position (the statements name their columns).
pub(crate) enum DbRow {
    Any(AnyRow),
    Lite(Vec<LiteValue>),
}

/// Reading a row's columns by position, whichever driver fetched it.
pub(crate) trait Positional {
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn blob(&self, i: usize) -> Result<Vec<u8>>;

    fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?
            .ok_or_else(|| mismatch("integer", i, Some(&LiteValue::Null)))
    }

    fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?
            .ok_or_else(|| mismatch("text", i, Some(&LiteValue::Null)))
    }
}

impl Positional for AnyRow {
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }

    fn blob(&self, i: usize) -> Result<Vec<u8>> {
        Ok(self.try_get(i)?)
    }
}

impl Positional for DbRow {
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self {
            DbRow::Any(row) => row.opt_int(i),
            DbRow::Lite(values) => match values.get(i) {
                Some(LiteValue::Integer(v)) => Ok(Some(*v)),
                Some(LiteValue::Null) => Ok(None),
                other => Err(mismatch("integer", i, other)),
            },
        }
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self {
            DbRow::Any(row) => row.opt_text(i),
            DbRow::Lite(values) => match values.get(i) {
                Some(LiteValue::Text(v)) => Ok(Some(v.clone())),
                Some(LiteValue::Null) => Ok(None),
                other => Err(mismatch("text", i, other)),
            },
        }
    }

    fn blob(&self, i: usize) -> Result<Vec<u8>> {
        match self {
            DbRow::Any(row) => row.blob(i),
            DbRow::Lite(values) => match values.get(i) {
                Some(LiteValue::Blob(v)) => Ok(v.clone()),
                // SQLite keeps whatever type was written; an empty body may come back as text.
                Some(LiteValue::Text(v)) => Ok(v.clone().into_bytes()),
                other => Err(mismatch("blob", i, other)),
            },
        }
    }
}

fn mismatch(wanted: &str, column: usize, got: Option<&LiteValue>) -> StoreError {
    StoreError::Backend(format!("column {column}: expected {wanted}, found {got:?}"))
}

/// Runs statements on one connection, usually inside the caller's transaction.
pub(crate) trait Exec: Send {
    fn fetch(
        &mut self,
        sql: &str,
        args: &[Val<'_>],
    ) -> impl Future<Output = Result<Vec<DbRow>>> + Send;

    /// Returns the number of rows changed.
    fn execute(&mut self, sql: &str, args: &[Val<'_>]) -> impl Future<Output = Result<u64>> + Send;

    /// Bind parameters per multi-row statement on this connection.
    fn param_budget(&self) -> usize;

    /// Rows per multi-row statement of `cols` columns.
    fn rows_per_statement(&self, cols: usize) -> usize {
        (self.param_budget() / cols).max(1)
    }
}

/// sqlx's SQLite driver resolves each parameter's name when binding, at a cost that grows
/// with the list, so mid-sized statements beat huge ones there (in-memory databases).
const SQLX_SQLITE_PARAMS: usize = 240;
/// On PostgreSQL each statement is a round trip: fewer, larger ones (the protocol allows
/// 65,535 parameters).
const POSTGRES_PARAMS: usize = 4_000;
/// rusqlite binds by position; the budget only bounds how many distinct statement texts
/// (one per chunk size) the statement cache must hold.
const LITE_PARAMS: usize = 240;

fn bind_any<'q>(
    sql: &str,
    args: &[Val<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
    for arg in args {
        q = match *arg {
            Val::Int(v) => q.bind(v),
            Val::Text(v) => q.bind(v),
            Val::OptText(v) => q.bind(v),
            Val::Blob(v) => q.bind(v),
        };
    }
    q
}

impl Exec for AnyConnection {
    fn param_budget(&self) -> usize {
        if self.backend_name().eq_ignore_ascii_case("postgresql") {
            POSTGRES_PARAMS
        } else {
            SQLX_SQLITE_PARAMS
        }
    }

    async fn fetch(&mut self, sql: &str, args: &[Val<'_>]) -> Result<Vec<DbRow>> {
        let rows = bind_any(sql, args).fetch_all(&mut *self).await?;
        Ok(rows.into_iter().map(DbRow::Any).collect())
    }

    async fn execute(&mut self, sql: &str, args: &[Val<'_>]) -> Result<u64> {
        Ok(bind_any(sql, args)
            .execute(&mut *self)
            .await?
            .rows_affected())
    }
}

/// A rusqlite connection seen through `Exec`. Its futures never wait: each statement runs
/// to completion when first polled, so `run_ready` can drive a whole batch in place.
pub(crate) struct LiteConn<'c>(pub(crate) &'c mut rusqlite::Connection);

impl LiteConn<'_> {
    fn prepare(&self, sql: &str, args: &[Val<'_>]) -> Result<rusqlite::CachedStatement<'_>> {
        // `?N` binds by position; `$N` would be a named parameter looked up per bind.
        let mut stmt = self.0.prepare_cached(&sql.replace('$', "?"))?;
        for (i, arg) in args.iter().enumerate() {
            let at = i + 1;
            match *arg {
                Val::Int(v) => stmt.raw_bind_parameter(at, v)?,
                Val::Text(v) => stmt.raw_bind_parameter(at, v)?,
                Val::OptText(v) => stmt.raw_bind_parameter(at, v)?,
                Val::Blob(v) => stmt.raw_bind_parameter(at, v)?,
            }
        }
        Ok(stmt)
    }
}

impl Exec for LiteConn<'_> {
    fn param_budget(&self) -> usize {
        LITE_PARAMS
    }

    async fn fetch(&mut self, sql: &str, args: &[Val<'_>]) -> Result<Vec<DbRow>> {
        let mut stmt = self.prepare(sql, args)?;
        let width = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..width)
                .map(|i| row.get::<_, LiteValue>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.push(DbRow::Lite(values));
        }
        Ok(out)
    }

    async fn execute(&mut self, sql: &str, args: &[Val<'_>]) -> Result<u64> {
        let mut stmt = self.prepare(sql, args)?;
        Ok(stmt.raw_execute()? as u64)
    }
}

/// Drives a future that never waits (one built on `LiteConn`) to its end on this thread.
pub(crate) fn run_ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("a rusqlite statement waited on something"),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(err, message) => match err.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    StoreError::Conflict(message.clone().unwrap_or_else(|| e.to_string()))
                }
                // As with sqlx: only a missing parent violates a foreign key here.
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound,
                _ => StoreError::Database(Box::new(e)),
            },
            _ => StoreError::Database(Box::new(e)),
        }
    }
}
