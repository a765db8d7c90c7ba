//! Issue search: every filter kind, negation, free text, sorts and keyset paging.

use std::collections::HashSet;

use sextant_storage::*;

use crate::harness::*;

fn query(project: i64, filters: Vec<IssueFilter>) -> IssueQuery {
    IssueQuery {
        project_ids: vec![project],
        filters,
        sort: IssueSort::LastSeen,
        cursor: None,
        limit: 100,
    }
}

async fn ids(store: &Shared, q: IssueQuery) -> HashSet<i64> {
    let page = store.list_issues(&q).await.unwrap();
    assert!(page.next.is_none(), "expected a single page");
    page.items.iter().map(|i| i.id).collect()
}

fn set(ids: &[i64]) -> HashSet<i64> {
    ids.iter().copied().collect()
}

#[store_test]
pub async fn filters_and_negation(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let mut a = event(p.id, &eid(1), "a", t);
    a.tags.push(("browser".into(), "Firefox".into()));
    let mut b = event(p.id, &eid(2), "b", t + 1000);
    b.level = "warning".into();
    b.tags.push(("browser".into(), "Chrome".into()));
    let c = event(p.id, &eid(3), "c", t + 2000);
    let r = ingest_events(&store, p.id, vec![a, b, c]).await;
    let [a, b, c] = [0, 1, 2].map(|i| r[i].issue_id.unwrap());
    store
        .update_issues(
            &[c],
            &IssueUpdate {
                status: Some(IssueStatus::Ignored),
            },
        )
        .await
        .unwrap();

    let status = |statuses: Vec<IssueStatus>, negate| IssueFilter::Status { statuses, negate };
    assert_eq!(ids(&store, query(p.id, vec![])).await, set(&[a, b, c]));
    assert_eq!(
        ids(
            &store,
            query(p.id, vec![status(vec![IssueStatus::Unresolved], false)])
        )
        .await,
        set(&[a, b])
    );
    assert_eq!(
        ids(
            &store,
            query(p.id, vec![status(vec![IssueStatus::Unresolved], true)])
        )
        .await,
        set(&[c])
    );
    let both = vec![IssueStatus::Ignored, IssueStatus::Unresolved];
    assert_eq!(
        ids(&store, query(p.id, vec![status(both, false)])).await,
        set(&[a, b, c])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![status(vec![], false)])).await,
        set(&[])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![status(vec![], true)])).await,
        set(&[a, b, c])
    );

    let level = |value: &str, negate| IssueFilter::Level {
        value: value.into(),
        negate,
    };
    assert_eq!(
        ids(&store, query(p.id, vec![level("warning", false)])).await,
        set(&[b])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![level("warning", true)])).await,
        set(&[a, c])
    );

    let tag = |key: &str, value: &str, negate| IssueFilter::Tag {
        key: key.into(),
        value: value.into(),
        negate,
    };
    assert_eq!(
        ids(&store, query(p.id, vec![tag("browser", "Chrome", false)])).await,
        set(&[b])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![tag("browser", "Chrome", true)])).await,
        set(&[a, c])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![tag("level", "error", false)])).await,
        set(&[a, b, c])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![tag("browser", "Opera", false)])).await,
        set(&[])
    );

    let first = |cmp, at| IssueFilter::FirstSeen { cmp, at };
    let last = |cmp, at| IssueFilter::LastSeen { cmp, at };
    assert_eq!(
        ids(&store, query(p.id, vec![first(Cmp::Lt, t + 1000)])).await,
        set(&[a])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![first(Cmp::Le, t + 1000)])).await,
        set(&[a, b])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![first(Cmp::Gt, t + 1000)])).await,
        set(&[c])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![first(Cmp::Ge, t + 1000)])).await,
        set(&[b, c])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![first(Cmp::Eq, t + 1000)])).await,
        set(&[b])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![last(Cmp::Ge, t + 2000)])).await,
        set(&[c])
    );
    assert_eq!(
        ids(&store, query(p.id, vec![last(Cmp::Lt, t + 2000)])).await,
        set(&[a, b])
    );

    // Filters combine with AND.
    let combined = vec![
        status(vec![IssueStatus::Unresolved], false),
        tag("browser", "Firefox", true),
    ];
    assert_eq!(ids(&store, query(p.id, combined)).await, set(&[b]));

    // Project scoping: other projects' issues never leak in; several projects combine.
    let other = store
        .create_project(p.org_id, "other", "Other", None)
        .await
        .unwrap();
    let r = ingest_events(&store, other.id, vec![event(other.id, &eid(9), "a", t)]).await;
    let o = r[0].issue_id.unwrap();
    assert_eq!(ids(&store, query(p.id, vec![])).await, set(&[a, b, c]));
    let mut both_projects = query(p.id, vec![]);
    both_projects.project_ids.push(other.id);
    assert_eq!(ids(&store, both_projects).await, set(&[a, b, c, o]));
    let mut none = query(p.id, vec![]);
    none.project_ids.clear();
    assert_eq!(ids(&store, none).await, set(&[]));
}

