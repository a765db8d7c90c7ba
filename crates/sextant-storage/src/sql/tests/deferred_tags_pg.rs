//! Tag value counts that PostgreSQL nodes defer past their batches: every batch counted
//! once whichever node flushes, nodes flushing at once, a node that stopped without
//! flushing, and events deleted before their flush. Each test gets a fresh database on
//! the server named by `SEXTANT_TEST_PG_URL`; unset, these tests pass without running.

use std::time::Duration;

use sextant_testkit::TestDb;

use super::deferred_tags::{browser_counts, event, ingest, project_id, scalar, stored_counts};
use crate::model::*;
use crate::sql::{SqlStore, open};

/// A database of its own on the PostgreSQL server, dropped with it.
struct Database(TestDb);

impl Database {
    /// `None` when `SEXTANT_TEST_PG_URL` is unset: the test then passes without running.
    fn create() -> Option<Database> {
        TestDb::postgres().map(Database)
    }

    fn url(&self) -> &str {
        self.0.url.as_deref().expect("a PostgreSQL database")
    }

    /// A node: a store on this database.
    async fn node(&self) -> SqlStore {
        open(self.url()).await.unwrap()
    }
}

async fn pending(store: &SqlStore) -> Option<i64> {
    scalar(store, "SELECT COUNT(*) FROM tag_counts_pending").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_is_counted_once_whichever_node_flushes() {
    let Some(db) = Database::create() else {
        return;
    };
    let (a, b) = (db.node().await, db.node().await);
    let p = project_id(&a).await;
    let issue = ingest(
        &a,
        p,
        vec![event(p, 1, "h", "Firefox"), event(p, 2, "h", "Chrome")],
    )
    .await[0];
    ingest(&b, p, vec![event(p, 3, "h", "Chrome")]).await;
    assert_eq!(pending(&a).await, Some(2), "one record per batch");
    assert_eq!(stored_counts(&a).await, None);

    // B's read counts A's batch too, and a read on A afterwards finds nothing left.
    let expected = [("Chrome".to_string(), 2), ("Firefox".to_string(), 1)];
    assert_eq!(browser_counts(&b, issue).await, expected);
    assert_eq!(pending(&a).await, Some(0));
    assert_eq!(browser_counts(&a, issue).await, expected);
    // Three events, two tags each.
    assert_eq!(stored_counts(&a).await, Some(6));

    // Both nodes flush at once: one counts the records, the other finds them gone.
    ingest(&a, p, vec![event(p, 4, "h", "Safari")]).await;
    ingest(&b, p, vec![event(p, 5, "h", "Safari")]).await;
    let (ra, rb) = tokio::join!(a.settle_tag_counts(), b.settle_tag_counts());
    ra.unwrap();
    rb.unwrap();
    assert_eq!(pending(&a).await, Some(0));
    assert_eq!(stored_counts(&a).await, Some(10));
    assert_eq!(
        browser_counts(&a, issue).await,
        [
            ("Chrome".to_string(), 2),
            ("Safari".to_string(), 2),
            ("Firefox".to_string(), 1)
        ]
    );

    drop((a, b));
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_counts_what_a_stopped_one_deferred() {
    let Some(db) = Database::create() else {
        return;
    };
    let a = db.node().await;
    let p = project_id(&a).await;
    ingest(&a, p, vec![event(p, 1, "h", "Firefox")]).await;
    ingest(&a, p, vec![event(p, 2, "h", "Firefox")]).await;
    // Stopped without a flush, as by a crash.
    drop(a);

    // A node that starts counts as waiting from then on: its idle rounds flush once that
    // has lasted long enough, with no batch or read of its own.
    let c = open(db.url()).await.unwrap();
    let handle = tokio::runtime::Handle::current();
    let flushed = tokio::task::block_in_place(|| {
        sextant_testkit::wait_until(Duration::from_secs(10), || {
            handle.block_on(async {
                let idle = c
                    .process_inbox(10, &|_: &[InboxRow]| panic!("nothing is queued"))
                    .await
                    .unwrap();
                assert_eq!(idle.rows, 0);
                pending(&c).await == Some(0)
            })
        })
    });
    assert!(flushed, "the stopped node's counts were never flushed");
    assert_eq!(stored_counts(&c).await, Some(4));

    drop(c);
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_deleted_before_their_flush_are_not_counted() {
    let Some(db) = Database::create() else {
        return;
    };
    let a = db.node().await;
    let p = project_id(&a).await;
    let gone = ingest(&a, p, vec![event(p, 1, "a", "Firefox")]).await[0];
    let kept = ingest(&a, p, vec![event(p, 2, "b", "Chrome")]).await[0];
    a.delete_issues(&[gone]).await.unwrap();

    assert_eq!(browser_counts(&a, kept).await, [("Chrome".to_string(), 1)]);
    assert_eq!(pending(&a).await, Some(0));
    assert_eq!(stored_counts(&a).await, Some(2));

    drop(a);
    drop(db);
}
