//! The inbox round trip, exactly-once writes, grouping and per-issue counters.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use sextant_storage::*;

use crate::harness::*;

#[store_test]
pub async fn inbox_roundtrip_and_exactly_once(store: Shared) {
    let p = project(&store).await;
    let empty = store
        .process_inbox(10, &|_: &[InboxRow]| panic!("not called when empty"))
        .await
        .unwrap();
    assert_eq!(empty, ProcessReport::default());

    let entries: Vec<InboxEntry> = (0..3u8)
        .map(|i| InboxEntry {
            project_id: p.id,
            kind: if i == 0 {
                InboxKind::Store
            } else {
                InboxKind::Envelope
            },
            received_at: 1000 + i64::from(i),
            client_ip: (i == 1).then(|| "10.0.0.1".to_string()),
            user_agent: None,
            body: vec![i, 0, 255],
        })
        .collect();
    let ids = store.enqueue(entries.clone()).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(store.inbox_depth().await.unwrap(), 3);

    // Oldest first, `limit` at a time, exactly as enqueued.
    let seen = Mutex::new(Vec::new());
    let first = store
        .process_inbox(2, &|rows: &[InboxRow]| {
            seen.lock().unwrap().extend(rows.iter().cloned());
            Batch {
                events: vec![event(p.id, &eid(1), "h1", 5000)],
                ..Batch::default()
            }
        })
        .await
        .unwrap();
    assert_eq!(first.rows, 2);
    assert_eq!(first.events.len(), 1);
    assert!(first.events[0].new_issue && !first.events[0].duplicate);
    let rows = seen.lock().unwrap().clone();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    assert_eq!(rows[0].entry, entries[0]);
    assert_eq!(rows[1].entry, entries[1]);

    let last_row = |rows: &[InboxRow]| {
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].entry, entries[2]);
        Batch::default()
    };
    assert_eq!(store.process_inbox(10, &last_row).await.unwrap().rows, 1);
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    // Processed rows are gone: nothing is handed out twice.
    let again = store
        .process_inbox(10, &|_: &[InboxRow]| panic!("rows were already consumed"))
        .await;
    assert_eq!(again.unwrap().rows, 0);
    assert_eq!(store.count_events(p.id).await.unwrap(), 1);

    // An enqueue for a missing project is refused rather than stored.
    let orphan = InboxEntry {
        project_id: 9999,
        ..entries[0].clone()
    };
    assert!(store.enqueue(vec![orphan]).await.is_err());
    assert_eq!(store.enqueue(vec![]).await.unwrap(), Vec::<i64>::new());
}

#[store_test]
pub async fn replayed_event_is_duplicate(store: Shared) {
    let p = project(&store).await;
    let mut e = event(p.id, &eid(7), "h", now());
    e.user_key = Some("id:1".into());
    let first = ingest_events(&store, p.id, vec![e.clone()]).await;
    let issue_id = first[0].issue_id.unwrap();

    // The same event in a later batch (and twice within one) changes nothing.
    let mut changed = e.clone();
    changed.user_key = Some("id:2".into());
    changed.title = "Changed".into();
    let replay = ingest_events(&store, p.id, vec![e.clone(), changed]).await;
    assert_eq!(replay.len(), 2);
    for r in &replay {
        assert!(r.duplicate);
        assert_eq!(
            (r.issue_id, r.new_issue, r.regression),
            (None, false, false)
        );
        assert_eq!(r.event_id, eid(7));
    }
    let issue = store.get_issue(issue_id).await.unwrap();
    assert_eq!((issue.times_seen, issue.user_count), (1, 1));
    assert_eq!(issue.title, e.title);
    assert_eq!(store.count_events(p.id).await.unwrap(), 1);
    let tags = store.issue_tag_values(issue_id, "level", 10).await.unwrap();
    assert_eq!(tags[0].count, 1);

    // The same event id in another project is a different event.
    let other = store
        .create_project(p.org_id, "other", "Other", None)
        .await
        .unwrap();
    let there = ingest_events(&store, other.id, vec![event(other.id, &eid(7), "h", now())]).await;
    assert!(!there[0].duplicate && there[0].new_issue);
}

