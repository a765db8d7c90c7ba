//! The journal on its own: appends, reads, segments and what a crash leaves behind.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::reader::Pending;
use super::*;
use crate::model::{InboxEntry, InboxKind};

fn entry(body: &str) -> InboxEntry {
    InboxEntry {
        project_id: 1,
        kind: InboxKind::Envelope,
        received_at: 1,
        client_ip: Some("127.0.0.1".into()),
        user_agent: None,
        body: body.as_bytes().to_vec(),
    }
}

const START: Position = Position {
    segment: 0,
    offset: 0,
    next_seq: 1,
};

fn small(segment_bytes: u64) -> Options {
    Options {
        segment_bytes,
        lock_wait: Duration::ZERO,
    }
}

fn bodies(pending: &Pending) -> Vec<String> {
    pending
        .rows
        .iter()
        .map(|r| String::from_utf8(r.entry.body.clone()).unwrap())
        .collect()
}

async fn append(journal: &Journal, bodies: &[&str]) -> Vec<i64> {
    journal
        .append(bodies.iter().map(|b| entry(b)).collect())
        .await
        .unwrap()
}

/// A journal in a new directory holding `bodies`; the directory goes with the guard.
async fn fresh(bodies: &[&str]) -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j"), START, small(1 << 20)).unwrap();
    append(&journal, bodies).await;
    (dir, journal)
}

/// Commits `batch` in its turn, after which nothing is left to process.
async fn commit_last(journal: &Journal, batch: Pending<'_>) {
    assert!(batch.turn().await);
    batch.commit();
    assert_eq!(journal.depth(), 0);
}

fn segment_files(dir: &Path) -> Vec<u64> {
    segment::list(dir).unwrap()
}

#[tokio::test]
async fn appends_are_read_back_in_order_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let journal = Journal::open(path.clone(), START, small(1 << 20)).unwrap();
    assert_eq!(append(&journal, &["a", "b"]).await, vec![1, 2]);
    assert_eq!(append(&journal, &["c"]).await, vec![3]);
    assert_eq!(journal.depth(), 3);

    let first = journal.read(2).unwrap();
    assert_eq!(bodies(&first), ["a", "b"]);
    assert_eq!(first.rows[0].entry, entry("a"));
    // A batch dropped without its commit is handed out again.
    drop(first);
    let first = journal.read(2).unwrap();
    assert_eq!(bodies(&first), ["a", "b"]);
    let cursor = first.to;
    first.commit();
    assert_eq!(journal.depth(), 1);
    drop(journal);

    let journal = Journal::open(path, cursor, small(1 << 20)).unwrap();
    assert_eq!(journal.depth(), 1);
    let rest = journal.read(10).unwrap();
    assert_eq!(bodies(&rest), ["c"]);
    assert_eq!(rest.rows[0].id, 3);
    assert_eq!(append(&journal, &["d"]).await, vec![4], "numbers follow on");
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_and_appends_follow_the_last_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let journal = Journal::open(path.clone(), START, small(1 << 20)).unwrap();
    append(&journal, &["kept"]).await;
    drop(journal);

    // A crash in the middle of a write: half a record, then nothing.
    let mut torn = Vec::new();
    record::encode(2, &entry("never acknowledged"), &mut torn).unwrap();
    let last = *segment_files(&path).last().unwrap();
    let mut file = OpenOptions::new()
        .append(true)
        .open(segment::path(&path, last))
        .unwrap();
    file.write_all(&torn[..torn.len() / 2]).unwrap();
    drop(file);

    let journal = Journal::open(path, START, small(1 << 20)).unwrap();
    assert_eq!(append(&journal, &["next"]).await, vec![2]);
    assert_eq!(bodies(&journal.read(10).unwrap()), ["kept", "next"]);
}