#[store_test]
pub async fn text_search(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let mut a = event(p.id, &eid(1), "a", t);
    a.title = "TypeError: foo is not a function".into();
    a.culprit = "app/views/handler.js in render".into();
    let mut b = event(p.id, &eid(2), "b", t);
    b.title = "ValueError: bad input".into();
    b.culprit = "billing.charge".into();
    b.message = "payment declined for customer".into();
    let mut c = event(p.id, &eid(3), "c", t);
    c.title = "100% of quota_used".into();
    let r = ingest_events(&store, p.id, vec![a, b, c]).await;
    let [a, b, c] = [0, 1, 2].map(|i| r[i].issue_id.unwrap());

    let text = |s: &str| query(p.id, vec![IssueFilter::Text(s.into())]);
    assert_eq!(
        ids(&store, text("TypeError")).await,
        set(&[a]),
        "a title word"
    );
    assert_eq!(
        ids(&store, text("typeerror")).await,
        set(&[a]),
        "case-insensitive"
    );
    assert_eq!(
        ids(&store, text("TypeErr")).await,
        set(&[a]),
        "a word prefix"
    );
    assert_eq!(
        ids(&store, text("handler")).await,
        set(&[a]),
        "a culprit word"
    );
    assert_eq!(
        ids(&store, text("billing")).await,
        set(&[b]),
        "a dotted culprit part"
    );
    assert_eq!(
        ids(&store, text("declined")).await,
        set(&[b]),
        "a message word"
    );
    assert_eq!(
        ids(&store, text("Error")).await,
        set(&[a, b]),
        "a substring of title words"
    );
    assert_eq!(
        ids(&store, text("bad input")).await,
        set(&[b]),
        "several words"
    );
    assert_eq!(ids(&store, text("nomatch")).await, set(&[]));
    // Query syntax and wildcards in the user's text are matched literally.
    assert_eq!(ids(&store, text("100%")).await, set(&[c]));
    assert_eq!(ids(&store, text("quota_used")).await, set(&[c]));
    assert_eq!(ids(&store, text("%")).await, set(&[c]));
    assert_eq!(ids(&store, text("_")).await, set(&[c]));
    for hostile in [
        "\"",
        "\"unbalanced",
        "NEAR(a b)",
        "a OR",
        "*",
        "-x",
        "'; DROP TABLE issues; --",
        "\\",
    ] {
        store
            .list_issues(&text(hostile))
            .await
            .unwrap_or_else(|e| panic!("{hostile:?}: {e}"));
    }
    assert_eq!(
        ids(&store, text("   ")).await,
        set(&[a, b, c]),
        "blank text filters nothing"
    );

    // The index follows title changes, and deleted issues leave it.
    let mut renamed = event(p.id, &eid(4), "a", t + 1000);
    renamed.title = "RangeError: out of bounds".into();
    ingest_events(&store, p.id, vec![renamed]).await;
    assert_eq!(ids(&store, text("RangeError")).await, set(&[a]));
    assert_eq!(ids(&store, text("TypeError")).await, set(&[]));
    store.delete_issues(&[b]).await.unwrap();
    assert_eq!(ids(&store, text("declined")).await, set(&[]));
}

#[store_test]
pub async fn sorts_and_keyset_paging(store: Shared) {
    let p = project(&store).await;
    let t = now();
    // 23 issues with many ties in every sort key, so the id tie breaker matters.
    let mut events = Vec::new();
    let mut n = 0;
    for i in 0..23u64 {
        for k in 0..=(i % 4) {
            n += 1;
            let mut e = event(
                p.id,
                &eid(n),
                &format!("issue-{i}"),
                t + (i % 5) as i64 * 1000 - k as i64,
            );
            e.user_key = Some(format!("user-{}", k % 2));
            events.push(e);
        }
    }
    let r = ingest_events(&store, p.id, events).await;
    assert!(r.iter().all(|w| w.issue_id.is_some()));

    let all = store.list_issues(&query(p.id, vec![])).await.unwrap().items;
    assert_eq!(all.len(), 23);
    for sort in [
        IssueSort::LastSeen,
        IssueSort::FirstSeen,
        IssueSort::Events,
        IssueSort::Users,
    ] {
        let key = |i: &Issue| match sort {
            IssueSort::LastSeen => i.last_seen,
            IssueSort::FirstSeen => i.first_seen,
            IssueSort::Events => i.times_seen,
            IssueSort::Users => i.user_count,
        };
        let mut expected: Vec<(i64, i64)> = all.iter().map(|i| (key(i), i.id)).collect();
        expected.sort_by(|x, y| y.cmp(x));

        for limit in [1u32, 4, 7, 23, 50] {
            let mut got = Vec::new();
            let mut cursor = None;
            loop {
                let q = IssueQuery {
                    project_ids: vec![p.id],
                    filters: vec![],
                    sort,
                    cursor,
                    limit,
                };
                let page = store.list_issues(&q).await.unwrap();
                assert!(page.items.len() <= limit as usize);
                got.extend(page.items.iter().map(|i| (key(i), i.id)));
                match page.next {
                    Some(next) => {
                        let last = page.items.last().unwrap();
                        assert_eq!(
                            next,
                            Cursor {
                                sort_value: key(last),
                                id: last.id
                            }
                        );
                        cursor = Some(next);
                    }
                    None => break,
                }
            }
            assert_eq!(
                got, expected,
                "{sort:?} with limit {limit}: no dupes, no gaps, right order"
            );
        }
    }
}
