//! Test harness: a fresh store per test on each backend, plus builders for batches.
//!
//! Every case is an `async fn(Shared)` marked `#[store_test]`, which generates its SQLite
//! and PostgreSQL tests where it is defined: a case cannot be left out of the suite. The
//! databases come from `sextant_testkit::TestDb`: SQLite in a temporary directory always;
//! PostgreSQL on the server named by `SEXTANT_TEST_PG_URL`, when set, in a database that
//! is dropped afterwards (unset, the PostgreSQL cases pass without running after a note).

use std::future::Future;
use std::sync::Arc;

use sextant_storage::*;
use sextant_testkit::TestDb;

pub use sextant_testkit::store_test;

pub type Shared = Arc<dyn Store>;

pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::sqlite();
    // A nested path also checks that `open` creates missing directories.
    let url = format!("sqlite://{}/nested/sextant.db", db.path().display());
    let store = open(&url).await.expect("open sqlite store");
    assert_eq!(store.backend_name(), "sqlite");
    test(store).await;
}

pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let url = db.url.as_deref().expect("a PostgreSQL database");
    let store = open(url).await.expect("open postgres store");
    assert_eq!(store.backend_name(), "postgres");
    test(store).await;
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
