//! Moving an earlier version's spool file into the main file's inbox: every queued
//! request is processed exactly once, whichever step a crash interrupted.

use std::path::Path;

use rusqlite::Connection;

use crate::model::{Batch, InboxRow};
use crate::sql::{SqlStore, open};

/// The earlier version's spool schema.
const SPOOL_SCHEMA: &str = "PRAGMA journal_mode = WAL;
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    body         BLOB    NOT NULL
);";

async fn open_store(dir: &Path) -> (SqlStore, i64) {
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

/// Leaves a spool file as the earlier version did, with these (project, body) rows.
fn old_spool(dir: &Path, rows: &[(i64, &str)]) {
    let conn = Connection::open(dir.join("s.inbox.db")).unwrap();
    conn.execute_batch(SPOOL_SCHEMA).unwrap();
    for (project, body) in rows {
        conn.execute(
            "INSERT INTO inbox (project_id, kind, received_at, body) VALUES (?1, 'envelope', 1, ?2)",
            rusqlite::params![project, body.as_bytes()],
        )
        .unwrap();
    }
}

fn mark_by_hand(dir: &Path, id: i64) {
    Connection::open(dir.join("s.db"))
        .unwrap()
        .execute("INSERT INTO inbox_done (id) VALUES (?1)", [id])
        .unwrap();
}

/// Processes everything queued; returns the bodies handed to processing, in order.
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

#[tokio::test]
async fn queued_requests_move_over_before_new_ones_and_the_spool_goes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = open_store(dir.path()).await;
    drop(store);
    old_spool(
        dir.path(),
        &[(project, "a"), (project, "b"), (project, "c")],
    );

    let (store, project) = open_store(dir.path()).await;
    let entry = crate::model::InboxEntry {
        project_id: project,
        kind: crate::model::InboxKind::Envelope,
        received_at: 2,
        client_ip: None,
        user_agent: None,
        body: b"new".to_vec(),
    };
    store.enqueue(vec![entry]).await.unwrap();
    assert_eq!(store.inbox_depth().await.unwrap(), 4);
    assert_eq!(drain(&store).await, ["a", "b", "c", "new"]);
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    assert!(!dir.path().join("s.inbox.db").exists());
    assert!(!dir.path().join("s.inbox.db-wal").exists());
}

#[tokio::test]
async fn rows_marked_by_an_interrupted_round_are_not_processed_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = open_store(dir.path()).await;
    drop(store);
    // Row 1 was consumed (its mark written) before the crash; row 2 was not.
    old_spool(dir.path(), &[(project, "done"), (project, "waiting")]);
    mark_by_hand(dir.path(), 1);

    let (store, _) = open_store(dir.path()).await;
    assert_eq!(drain(&store).await, ["waiting"]);
    drop(store);
    // Nothing is left for a second open to move or process.
    let (store, _) = open_store(dir.path()).await;
    assert!(drain(&store).await.is_empty());
}

#[tokio::test]
async fn a_move_interrupted_after_its_commit_is_finished_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = open_store(dir.path()).await;
    drop(store);
    old_spool(dir.path(), &[(project, "moved"), (project, "not yet")]);
    // The main-file transaction of a move ran for row 1, then the process died.
    let main = Connection::open(dir.path().join("s.db")).unwrap();
    main.execute(
        "INSERT INTO inbox (project_id, kind, received_at, body) VALUES (?1, 'envelope', 1, 'moved')",
        [project],
    )
    .unwrap();
    main.execute("INSERT INTO inbox_done (id) VALUES (1)", [])
        .unwrap();
    drop(main);

    let (store, _) = open_store(dir.path()).await;
    assert_eq!(drain(&store).await, ["moved", "not yet"]);
}

#[tokio::test]
async fn requests_of_deleted_projects_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, project) = open_store(dir.path()).await;
    drop(store);
    old_spool(dir.path(), &[(project + 100, "orphan"), (project, "kept")]);

    let (store, _) = open_store(dir.path()).await;
    assert_eq!(drain(&store).await, ["kept"]);
}
