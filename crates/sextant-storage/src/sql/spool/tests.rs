//! The spool's crash windows, replayed by hand: each test leaves the files the way a crash
//! at one step of `process_spooled` (or an older version) would, reopens the store, and
//! checks that every queued request is processed exactly once.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::model::{Batch, InboxEntry, InboxKind, InboxRow};
use crate::sql::{SqlStore, open};

fn entry(project_id: i64, body: &str) -> InboxEntry {
    InboxEntry {
        project_id,
        kind: InboxKind::Envelope,
        received_at: 1,
        client_ip: None,
        user_agent: None,
        body: body.as_bytes().to_vec(),
    }
}

async fn store(dir: &Path) -> (SqlStore, i64) {
    let store = open(&format!("sqlite://{}/s.db", dir.display()))
        .await
        .unwrap();
    let project = match store.bootstrap_default().await.unwrap() {
        Some((_, project, _)) => project,
        None => store
            .get_project_by_slug("default", "default")
            .await
            .unwrap(),
    };
    (store, project.id)
}

fn spool_file(dir: &Path) -> PathBuf {
    dir.join("s.inbox.db")
}

/// Processes everything queued and returns the bodies handed to processing, in order.
async fn drain(store: &SqlStore) -> Vec<String> {
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |rows: &[InboxRow]| {
        let mut seen = seen.lock().unwrap();
        seen.extend(
            rows.iter()
                .map(|r| String::from_utf8_lossy(&r.entry.body).into_owned()),
        );
        Batch::default()
    };
    while store.process_inbox(2, &record).await.unwrap().rows > 0 {}
    seen.into_inner().unwrap()
}

/// Records spool row `id` as consumed, as a batch transaction does.
fn mark_by_hand(dir: &Path, id: i64) {
    Connection::open(dir.join("s.db"))
        .unwrap()
        .execute("INSERT INTO inbox_done (id) VALUES (?1)", [id])
        .unwrap();
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn queues_in_its_own_file_and_leaves_no_marks() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = store(dir.path()).await;
    let ids = store
        .enqueue(vec![
            entry(project, "a"),
            entry(project, "b"),
            entry(project, "c"),
        ])
        .await
        .unwrap();
    assert_eq!(
        count(&spool_file(dir.path()), "SELECT COUNT(*) FROM inbox"),
        3
    );
    assert_eq!(
        count(&dir.path().join("s.db"), "SELECT COUNT(*) FROM inbox"),
        0
    );
    assert_eq!(store.inbox_depth().await.unwrap(), 3);

    assert_eq!(drain(&store).await, ["a", "b", "c"]);
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    // The last batch's marks wait for the next batch transaction, or the next opening.
    drop(store);
    let (store, project) = self::store(dir.path()).await;
    assert_eq!(
        count(&dir.path().join("s.db"), "SELECT COUNT(*) FROM inbox_done"),
        0
    );
    let next = store.enqueue(vec![entry(project, "d")]).await.unwrap();
    assert!(next[0] > *ids.last().unwrap(), "ids are never reused");
    assert_eq!(drain(&store).await, ["d"]);
}

/// A crash after the batch transaction, before the rows left the spool: the rows are
/// marked done, so they are deleted, not processed again.
#[tokio::test]
async fn marked_rows_are_not_processed_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = store(dir.path()).await;
    let ids = store
        .enqueue(vec![entry(project, "done"), entry(project, "pending")])
        .await
        .unwrap();
    drop(store);
    mark_by_hand(dir.path(), ids[0]);

    let (store, _) = self::store(dir.path()).await;
    assert_eq!(store.inbox_depth().await.unwrap(), 1, "settled on opening");
    assert_eq!(
        count(&dir.path().join("s.db"), "SELECT COUNT(*) FROM inbox_done"),
        0
    );
    assert_eq!(drain(&store).await, ["pending"]);
}

/// A mark that appears while the store is open (the spool deletion failed, or another
/// process consumed the row): the claim drops the row instead of processing it.
#[tokio::test]
async fn a_claim_skips_rows_marked_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = store(dir.path()).await;
    let ids = store
        .enqueue(vec![entry(project, "x"), entry(project, "y")])
        .await
        .unwrap();
    mark_by_hand(dir.path(), ids[1]);
    assert_eq!(drain(&store).await, ["x"]);
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
}

/// A spool file lost or replaced by hand must not hand out a marked id again, or the new
/// request under it would be taken for done.
#[tokio::test]
async fn a_new_spool_starts_above_every_mark() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = store(dir.path()).await;
    drop(store);
    mark_by_hand(dir.path(), 40);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", spool_file(dir.path()).display()));
    }
    let (store, _) = self::store(dir.path()).await;
    let ids = store.enqueue(vec![entry(project, "new")]).await.unwrap();
    assert!(ids[0] > 40, "{ids:?}");
    assert_eq!(drain(&store).await, ["new"]);
}

/// Requests that an earlier version queued in the main file are processed first, once.
#[tokio::test]
async fn rows_left_in_the_main_file_are_processed_first() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = store(dir.path()).await;
    drop(store);
    Connection::open(dir.path().join("s.db"))
        .unwrap()
        .execute(
            "INSERT INTO inbox (project_id, kind, received_at, body) VALUES (?1, 'envelope', 1, ?2)",
            rusqlite::params![project, b"old".to_vec()],
        )
        .unwrap();
    let (store, _) = self::store(dir.path()).await;
    store.enqueue(vec![entry(project, "new")]).await.unwrap();
    assert_eq!(store.inbox_depth().await.unwrap(), 2);
    assert_eq!(drain(&store).await, ["old", "new"]);
    assert_eq!(
        count(&dir.path().join("s.db"), "SELECT COUNT(*) FROM inbox"),
        0
    );
}