#[tokio::test]
async fn full_segments_roll_over_and_go_once_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    // Each append fills a segment, so every append after the first starts a new one.
    let journal = Journal::open(path.clone(), START, small(1)).unwrap();
    for body in ["a", "b", "c"] {
        append(&journal, &[body]).await;
    }
    assert_eq!(segment_files(&path), vec![1, 2, 3]);

    let first = journal.read(1).unwrap();
    assert_eq!(bodies(&first), ["a"]);
    // A segment read to its end leaves the position at the start of the next one.
    assert_eq!(first.to.segment, 2);
    assert!(journal.frees_segments(&first.to));
    first.commit();
    journal.release().unwrap();
    assert_eq!(segment_files(&path), vec![2, 3]);

    let second = journal.read(1).unwrap();
    assert_eq!(bodies(&second), ["b"]);
    second.commit();
    let rest = journal.read(10).unwrap();
    assert_eq!(bodies(&rest), ["c"]);
    rest.commit();
    journal.release().unwrap();
    assert_eq!(
        segment_files(&path),
        vec![3],
        "the segment being appended to stays"
    );
    assert_eq!(journal.depth(), 0);
    assert!(journal.read(10).unwrap().rows.is_empty());
}

#[tokio::test]
async fn opening_deletes_segments_a_crash_left_behind_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let journal = Journal::open(path.clone(), START, small(1)).unwrap();
    for body in ["a", "b", "c"] {
        append(&journal, &[body]).await;
    }
    let batch = journal.read(2).unwrap();
    let consumed = batch.to;
    batch.commit();
    // The position was committed, then the process died before deleting anything.
    drop(journal);

    let journal = Journal::open(path.clone(), consumed, small(1)).unwrap();
    // Segment 2 held only record 2, and the cursor is at record 3.
    assert_eq!(segment_files(&path), vec![3]);
    assert_eq!(bodies(&journal.read(10).unwrap()), ["c"]);
}

#[tokio::test]
async fn numbers_never_go_back_even_when_the_files_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let journal = Journal::open(path.clone(), START, small(1 << 20)).unwrap();
    append(&journal, &["a", "b"]).await;
    let batch = journal.read(10).unwrap();
    let consumed = batch.to;
    batch.commit();
    drop(journal);
    std::fs::remove_dir_all(&path).unwrap();

    let journal = Journal::open(path, consumed, small(1 << 20)).unwrap();
    assert_eq!(journal.depth(), 0);
    assert_eq!(append(&journal, &["c"]).await, vec![3]);
    assert_eq!(bodies(&journal.read(10).unwrap()), ["c"]);
}

#[tokio::test]
async fn one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let first = Journal::open(path.clone(), START, small(1 << 20)).unwrap();
    let second = Journal::open(path.clone(), START, small(1 << 20));
    assert!(matches!(second, Err(StoreError::Conflict(_))));
    drop(first);
    assert!(Journal::open(path, START, small(1 << 20)).is_ok());
}

#[tokio::test]
async fn concurrent_appends_get_distinct_numbers_and_all_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let journal =
        std::sync::Arc::new(Journal::open(dir.path().join("j"), START, small(4096)).unwrap());
    let mut tasks = Vec::new();
    for t in 0..8 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..50 {
                ids.extend(append(&journal, &[&format!("{t}-{i}")]).await);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=400).collect::<Vec<i64>>());

    let mut seen = Vec::new();
    loop {
        let pending = journal.read(64).unwrap();
        if pending.rows.is_empty() {
            break;
        }
        seen.extend(pending.rows.iter().map(|r| r.id));
        pending.commit();
        journal.release().unwrap();
    }
    assert_eq!(seen, (1..=400).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_record_larger_than_the_read_window_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j"), START, small(1 << 30)).unwrap();
    let big = "x".repeat(3 << 20);
    append(&journal, &["small", &big, "after"]).await;
    let pending = journal.read(10).unwrap();
    assert_eq!(pending.rows.len(), 3);
    assert_eq!(pending.rows[1].entry.body.len(), big.len());
    assert_eq!(bodies(&pending)[2], "after");
}

#[tokio::test]
async fn another_process_counts_the_backlog_without_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    assert_eq!(depth_of(&path, START).unwrap(), 0, "no journal yet");
    let journal = Journal::open(path.clone(), START, small(1)).unwrap();
    for body in ["a", "b", "c"] {
        append(&journal, &[body]).await;
    }
    let batch = journal.read(1).unwrap();
    let consumed = batch.to;
    batch.commit();
    assert_eq!(depth_of(&path, START).unwrap(), 3);
    assert_eq!(depth_of(&path, consumed).unwrap(), 2);
}

