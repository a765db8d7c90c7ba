//! Issue status changes and how arriving events reopen (or do not reopen) issues.

use sextant_storage::*;

use crate::harness::*;

fn with_release(mut e: NewEvent, release: Option<&str>, at: i64) -> NewEvent {
    e.release = release.map(str::to_string);
    e.timestamp = at;
    e.received_at = at;
    e
}

async fn set_status(store: &Shared, id: i64, status: IssueStatus) -> Issue {
    let mut updated = store
        .update_issues(
            &[id],
            &IssueUpdate {
                status: Some(status),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.len(), 1);
    updated.remove(0)
}

#[store_test]
pub async fn regression_on_resolved(store: Shared) {
    let p = project(&store).await;
    let t = now() - HOUR;
    let r = ingest_events(
        &store,
        p.id,
        vec![with_release(event(p.id, &eid(1), "h", t), Some("1.0"), t)],
    )
    .await;
    let id = r[0].issue_id.unwrap();

    let before = now();
    let resolved = set_status(&store, id, IssueStatus::Resolved).await;
    assert_eq!(resolved.status, IssueStatus::Resolved);
    assert!(resolved.resolved_at.unwrap() >= before);
    assert!(!resolved.is_regression);

    let back = t + 1000;
    let r = ingest_events(
        &store,
        p.id,
        vec![with_release(
            event(p.id, &eid(2), "h", back),
            Some("1.1"),
            back,
        )],
    )
    .await;
    assert!(r[0].regression);
    assert_eq!(r[0].issue_id, Some(id));
    let issue = store.get_issue(id).await.unwrap();
    assert_eq!(issue.status, IssueStatus::Unresolved);
    assert!(issue.is_regression);
    assert_eq!(issue.regressed_in_release.as_deref(), Some("1.1"));
    assert_eq!(issue.regressed_at, Some(back));
    assert_eq!(issue.resolved_at, None);
    assert_eq!(issue.times_seen, 2);

    // Further events on the now-unresolved issue are not regressions.
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(3), "h", back + 1)]).await;
    assert!(!r[0].regression);
}

#[store_test]
pub async fn resolved_in_next_release(store: Shared) {
    let p = project(&store).await;
    let t = now() - HOUR;
    let x = |n: u64, release: Option<&str>, at: i64| {
        with_release(event(p.id, &eid(n), "x", at), release, at)
    };
    let y = |n: u64, release: Option<&str>, at: i64| {
        with_release(event(p.id, &eid(n), "y", at), release, at)
    };

    // Release 0.9 is seen first (on another issue), then 1.0 on ours.
    let r = ingest_events(
        &store,
        p.id,
        vec![y(1, Some("0.9"), t - 1000), x(2, Some("1.0"), t)],
    )
    .await;
    let (issue_x, issue_y) = (r[1].issue_id.unwrap(), r[0].issue_id.unwrap());

    let resolved = set_status(&store, issue_x, IssueStatus::ResolvedInNextRelease).await;
    assert_eq!(resolved.status, IssueStatus::ResolvedInNextRelease);
    assert_eq!(
        resolved.resolved_in_release.as_deref(),
        Some("1.0"),
        "the project's newest release"
    );
    let resolved_at = resolved.resolved_at.unwrap();

    // The resolving release itself, an older release, and no release: all still count
    // but none reopens the issue.
    let later = resolved_at + 1000;
    let r = ingest_events(
        &store,
        p.id,
        vec![
            x(3, Some("1.0"), later),
            x(4, Some("0.9"), later + 1),
            x(5, None, later + 2),
        ],
    )
    .await;
    assert!(
        r.iter()
            .all(|w| !w.regression && w.issue_id == Some(issue_x))
    );
    let issue = store.get_issue(issue_x).await.unwrap();
    assert_eq!(issue.status, IssueStatus::ResolvedInNextRelease);
    assert_eq!(issue.times_seen, 4);

    // A release never seen before is newer by definition.
    let r = ingest_events(&store, p.id, vec![x(6, Some("2.0"), later + 10)]).await;
    assert!(r[0].regression);
    let issue = store.get_issue(issue_x).await.unwrap();
    assert_eq!(issue.status, IssueStatus::Unresolved);
    assert!(issue.is_regression);
    assert_eq!(issue.regressed_in_release.as_deref(), Some("2.0"));
    assert_eq!(issue.regressed_at, Some(later + 10));
    assert_eq!(issue.resolved_in_release, None);

    // A known release first seen after the resolution also reopens. Resolving now picks
    // 2.0; then 3.0 appears on another issue before reaching ours.
    let resolved = set_status(&store, issue_x, IssueStatus::ResolvedInNextRelease).await;
    assert_eq!(resolved.resolved_in_release.as_deref(), Some("2.0"));
    let after = resolved.resolved_at.unwrap() + 1000;
    let r = ingest_events(&store, p.id, vec![y(7, Some("3.0"), after)]).await;
    assert!(!r[0].regression && r[0].issue_id == Some(issue_y));
    let r = ingest_events(
        &store,
        p.id,
        vec![x(8, Some("2.0"), after + 1), x(9, Some("3.0"), after + 2)],
    )
    .await;
    assert_eq!((r[0].regression, r[1].regression), (false, true));
    let issue = store.get_issue(issue_x).await.unwrap();
    assert_eq!(issue.status, IssueStatus::Unresolved);
    assert_eq!(issue.regressed_in_release.as_deref(), Some("3.0"));
}

