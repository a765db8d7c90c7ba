//! A fresh database per test: SQLite in a temporary directory, or a new database on the
//! PostgreSQL server named by `SEXTANT_TEST_PG_URL`, dropped when the test ends.
//!
//! Databases are created and dropped with `psql` (postgresql-client), so this needs no
//! async runtime and works from `Drop`.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Once;

use tempfile::TempDir;

/// The one environment variable that turns on the PostgreSQL runs of the tests.
pub const PG_URL_VAR: &str = "SEXTANT_TEST_PG_URL";

/// The PostgreSQL server the tests should use: `SEXTANT_TEST_PG_URL`, when set.
pub fn pg_url() -> Option<String> {
    let url = std::env::var(PG_URL_VAR).ok()?.trim().to_string();
    if url.is_empty() {
        return None;
    }
    assert!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "{PG_URL_VAR} must be a postgres:// URL, not {url:?}"
    );
    Some(url)
}

/// Where one test's data lives. The data directory always exists (a server keeps more
/// than its database there); on SQLite it also holds the database.
pub struct TestDb {
    /// The data directory, removed with the `TestDb`.
    pub dir: TempDir,
    /// The PostgreSQL database's URL; `None` on SQLite, whose database lives in `dir`.
    pub url: Option<String>,
    /// PostgreSQL: the server's URL and the database to drop.
    pg: Option<Postgres>,
}

struct Postgres {
    admin: String,
    name: String,
}

impl TestDb {
    /// PostgreSQL when `SEXTANT_TEST_PG_URL` is set, SQLite otherwise.
    #[allow(clippy::new_without_default)] // creating a database is not a default value
    pub fn new() -> TestDb {
        match pg_url() {
            Some(admin) => TestDb::on_postgres(admin),
            None => TestDb::sqlite(),
        }
    }

    /// SQLite in a fresh temporary directory, whatever the environment says.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("sextant-test-")
            .tempdir()
            .expect("create a temporary directory");
        TestDb {
            dir,
            url: None,
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, for tests that exist only for PostgreSQL. `None`, after
    /// a note on stderr, when `SEXTANT_TEST_PG_URL` is unset: the caller returns early.
    pub fn postgres() -> Option<TestDb> {
        match pg_url() {
            Some(admin) => Some(TestDb::on_postgres(admin)),
            None => {
                note_postgres_skipped();
                None
            }
        }
    }

    fn on_postgres(admin: String) -> TestDb {
        let name = format!("sextant_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = psql(&admin, &format!("CREATE DATABASE \"{name}\"")) {
            panic!(
                "{PG_URL_VAR} is set, but no test database could be created on {admin}: {e}. \
                 Start PostgreSQL (user postgres, trust auth) or unset {PG_URL_VAR}."
            );
        }
        let mut db = TestDb::sqlite();
        db.url = Some(with_database(&admin, &name));
        db.pg = Some(Postgres { admin, name });
        db
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn backend(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(pg) = &self.pg {
            // FORCE: pools that have not noticed the end of the test must not keep it.
            let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", pg.name);
            if let Err(e) = psql(&pg.admin, &sql) {
                eprintln!("warning: could not drop test database {}: {e}", pg.name);
            }
        }
    }
}

/// Says once per test process that the PostgreSQL-only tests passed without running.
/// Written to the stderr handle itself, past the test harness's output capture.
fn note_postgres_skipped() {
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: {PG_URL_VAR} is not set; PostgreSQL-only tests pass without running"
        );
    });
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql ({e}); install postgresql-client"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `base` with its database name (the URL path) replaced by `name`; a query string stays.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base, String::new()),
    };
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[host_start..]
        .find('/')
        .map_or(url.len(), |i| host_start + i);
    format!("{}/{name}{query}", &url[..path_start])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_only() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@db/x?sslmode=disable", "t2"),
            "postgresql://u:p@db/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://db:5432", "t3"),
            "postgres://db:5432/t3"
        );
    }

    #[test]
    fn a_sqlite_database_is_a_directory_of_its_own() {
        let (a, b) = (TestDb::sqlite(), TestDb::sqlite());
        assert_eq!(a.backend(), "sqlite");
        assert_eq!(a.url, None);
        assert!(a.path().is_dir());
        assert_ne!(a.path(), b.path());
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists(), "the directory goes with the TestDb");
    }
}