#[store_test]
pub async fn grouping_by_shared_hashes(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let a = event(p.id, &eid(1), "primary-a", t);
    let mut b = event(p.id, &eid(2), "primary-b", t + 1);
    // b's secondary hash is a's primary: b joins a's issue and brings its own hash along.
    b.hashes.push("primary-a".into());
    let c = event(p.id, &eid(3), "primary-b", t + 2);
    let mut d = event(p.id, &eid(4), "unrelated", t + 3);
    d.hashes.push("other-secondary".into());

    let r = ingest_events(&store, p.id, vec![a, b, c, d]).await;
    let issue = r[0].issue_id.unwrap();
    assert!(r[0].new_issue);
    assert_eq!((r[1].issue_id, r[1].new_issue), (Some(issue), false));
    assert_eq!(
        (r[2].issue_id, r[2].new_issue),
        (Some(issue), false),
        "joined via the adopted hash"
    );
    assert!(r[3].new_issue && r[3].issue_id != Some(issue));

    let grouped = store.get_issue(issue).await.unwrap();
    assert_eq!(grouped.times_seen, 3);
    assert_eq!(grouped.primary_hash, "primary-a");
    let d_issue = store.get_issue(r[3].issue_id.unwrap()).await.unwrap();
    assert_eq!(d_issue.primary_hash, "unrelated");

    // First matching hash (in the event's order) wins when hashes point at two issues.
    let mut e = event(p.id, &eid(5), "other-secondary", t + 4);
    e.hashes.push("primary-a".into());
    let r = ingest_events(&store, p.id, vec![e]).await;
    assert_eq!(r[0].issue_id, Some(d_issue.id));
    assert_eq!(
        store.get_event(p.id, &eid(5)).await.unwrap().issue_id,
        Some(d_issue.id)
    );
}

