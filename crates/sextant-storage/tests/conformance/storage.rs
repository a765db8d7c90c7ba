//! Event reads and paging, attachments, raw items and outcome totals.

use sextant_storage::*;

use crate::harness::*;

#[store_test]
pub async fn issue_events_paging(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let mut events = Vec::new();
    for n in 1..=9u64 {
        // Pairs share a timestamp so paging must break ties by id.
        let mut e = event(p.id, &eid(n), "h", t + (n / 2) as i64 * 1000);
        e.release = Some(format!("1.{n}"));
        e.environment = (n % 2 == 0).then(|| "staging".to_string());
        e.message = format!("message {n}");
        e.trace_id = Some(format!("{n:032x}"));
        e.tags = vec![
            ("n".into(), n.to_string()),
            ("level".into(), "error".into()),
        ];
        e.payload = vec![n as u8; 3];
        events.push(e);
    }
    let originals = events.clone();
    let r = ingest_events(&store, p.id, events).await;
    let issue = r[0].issue_id.unwrap();

    // Every stored field comes back as written.
    let got = store.get_event(p.id, &eid(4)).await.unwrap();
    let want = &originals[3];
    assert_eq!(got.project_id, p.id);
    assert_eq!(got.event_id, want.event_id);
    assert_eq!(got.issue_id, Some(issue));
    assert_eq!(
        (got.timestamp, got.received_at),
        (want.timestamp, want.received_at)
    );
    assert_eq!(
        (got.level.as_str(), got.platform.as_str()),
        (want.level.as_str(), want.platform.as_str())
    );
    assert_eq!(got.event_type, want.event_type);
    assert_eq!(
        (got.release.clone(), got.environment.clone()),
        (want.release.clone(), want.environment.clone())
    );
    assert_eq!(
        (got.title.as_str(), got.culprit.as_str()),
        (want.title.as_str(), want.culprit.as_str())
    );
    assert_eq!(got.message, want.message);
    assert_eq!(got.tags, want.tags);
    assert_eq!(got.trace_id, want.trace_id);
    assert_eq!(got.payload, want.payload);
    assert_eq!(
        store.get_event(p.id, &eid(5)).await.unwrap().environment,
        None
    );
    assert!(matches!(
        store.get_event(p.id, &eid(99)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_event(p.id + 1, &eid(4)).await,
        Err(StoreError::NotFound)
    ));

    let latest = store.latest_issue_event(issue).await.unwrap();
    let oldest = store.oldest_issue_event(issue).await.unwrap();
    assert_eq!((latest.event_id, oldest.event_id), (eid(9), eid(1)));
    assert!(matches!(
        store.latest_issue_event(999_999).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.oldest_issue_event(999_999).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.count_events(p.id).await.unwrap(), 9);
    assert_eq!(store.count_events(p.id + 1).await.unwrap(), 0);

    let all = store.list_issue_events(issue, None, 100).await.unwrap();
    assert!(all.next.is_none());
    let expected: Vec<(i64, i64)> = all.items.iter().map(|e| (e.timestamp, e.id)).collect();
    assert_eq!(expected.len(), 9);
    assert!(expected.windows(2).all(|w| w[0] > w[1]), "newest first");

    for limit in [1u32, 2, 4, 9] {
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.list_issue_events(issue, cursor, limit).await.unwrap();
            got.extend(page.items.iter().map(|e| (e.timestamp, e.id)));
            match page.next {
                Some(next) => {
                    assert_eq!(next.sort_value, page.items.last().unwrap().timestamp);
                    cursor = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(got, expected, "limit {limit}");
    }
}

#[store_test]
pub async fn attachments_raw_items_outcomes(store: Shared) {
    let p = project(&store).await;
    let other = store
        .create_project(p.org_id, "other", "Other", None)
        .await
        .unwrap();
    let t = now();
    let hour = t - t % HOUR;
    let attachment = |project_id: i64, name: &str, data: &[u8]| NewAttachment {
        project_id,
        event_id: eid(1),
        name: name.into(),
        content_type: "application/octet-stream".into(),
        attachment_type: "event.minidump".into(),
        size: data.len() as i64,
        data: data.to_vec(),
    };
    let raw = |project_id: i64, item_type: &str| NewRawItem {
        project_id,
        item_type: item_type.into(),
        event_id: Some(eid(1)),
        received_at: t,
        payload: vec![1, 2, 3],
    };
    let outcome = |bucket: i64, outcome: &str, reason: &str, quantity: i64| OutcomeDelta {
        project_id: p.id,
        bucket,
        outcome: outcome.into(),
        category: "error".into(),
        reason: reason.into(),
        quantity,
    };

    // Attachments may arrive before (or without) their event.
    let batch = Batch {
        events: vec![],
        attachments: vec![
            attachment(p.id, "dump.dmp", &[0, 159, 146, 150]),
            attachment(p.id, "log.txt", b"hello"),
        ],
        raw_items: vec![
            raw(p.id, "session"),
            raw(p.id, "session"),
            raw(p.id, "transaction"),
        ],
        outcomes: vec![
            outcome(hour, "accepted", "", 2),
            outcome(hour, "accepted", "", 3),
            outcome(hour - HOUR, "accepted", "", 4),
            outcome(hour, "filtered", "browser-extensions", 1),
        ],
        ..Batch::default()
    };
    ingest(&store, p.id, batch).await;
    let more = Batch {
        outcomes: vec![outcome(hour, "filtered", "browser-extensions", 5)],
        attachments: vec![attachment(other.id, "elsewhere.txt", b"x")],
        ..Batch::default()
    };
    ingest(&store, p.id, more).await;

    let listed = store.list_attachments(p.id, &eid(1)).await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        vec!["dump.dmp", "log.txt"]
    );
    assert_eq!(listed[0].size, 4);
    assert_eq!(listed[0].attachment_type, "event.minidump");
    assert!(listed[0].created_at > 0);
    let (record, data) = store.get_attachment(p.id, listed[1].id).await.unwrap();
    assert_eq!((record, data), (listed[1].clone(), b"hello".to_vec()));
    let (_, dump) = store.get_attachment(p.id, listed[0].id).await.unwrap();
    assert_eq!(dump, vec![0, 159, 146, 150]);
    // Scoped by project: another project's id reads as absent.
    assert!(matches!(
        store.get_attachment(other.id, listed[0].id).await,
        Err(StoreError::NotFound)
    ));
    let theirs = store.list_attachments(other.id, &eid(1)).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert!(matches!(
        store.get_attachment(p.id, theirs[0].id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .list_attachments(p.id, &eid(2))
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.count_raw_items(p.id, "session").await.unwrap(), 2);
    assert_eq!(store.count_raw_items(p.id, "transaction").await.unwrap(), 1);
    assert_eq!(store.count_raw_items(p.id, "span").await.unwrap(), 0);
    assert_eq!(store.count_raw_items(other.id, "session").await.unwrap(), 0);

    let totals = store.outcome_totals(p.id).await.unwrap();
    let expected = vec![
        outcome(0, "accepted", "", 9),
        outcome(0, "filtered", "browser-extensions", 6),
    ];
    assert_eq!(totals, expected);
    assert!(store.outcome_totals(other.id).await.unwrap().is_empty());
}