#[store_test]
pub async fn ignored_stays_ignored(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(1), "h", t)]).await;
    let id = r[0].issue_id.unwrap();
    assert_eq!(
        set_status(&store, id, IssueStatus::Ignored).await.status,
        IssueStatus::Ignored
    );

    let r = ingest_events(
        &store,
        p.id,
        vec![with_release(
            event(p.id, &eid(2), "h", t + 1),
            Some("9.9"),
            t + 1,
        )],
    )
    .await;
    assert!(!r[0].regression);
    let issue = store.get_issue(id).await.unwrap();
    assert_eq!(
        (issue.status, issue.times_seen, issue.is_regression),
        (IssueStatus::Ignored, 2, false)
    );

    let reopened = set_status(&store, id, IssueStatus::Unresolved).await;
    assert_eq!(
        (reopened.status, reopened.resolved_at),
        (IssueStatus::Unresolved, None)
    );
}

#[store_test]
pub async fn update_and_delete_issues(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let events = (1..=3)
        .map(|n| event(p.id, &eid(n), &format!("h{n}"), t))
        .collect();
    let r = ingest_events(&store, p.id, events).await;
    let ids: Vec<i64> = r.iter().map(|w| w.issue_id.unwrap()).collect();

    let updated = store
        .update_issues(
            &ids[..2],
            &IssueUpdate {
                status: Some(IssueStatus::Resolved),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[..2].to_vec()
    );
    assert!(
        updated
            .iter()
            .all(|i| i.status == IssueStatus::Resolved && i.resolved_at.is_some())
    );
    let unchanged = store
        .update_issues(&ids[2..], &IssueUpdate::default())
        .await
        .unwrap();
    assert_eq!(unchanged[0].status, IssueStatus::Unresolved);

    // An unknown id fails the whole update and changes nothing.
    let missing = store
        .update_issues(
            &[ids[2], 999_999],
            &IssueUpdate {
                status: Some(IssueStatus::Ignored),
            },
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
    assert_eq!(
        store.get_issue(ids[2]).await.unwrap().status,
        IssueStatus::Unresolved
    );
    assert!(matches!(
        store.get_issue(999_999).await,
        Err(StoreError::NotFound)
    ));

    let unresolved = set_status(&store, ids[0], IssueStatus::Unresolved).await;
    assert_eq!(
        (unresolved.resolved_at, unresolved.resolved_in_release),
        (None, None)
    );

    store.delete_issues(&ids[..2]).await.unwrap();
    for id in &ids[..2] {
        assert!(matches!(
            store.get_issue(*id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.latest_issue_event(*id).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.issue_tag_keys(*id).await.unwrap().is_empty());
    }
    assert!(matches!(
        store.get_event(p.id, &eid(1)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.count_events(p.id).await.unwrap(), 1);
    // Deleting again is harmless.
    store.delete_issues(&ids[..2]).await.unwrap();

    // The deleted issues' hashes are free: the same fingerprint starts a new issue.
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(10), "h1", t + 5)]).await;
    assert!(r[0].new_issue && !ids.contains(&r[0].issue_id.unwrap()));
}