#[tokio::test]
async fn batches_commit_in_the_order_they_were_read() {
    let (_dir, journal) = fresh(&["a", "b", "c", "d"]).await;
    let first = journal.read(2).unwrap();
    let second = journal.read(2).unwrap();
    assert_eq!(
        bodies(&second),
        ["c", "d"],
        "read while the first is in flight"
    );

    // The second waits for the first to commit.
    {
        let mut turn = std::pin::pin!(second.turn());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(
            turn.as_mut().poll(&mut cx).is_pending(),
            "no turn before the first batch commits"
        );
        first.commit();
        assert!(turn.await);
    }
    second.commit();
    assert_eq!(journal.depth(), 0);
}

#[tokio::test]
async fn a_failed_batch_takes_back_the_ones_read_after_it() {
    let (_dir, journal) = fresh(&["a", "b", "c"]).await;
    let first = journal.read(1).unwrap();
    let second = journal.read(2).unwrap();
    drop(first); // its transaction failed
    assert!(!second.turn().await, "the later batch gives up its turn");
    drop(second);

    let again = journal.read(10).unwrap();
    assert_eq!(bodies(&again), ["a", "b", "c"]);
    commit_last(&journal, again).await;
}

#[tokio::test]
async fn a_batch_failing_while_an_earlier_one_commits_does_not_stall_reading() {
    let (_dir, journal) = fresh(&["a", "b", "c", "d"]).await;
    let first = journal.read(2).unwrap();
    assert!(first.turn().await, "the first batch is committing");
    let second = journal.read(2).unwrap();
    drop(second); // failed meanwhile: batches are taken back
    let reread = journal.read(2).unwrap();
    first.commit();
    // Read back before the first committed, it gives up its turn instead of waiting.
    assert!(!reread.turn().await);
    drop(reread);

    let rest = journal.read(10).unwrap();
    assert_eq!(bodies(&rest), ["c", "d"], "nothing committed is read again");
    commit_last(&journal, rest).await;
}

#[tokio::test]
async fn resyncing_reads_on_from_the_position_given() {
    let (_dir, journal) = fresh(&["a", "b", "c"]).await;
    let first = journal.read(1).unwrap();
    let to = first.to;
    drop(first);
    // The database says "a" was consumed (by a commit this journal took as failed).
    journal.resync(to).unwrap();
    let rest = journal.read(10).unwrap();
    assert_eq!(bodies(&rest), ["b", "c"]);
    commit_last(&journal, rest).await;
}

#[tokio::test]
async fn records_are_written_over_zeros_laid_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let journal = Journal::open(path.clone(), START, small(1 << 20)).unwrap();
    append(&journal, &["a", "b", "c"]).await;
    let last = *segment_files(&path).last().unwrap();
    let len = || std::fs::metadata(segment::path(&path, last)).unwrap().len();
    assert_eq!(
        len(),
        1 << 20,
        "zeros up to the segment's size, ahead of the records"
    );
    assert_eq!(bodies(&journal.read(10).unwrap()), ["a", "b", "c"]);
    drop(journal);

    // Reopened, what follows the last record is cut off; the next append lays zeros again.
    let journal = Journal::open(path.clone(), START, small(1 << 20)).unwrap();
    assert!(len() < 1024, "{}", len());
    assert_eq!(append(&journal, &["d"]).await, vec![4]);
    assert_eq!(len(), 1 << 20);
    assert_eq!(bodies(&journal.read(10).unwrap()), ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn zeros_after_a_closed_segment_end_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let journal = Journal::open(path.clone(), START, small(1)).unwrap();
    for body in ["a", "b", "c"] {
        append(&journal, &[body]).await;
    }
    // A closed segment followed by zeros (say, it was closed after a failed append).
    let first = segment::path(&path, segment_files(&path)[0]);
    let file = OpenOptions::new().append(true).open(first).unwrap();
    file.set_len(file.metadata().unwrap().len() + 4096).unwrap();
    assert_eq!(bodies(&journal.read(10).unwrap()), ["a", "b", "c"]);
    assert_eq!(depth_of(&path, START).unwrap(), 3);
}
