//! Tag value counts that SQLite file stores defer past their batches: what the database
//! holds before and after a flush, across a restart, and when events are deleted. The
//! helpers serve the PostgreSQL tests too (`deferred_tags_pg`).

use crate::model::*;
use crate::sql::{SqlStore, open};

async fn store_at(dir: &tempfile::TempDir) -> SqlStore {
    open(&format!("sqlite://{}/sextant.db", dir.path().display()))
        .await
        .unwrap()
}

pub(super) async fn project_id(store: &SqlStore) -> i64 {
    match store.bootstrap_default().await.unwrap() {
        Some((_, project, _)) => project.id,
        None => {
            store
                .get_project_by_slug("default", "default")
                .await
                .unwrap()
                .id
        }
    }
}

pub(super) fn event(project_id: i64, n: u64, hash: &str, browser: &str) -> NewEvent {
    NewEvent {
        project_id,
        event_id: format!("{n:032x}"),
        timestamp: 1_000 + n as i64,
        received_at: 1_000 + n as i64,
        level: "error".into(),
        platform: "python".into(),
        event_type: "error".into(),
        release: None,
        environment: None,
        title: format!("Error {hash}"),
        culprit: "app".into(),
        message: String::new(),
        metadata: serde_json::json!({}),
        tags: vec![
            ("browser".into(), browser.into()),
            ("level".into(), "error".into()),
        ],
        user_key: None,
        trace_id: None,
        unhandled: false,
        grouping_config: "test".into(),
        hashes: vec![hash.into()],
        payload: vec![0x28, 0xb5, 0x2f, 0xfd],
    }
}

/// Queues one request and processes it into `events`; returns their issue ids. No flush
/// falls due after the batch, however long the test has run: the tests look at what
/// batches record, and flush by reading.
pub(super) async fn ingest(store: &SqlStore, project_id: i64, events: Vec<NewEvent>) -> Vec<i64> {
    store.tag_flush.flushed();
    let entry = InboxEntry {
        project_id,
        kind: InboxKind::Envelope,
        received_at: 1_000,
        client_ip: None,
        user_agent: None,
        body: b"{}".to_vec(),
    };
    store.enqueue(vec![entry]).await.unwrap();
    let batch = Batch {
        events,
        ..Batch::default()
    };
    let report = store
        .process_inbox(10, &move |_: &[InboxRow]| batch.clone())
        .await
        .unwrap();
    report.events.iter().map(|e| e.issue_id.unwrap()).collect()
}

pub(super) async fn scalar(store: &SqlStore, sql: &str) -> Option<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&store.reader)
        .await
        .unwrap()
}

async fn mark(store: &SqlStore) -> Option<i64> {
    scalar(
        store,
        "SELECT from_event FROM tag_counts_pending WHERE id = 1",
    )
    .await
}

pub(super) async fn stored_counts(store: &SqlStore) -> Option<i64> {
    scalar(
        store,
        "SELECT CAST(SUM(times_seen) AS BIGINT) FROM issue_tags",
    )
    .await
}

pub(super) async fn browser_counts(store: &SqlStore, issue_id: i64) -> Vec<(String, i64)> {
    store
        .issue_tag_values(issue_id, "browser", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.value, v.count))
        .collect()
}

#[tokio::test]
async fn batches_mark_their_events_and_a_read_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir).await;
    let p = project_id(&store).await;
    let issues = ingest(
        &store,
        p,
        vec![event(p, 1, "a", "Firefox"), event(p, 2, "a", "Chrome")],
    )
    .await;
    ingest(&store, p, vec![event(p, 3, "a", "Chrome")]).await;

    let first_row = scalar(&store, "SELECT MIN(id) FROM events").await;
    assert!(first_row.is_some());
    assert_eq!(mark(&store).await, first_row);
    assert_eq!(stored_counts(&store).await, None);

    assert_eq!(
        browser_counts(&store, issues[0]).await,
        [("Chrome".to_string(), 2), ("Firefox".to_string(), 1)]
    );
    assert_eq!(mark(&store).await, None);
    // Three events, two tags each.
    assert_eq!(stored_counts(&store).await, Some(6));
}

#[tokio::test]
async fn a_restart_counts_what_the_last_run_deferred_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir).await;
    let p = project_id(&store).await;
    let issues = ingest(&store, p, vec![event(p, 1, "a", "Firefox")]).await;
    ingest(&store, p, vec![event(p, 2, "a", "Firefox")]).await;
    assert!(mark(&store).await.is_some());
    // Stopped without a flush, as by a crash.
    drop(store);

    for _ in 0..2 {
        let store = store_at(&dir).await;
        // Opening the journal (the first processing round) counts them.
        let idle = store
            .process_inbox(10, &|_: &[InboxRow]| panic!("nothing is queued"))
            .await
            .unwrap();
        assert_eq!(idle.rows, 0);
        assert_eq!(mark(&store).await, None);
        assert_eq!(stored_counts(&store).await, Some(4));
        assert_eq!(
            browser_counts(&store, issues[0]).await,
            [("Firefox".to_string(), 2)]
        );
        drop(store);
    }
}

#[tokio::test]
async fn deleted_issues_and_reused_row_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir).await;
    let p = project_id(&store).await;
    let a = ingest(&store, p, vec![event(p, 1, "a", "Firefox")]).await[0];
    assert_eq!(browser_counts(&store, a).await.len(), 1);
    let b = ingest(&store, p, vec![event(p, 2, "b", "Chrome")]).await[0];
    let marked = mark(&store).await.unwrap();

    // Every event goes, so the next ones get row ids below the mark.
    store.delete_issues(&[a, b]).await.unwrap();
    let c = ingest(&store, p, vec![event(p, 3, "c", "Safari")]).await[0];
    let reused: i64 = scalar(&store, "SELECT MAX(id) FROM events").await.unwrap();
    assert!(
        reused < marked,
        "row id {reused} should be below the mark {marked}"
    );
    assert_eq!(mark(&store).await, Some(reused));

    assert_eq!(browser_counts(&store, c).await, [("Safari".to_string(), 1)]);
    assert_eq!(stored_counts(&store).await, Some(2));
    assert_eq!(mark(&store).await, None);
}

#[tokio::test]
async fn tags_stored_with_escapes_are_counted_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir).await;
    let p = project_id(&store).await;
    let quoted = r#"Edge "beta" \ 2"#;
    let issues = ingest(
        &store,
        p,
        vec![event(p, 1, "a", quoted), event(p, 2, "a", "Chrome")],
    )
    .await;
    assert!(mark(&store).await.is_some());
    assert_eq!(
        browser_counts(&store, issues[0]).await,
        [("Chrome".to_string(), 1), (quoted.to_string(), 1)]
    );
    assert_eq!(stored_counts(&store).await, Some(4));
}