#[store_test]
pub async fn user_and_tag_counts(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let mk = |n: u64, user: Option<&str>, browser: &str| {
        let mut e = event(p.id, &eid(n), "h", t + n as i64);
        e.user_key = user.map(str::to_string);
        e.tags = vec![
            ("browser".into(), browser.into()),
            ("level".into(), "error".into()),
            // A repeated pair counts once per event.
            ("browser".into(), browser.into()),
        ];
        e
    };
    let events = vec![
        mk(1, Some("id:1"), "Firefox"),
        mk(2, Some("id:2"), "Chrome"),
        mk(3, Some("id:1"), "Chrome"),
        mk(4, None, "Chrome"),
        mk(5, Some("email:a@b.c"), "Safari"),
    ];
    let r = ingest_events(&store, p.id, events).await;
    let issue = store.get_issue(r[0].issue_id.unwrap()).await.unwrap();
    assert_eq!((issue.times_seen, issue.user_count), (5, 3));

    let keys = store.issue_tag_keys(issue.id).await.unwrap();
    assert_eq!(
        keys,
        vec![
            TagKeySummary {
                key: "browser".into(),
                total_values: 5,
                unique_values: 3
            },
            TagKeySummary {
                key: "level".into(),
                total_values: 5,
                unique_values: 1
            },
        ]
    );
    let values = store
        .issue_tag_values(issue.id, "browser", 10)
        .await
        .unwrap();
    let summary: Vec<(&str, i64)> = values.iter().map(|v| (v.value.as_str(), v.count)).collect();
    // Most frequent first, ties by value.
    assert_eq!(summary, vec![("Chrome", 3), ("Firefox", 1), ("Safari", 1)]);
    assert_eq!((values[0].first_seen, values[0].last_seen), (t + 2, t + 4));
    assert_eq!(
        store
            .issue_tag_values(issue.id, "browser", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .issue_tag_values(issue.id, "missing", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[store_test]
pub async fn issue_follows_latest_event(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let mut first = event(p.id, &eid(1), "h", t);
    first.release = Some("1.0".into());
    first.level = "warning".into();
    let mut newest = event(p.id, &eid(2), "h", t + 10_000);
    newest.title = "Newest title".into();
    newest.culprit = "app.newest".into();
    newest.metadata = serde_json::json!({"type": "Newest"});
    newest.release = Some("2.0".into());
    newest.level = "fatal".into();
    newest.unhandled = true;
    // Arrives last but happened in between: widens nothing, changes no text.
    let mut late = event(p.id, &eid(3), "h", t + 5_000);
    late.title = "Late title".into();
    late.release = Some("1.5".into());
    let mut earliest = event(p.id, &eid(4), "h", t - 10_000);
    earliest.release = Some("0.9".into());

    let r = ingest_events(&store, p.id, vec![first, newest, late, earliest]).await;
    let issue = store.get_issue(r[0].issue_id.unwrap()).await.unwrap();
    assert_eq!(issue.times_seen, 4);
    assert_eq!(
        (issue.first_seen, issue.last_seen),
        (t - 10_000, t + 10_000)
    );
    assert_eq!(issue.title, "Newest title");
    assert_eq!(issue.culprit, "app.newest");
    assert_eq!(issue.metadata, serde_json::json!({"type": "Newest"}));
    assert_eq!(issue.level, "fatal");
    assert!(issue.unhandled, "unhandled is sticky");
    assert_eq!(issue.first_release.as_deref(), Some("0.9"));
    assert_eq!(issue.last_release.as_deref(), Some("2.0"));
    assert_eq!(issue.status, IssueStatus::Unresolved);
    assert_eq!(issue.grouping_config, "newstyle:2023-01-11");
    assert_eq!(issue.event_type, "error");
}

#[store_test]
pub async fn concurrent_enqueue_and_process(store: Shared) {
    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 25;
    let p = project(&store).await;
    let pid = p.id;

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let n = w * 1000 + i;
                enqueue_one(&store, pid, n.to_string().as_bytes()).await;
            }
        }));
    }

    // Two processors at once, as the server runs them.
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut processors = Vec::new();
    for _ in 0..2 {
        let (store, seen, done) = (store.clone(), seen.clone(), done.clone());
        processors.push(tokio::spawn(async move {
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let report = store
                    .process_inbox(7, &|rows: &[InboxRow]| {
                        let mut batch = Batch::default();
                        for row in rows {
                            let n: u64 = std::str::from_utf8(&row.entry.body)
                                .unwrap()
                                .parse()
                                .unwrap();
                            seen.lock().unwrap().push(n);
                            // Each event has its own hash plus one shared by all, so
                            // concurrent transactions race to create the same issue.
                            let mut e = event(pid, &eid(n), &format!("own-{n}"), 1_000 + n as i64);
                            e.hashes.push("shared".into());
                            batch.events.push(e);
                        }
                        batch
                    })
                    .await;
                // Processors of one store never take the same rows (SKIP LOCKED on
                // PostgreSQL, batches handed out in order by the SQLite journal) and take
                // turns writing, so neither a conflict nor a deadlock may surface here.
                let report = report.unwrap_or_else(|e| panic!("process_inbox failed: {e}"));
                if report.rows == 0 {
                    if finished {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for p in processors {
        p.await.unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    let unique: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(
        unique.len() as u64,
        WRITERS * PER_WRITER,
        "every row processed"
    );
    assert_eq!(seen.len(), unique.len(), "no row was handed out twice");
    // Stored once each: the counts below are the exactly-once check.
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    assert_eq!(
        store.count_events(pid).await.unwrap() as u64,
        WRITERS * PER_WRITER
    );
    // All events ended up in one issue, counted once each.
    let page = store
        .list_issues(&IssueQuery {
            project_ids: vec![pid],
            filters: vec![],
            sort: IssueSort::LastSeen,
            cursor: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].times_seen as u64, WRITERS * PER_WRITER);
}
