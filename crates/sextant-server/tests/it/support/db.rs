//! A fresh database per test: SQLite in a temporary directory, or a new PostgreSQL
//! database when `SEXTANT_DATABASE_URL` names a `postgres://` server.

use std::process::Command;

use tempfile::TempDir;

pub struct TestDb {
    /// Data directory for the server (SQLite file, if any, lives here).
    pub dir: TempDir,
    /// `None` means "SQLite in `dir`" (the server's default).
    pub url: Option<String>,
    /// PostgreSQL: the maintenance URL and the database to drop at the end.
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn create() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("sextant-e2e-")
            .tempdir()
            .expect("create temp dir");
        match std::env::var("SEXTANT_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let name = format!("sextant_e2e_{}", uuid::Uuid::new_v4().simple());
                psql(&url, &format!("CREATE DATABASE \"{name}\""));
                let mut db_url = url::Url::parse(&url).expect("SEXTANT_DATABASE_URL is not a URL");
                db_url.set_path(&format!("/{name}"));
                TestDb {
                    dir,
                    url: Some(db_url.to_string()),
                    pg: Some((url, name)),
                }
            }
            _ => TestDb {
                dir,
                url: None,
                pg: None,
            },
        }
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
        if let Some((admin_url, name)) = &self.pg {
            // FORCE: a pool that has not noticed the shutdown yet must not keep it alive.
            let out = Command::new("psql")
                .args([admin_url.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c"])
                .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .output();
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "warning: dropping {name} failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(e) => eprintln!("warning: could not run psql to drop {name}: {e}"),
            }
        }
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("SEXTANT_DATABASE_URL is set, but psql could not be run ({e}); install postgresql-client"));
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
