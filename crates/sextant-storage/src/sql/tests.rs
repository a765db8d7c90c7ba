//! Tests of the SQL store as a whole: connection settings, URLs, placeholders and the
//! full-text index; the deferred tag counts (`deferred_tags`, and `deferred_tags_pg` on
//! PostgreSQL) and upgrades of older SQLite databases (`upgrade`) in their own files.

mod deferred_tags;
mod deferred_tags_pg;
mod upgrade;

use sqlx::Row;

use super::*;

async fn pragma(pool: &AnyPool, name: &str) -> String {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
        .fetch_one(pool)
        .await
        .unwrap();
    match row.try_get::<String, _>(0) {
        Ok(s) => s,
        Err(_) => row.try_get::<i64, _>(0).unwrap().to_string(),
    }
}

#[tokio::test]
async fn sqlite_connections_are_durable_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&format!("sqlite://{}/a/b/s.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(store.backend, Backend::Sqlite);
    for pool in [&store.writer, &store.reader] {
        assert_eq!(pragma(pool, "journal_mode").await, "wal");
        // 2 = FULL: a committed inbox write survives power loss.
        assert_eq!(pragma(pool, "synchronous").await, "2");
        assert_eq!(pragma(pool, "foreign_keys").await, "1");
        assert_eq!(pragma(pool, "busy_timeout").await, "5000");
    }
}

#[test]
fn placeholder_lists_number_from_the_start() {
    assert_eq!(placeholders(3, 3), "$3, $4, $5");
    assert_eq!(placeholders(1, 0), "");
    assert_eq!(value_rows(2, 2, 2), "($2, $3), ($4, $5)");
    assert_eq!(value_rows(9, 1, 3), "($9, $10, $11)");
    assert_eq!(placeholders(99, 2), "$99, $100");
    assert_eq!(placeholders(65_535, 1), "$65535");
}

#[tokio::test]
async fn bad_urls_are_rejected() {
    assert!(matches!(
        open("mysql://localhost/x").await,
        Err(StoreError::BadUrl(_))
    ));
    assert!(matches!(open("").await, Err(StoreError::BadUrl(_))));
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = open("sqlite::memory:").await.unwrap();
    let created = store.create_org("o", "O").await.unwrap();
    assert_eq!(store.list_orgs().await.unwrap(), vec![created]);
}

/// The FTS index is maintained by triggers; check it stays consistent with `issues`
/// through inserts, retitles, direct deletes and cascades from a project delete.
#[tokio::test]
async fn sqlite_fts_index_follows_issues() {
    use crate::model::*;
    let store = open("sqlite::memory:").await.unwrap();
    let (_, project, _) = store.bootstrap_default().await.unwrap().unwrap();
    let other = store
        .create_project(project.org_id, "other", "Other", None)
        .await
        .unwrap();
    let event = |pid: i64, id: &str, title: &str| NewEvent {
        project_id: pid,
        event_id: id.into(),
        timestamp: 1,
        received_at: 1,
        level: "error".into(),
        platform: "python".into(),
        event_type: "error".into(),
        release: None,
        environment: None,
        title: title.into(),
        culprit: "c".into(),
        message: "m".into(),
        metadata: serde_json::json!({}),
        tags: vec![],
        user_key: None,
        trace_id: None,
        unhandled: false,
        grouping_config: "g".into(),
        hashes: vec![format!("{pid}-{title}")],
        payload: vec![],
    };
    let entry = InboxEntry {
        project_id: project.id,
        kind: InboxKind::Store,
        received_at: 1,
        client_ip: None,
        user_agent: None,
        body: vec![],
    };
    store.enqueue(vec![entry]).await.unwrap();
    let mut retitled = event(project.id, "3", "First");
    retitled.timestamp = 2;
    let batch = Batch {
        events: vec![
            event(project.id, "1", "First"),
            event(project.id, "2", "Second"),
            retitled,
            event(other.id, "4", "Third"),
        ],
        ..Batch::default()
    };
    let report = store.process_inbox(10, &|_| batch.clone()).await.unwrap();
    store
        .delete_issues(&[report.events[1].issue_id.unwrap()])
        .await
        .unwrap();
    store.delete_project(other.id).await.unwrap();

    let check = "INSERT INTO issues_fts (issues_fts, rank) VALUES ('integrity-check', 1)";
    sqlx::query(check).execute(&store.writer).await.unwrap();

    // The check does catch drift: delete behind the trigger's back.
    sqlx::query("DROP TRIGGER issues_fts_delete")
        .execute(&store.writer)
        .await
        .unwrap();
    sqlx::query("DELETE FROM issues")
        .execute(&store.writer)
        .await
        .unwrap();
    assert!(sqlx::query(check).execute(&store.writer).await.is_err());
}

/// A store opened with a clock stamps its rows with that clock, so a test can set time.
#[tokio::test]
async fn rows_are_stamped_by_the_clock_the_store_was_opened_with() {
    let clock = std::sync::Arc::new(crate::clock::ManualClock::new(1_000));
    let store = crate::open_with_clock("sqlite::memory:", clock.clone())
        .await
        .unwrap();
    let (org, project, _) = store.bootstrap_default().await.unwrap().unwrap();
    assert_eq!((org.created_at, project.created_at), (1_000, 1_000));
    clock.advance(500);
    assert_eq!(store.clock().now_ms(), 1_500);
    let later = store.create_org("later", "Later").await.unwrap();
    assert_eq!(later.created_at, 1_500);
}
