//! Requests that an earlier version queued in its spool file (`<name>.inbox.db`, an
//! SQLite file beside the database) are moved into the main file's `inbox` table when the
//! journal is first opened; processing takes them from there before the journal's.
//!
//! The move is exactly-once across the two files, which SQLite cannot commit together:
//! one main-file transaction inserts the rows into `inbox` and records their spool ids in
//! `inbox_done`; the rows are then deleted from the spool and the marks removed. A row
//! with a mark has moved, whatever state the spool is in, so a crash between the steps
//! is finished by the next open. (The earlier version used the same marks for rows it had
//! processed, so its own interrupted rounds are finished the same way.)
//!
//! That version takes no journal lock, so it must have stopped before this one starts on
//! the same directory: the move cannot tell that it is still writing to its spool.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::exec::{Exec, LiteConn, Val, run_ready};
use super::inbox::{delete_ids, entry_values, insert_sql};
use super::lite::{self, Lite};
use super::rows::{self, INBOX_COLUMNS};
use super::{ID_CHUNK, value_rows};
use crate::Result;
use crate::model::InboxRow;

/// Rows moved per main-file transaction.
const MOVE_ROWS: u32 = 256;

/// The spool file an earlier version kept beside the database file `db`.
fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_stem().unwrap_or_default().to_os_string();
    name.push(".inbox.db");
    db.with_file_name(name)
}

/// Moves every request queued in the spool beside `lite`'s database file (if there is
/// one) into the main file's inbox, then deletes the spool. Returns how many requests
/// moved.
pub(super) async fn migrate(lite: &Lite) -> Result<usize> {
    let path = path_for(lite.path());
    if !path.exists() {
        return Ok(0);
    }
    let spool = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    spool.execute_batch(super::SQLITE_PRAGMAS)?;
    let spool = std::sync::Mutex::new(spool);
    let mut moved = 0;
    loop {
        // Rows marked in the main file have moved (or were processed): drop them.
        let marks = lite.read(|conn| {
            let mut stmt = conn.prepare("SELECT id FROM inbox_done ORDER BY id")?;
            let ids = stmt.query_map([], |r| r.get(0))?;
            Ok(ids.collect::<rusqlite::Result<Vec<i64>>>()?)
        })?;
        if !marks.is_empty() {
            {
                let mut spool = spool.lock().expect("spool lock");
                lite::transaction(&mut spool, |conn| {
                    run_ready(delete_ids(&mut LiteConn(conn), "inbox", &marks)).map(|_| ())
                })?;
            }
            lite.write(move |conn| {
                lite::transaction(conn, |conn| {
                    run_ready(delete_ids(&mut LiteConn(conn), "inbox_done", &marks)).map(|_| ())
                })
            })
            .await?;
        }
        let rows = {
            let mut spool = spool.lock().expect("spool lock");
            let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox ORDER BY id LIMIT $1");
            let fetched =
                run_ready(LiteConn(&mut spool).fetch(&sql, &[Val::Int(i64::from(MOVE_ROWS))]))?;
            fetched
                .iter()
                .map(rows::inbox_row)
                .collect::<Result<Vec<InboxRow>>>()?
        };
        if rows.is_empty() {
            break;
        }
        moved += rows.len();
        lite.write(move |conn| lite::transaction(conn, |conn| move_rows(conn, &rows)))
            .await?;
    }
    drop(spool);
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(crate::StoreError::Backend(format!(
                    "cannot remove the old spool {}: {err}",
                    path.display()
                )));
            }
        }
    }
    if moved > 0 {
        tracing::info!(
            requests = moved,
            "moved queued requests from the old spool file into the database"
        );
    }
    Ok(moved)
}

/// Inserts the rows into the main file's inbox (those of projects that still exist) and
/// marks all of them moved, in the caller's transaction.
fn move_rows(conn: &mut Connection, rows: &[InboxRow]) -> Result<()> {
    let live: Vec<&InboxRow> = {
        let mut stmt = conn.prepare_cached("SELECT 1 FROM projects WHERE id = ?1")?;
        let mut live = Vec::with_capacity(rows.len());
        for row in rows {
            if stmt.exists([row.entry.project_id])? {
                live.push(row);
            }
        }
        live
    };
    let mut conn = LiteConn(conn);
    for chunk in live.chunks(64) {
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|row| entry_values(&row.entry))
            .collect();
        run_ready(conn.execute(&insert_sql(chunk.len()), &args))?;
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "INSERT INTO inbox_done (id) VALUES {}",
            value_rows(1, chunk.len(), 1)
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        run_ready(conn.execute(&sql, &args))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
