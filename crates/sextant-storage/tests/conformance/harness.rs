//! Test harness: a fresh store per test on each backend, plus builders for batches.
//!
//! SQLite gets a temporary directory; PostgreSQL a new database on the local server
//! (`SEXTANT_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`) that is
//! dropped afterwards. An unreachable server fails the PostgreSQL tests instead of
//! skipping them, so CI cannot go green without exercising that backend.

use std::future::Future;
use std::sync::{Arc, Once};

use sextant_storage::*;
use sqlx::{AssertSqlSafe, Connection};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub type Shared = Arc<dyn Store>;

pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    // A nested path also checks that `open` creates missing directories.
    let url = format!("sqlite://{}/nested/sextant.db", dir.path().display());
    let store = open(&url).await.expect("open sqlite store");
    assert_eq!(store.backend_name(), "sqlite");
    test(store).await;
}

pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let base = std::env::var("SEXTANT_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
    let name = format!("sextant_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin_connection(&base).await;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name} via {base}: {e}"));
    let _ = admin.close().await;
    let guard = DropDatabase {
        base: base.clone(),
        name: name.clone(),
    };

    let store = open(&with_database(&base, &name))
        .await
        .expect("open postgres store");
    assert_eq!(store.backend_name(), "postgres");
    test(store).await;
    drop(guard);
}

async fn admin_connection(base: &str) -> sqlx::AnyConnection {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    sqlx::AnyConnection::connect(base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for these tests but {base} is unreachable: {e}. \
             Start a local server (user postgres, trust auth) or set SEXTANT_TEST_PG_URL."
            )
        })
}

/// `base` with its database name (the URL path) replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = base
        .split_once('?')
        .map_or((base, None), |(u, q)| (u, Some(q)));
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[host_start..]
        .find('/')
        .map_or(url.len(), |i| host_start + i);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}/{name}{query}", &url[..path_start])
}

/// Drops the test database when the test ends, passed or panicked. Runs on its own
/// thread and runtime because `Drop` cannot await on the test's runtime.
struct DropDatabase {
    base: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut admin = admin_connection(&base).await;
                // FORCE ends the store's pooled connections, which are still open.
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await {
                    eprintln!("could not drop test database {name}: {e}");
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Generates `mod sqlite { … }` and `mod postgres { … }` with one `#[tokio::test]` per
/// suite function, so every behaviour is checked identically on both backends.
macro_rules! conformance {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run_sqlite($crate::$module::$test).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run_postgres($crate::$module::$test).await;
                }
            )*
        }
    };
}

pub const HOUR: i64 = 3_600_000;

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A plausible event; tests override what they care about.
pub fn event(project_id: i64, event_id: &str, hash: &str, ts: i64) -> NewEvent {
    NewEvent {
        project_id,
        event_id: event_id.to_string(),
        timestamp: ts,
        received_at: ts,
        level: "error".into(),
        platform: "javascript".into(),
        event_type: "error".into(),
        release: None,
        environment: Some("production".into()),
        title: format!("Error: {hash}"),
        culprit: "app.main".into(),
        message: String::new(),
        metadata: serde_json::json!({"type": "Error", "value": hash}),
        tags: vec![("level".into(), "error".into())],
        user_key: None,
        trace_id: None,
        unhandled: false,
        grouping_config: "newstyle:2023-01-11".into(),
        hashes: vec![hash.to_string()],
        payload: vec![0x28, 0xb5, 0x2f, 0xfd],
    }
}

/// 32 hex chars derived from `n`, as event ids are.
pub fn eid(n: u64) -> String {
    format!("{n:032x}")
}

/// Enqueues one request for `project_id` and processes the inbox with a fixed batch.
pub async fn ingest(store: &Shared, project_id: i64, batch: Batch) -> ProcessReport {
    enqueue_one(store, project_id, b"{}").await;
    let report = store
        .process_inbox(100, &move |_rows: &[InboxRow]| batch.clone())
        .await
        .expect("process");
    assert!(report.rows >= 1);
    report
}

pub async fn ingest_events(
    store: &Shared,
    project_id: i64,
    events: Vec<NewEvent>,
) -> Vec<EventWriteResult> {
    ingest(
        store,
        project_id,
        Batch {
            events,
            ..Batch::default()
        },
    )
    .await
    .events
}

pub async fn enqueue_one(store: &Shared, project_id: i64, body: &[u8]) -> i64 {
    let entry = InboxEntry {
        project_id,
        kind: InboxKind::Envelope,
        received_at: now(),
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("sentry.test/1.0".into()),
        body: body.to_vec(),
    };
    store.enqueue(vec![entry]).await.expect("enqueue")[0]
}

/// The bootstrap project, created on demand.
pub async fn project(store: &Shared) -> Project {
    match store.bootstrap_default().await.expect("bootstrap") {
        Some((_, p, _)) => p,
        None => store
            .get_project_by_slug("default", "default")
            .await
            .expect("default project"),
    }
}
