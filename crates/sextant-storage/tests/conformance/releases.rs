//! Releases, deploys, commits and session rollups written through the batch path.

use sextant_storage::*;

use crate::harness::*;

const MINUTE: i64 = 60_000;

#[store_test]
pub async fn releases_upsert_get_list(store: Shared) {
    let p = project(&store).await;
    let other = store
        .create_project(p.org_id, "other", "Other", None)
        .await
        .unwrap();
    assert!(matches!(
        store.get_release(p.id, "1.0").await,
        Err(StoreError::NotFound)
    ));

    let before = now();
    let r1 = store
        .upsert_release(p.id, "1.0", &ReleasePatch::default())
        .await
        .unwrap();
    assert_eq!((r1.project_id, r1.version.as_str()), (p.id, "1.0"));
    assert!(r1.date_created >= before);
    assert_eq!(
        (r1.date_started, r1.date_released, r1.url.as_deref()),
        (None, None, None)
    );

    // The patch sets fields; `None` leaves them alone; creation time never moves.
    let patched = store
        .upsert_release(
            p.id,
            "1.0",
            &ReleasePatch {
                date_started: Some(1_000),
                url: Some("https://example.com/1.0".into()),
                ..ReleasePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.date_created, r1.date_created);
    assert_eq!(patched.date_started, Some(1_000));
    assert_eq!(patched.url.as_deref(), Some("https://example.com/1.0"));
    let finalized = store
        .upsert_release(
            p.id,
            "1.0",
            &ReleasePatch {
                date_released: Some(2_000),
                ..ReleasePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(finalized.date_released, Some(2_000));
    assert_eq!(finalized.date_started, Some(1_000));
    assert_eq!(finalized.url.as_deref(), Some("https://example.com/1.0"));
    assert_eq!(store.get_release(p.id, "1.0").await.unwrap(), finalized);

    let r2 = store
        .upsert_release(p.id, "2.0", &ReleasePatch::default())
        .await
        .unwrap();
    // Newest first.
    assert_eq!(
        store.list_releases(p.id).await.unwrap(),
        vec![r2.clone(), finalized.clone()]
    );
    assert!(store.list_releases(other.id).await.unwrap().is_empty());
    assert!(matches!(
        store.get_release(other.id, "1.0").await,
        Err(StoreError::NotFound)
    ));

    store.delete_release(p.id, "2.0").await.unwrap();
    assert_eq!(store.list_releases(p.id).await.unwrap(), vec![finalized]);
    assert!(matches!(
        store.delete_release(p.id, "2.0").await,
        Err(StoreError::NotFound)
    ));
}

fn deploy(project_id: i64, version: &str, env: &str, finished: i64) -> NewDeploy {
    NewDeploy {
        project_id,
        version: version.into(),
        environment: env.into(),
        name: Some(format!("{version}@{env}")),
        url: None,
        date_started: Some(finished - 10),
        date_finished: finished,
    }
}

#[store_test]
pub async fn deploys_per_environment_in_order(store: Shared) {
    let p = project(&store).await;
    // Created out of order: listings go by `date_finished`, oldest first.
    let prod2 = store
        .create_deploy(&deploy(p.id, "2.0", "production", 3_000))
        .await
        .unwrap();
    let prod1 = store
        .create_deploy(&deploy(p.id, "1.0", "production", 1_000))
        .await
        .unwrap();
    let stag1 = store
        .create_deploy(&deploy(p.id, "1.0", "staging", 2_000))
        .await
        .unwrap();
    assert_eq!(
        (
            prod2.version.as_str(),
            prod2.environment.as_str(),
            prod2.name.as_deref(),
            prod2.date_started,
            prod2.date_finished
        ),
        (
            "2.0",
            "production",
            Some("2.0@production"),
            Some(2_990),
            3_000
        )
    );
    assert_eq!(prod2.project_id, p.id);

    // Deploying names the release.
    assert!(store.get_release(p.id, "2.0").await.is_ok());

    assert_eq!(
        store
            .list_deploys(p.id, None, Some("production"))
            .await
            .unwrap(),
        vec![prod1.clone(), prod2.clone()]
    );
    assert_eq!(
        store.list_deploys(p.id, Some("1.0"), None).await.unwrap(),
        vec![prod1.clone(), stag1.clone()]
    );
    assert_eq!(
        store
            .list_deploys(p.id, Some("1.0"), Some("staging"))
            .await
            .unwrap(),
        vec![stag1]
    );
    assert!(
        store
            .list_deploys(p.id, None, Some("dev"))
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting a release takes its deploys with it.
    store.delete_release(p.id, "2.0").await.unwrap();
    assert_eq!(
        store
            .list_deploys(p.id, None, Some("production"))
            .await
            .unwrap(),
        vec![prod1]
    );
}

fn commit(sha: &str, files: &[(&str, &str)]) -> NewCommit {
    NewCommit {
        sha: sha.into(),
        repository: Some("acme/web".into()),
        author_name: Some("Ann".into()),
        author_email: Some("ann@example.com".into()),
        message: Some(format!("commit {sha}")),
        committed_at: Some(5_000),
        files: files
            .iter()
            .map(|(path, change)| CommitFile {
                path: (*path).into(),
                change_type: (*change).into(),
            })
            .collect(),
    }
}

#[store_test]
pub async fn commits_with_files_roundtrip(store: Shared) {
    let p = project(&store).await;
    assert!(
        store
            .list_release_commits(p.id, "1.0")
            .await
            .unwrap()
            .is_empty()
    );
    // Files come back ordered by path; commits in the order they were set.
    let zeta = commit("ffff", &[("src/b.rs", "M"), ("src/a.rs", "A")]);
    let alpha = commit("0000", &[]);
    let bare = NewCommit {
        sha: "1111".into(),
        repository: None,
        author_name: None,
        author_email: None,
        message: None,
        committed_at: None,
        files: vec![CommitFile {
            path: "README".into(),
            change_type: "D".into(),
        }],
    };
    store
        .set_release_commits(p.id, "1.0", &[zeta.clone(), alpha.clone(), bare.clone()])
        .await
        .unwrap();
    // Setting commits names the release.
    assert!(store.get_release(p.id, "1.0").await.is_ok());

    let read = store.list_release_commits(p.id, "1.0").await.unwrap();
    let mut zeta_sorted = zeta.clone();
    zeta_sorted.files.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(read, vec![zeta_sorted, alpha.clone(), bare]);

    // Setting again replaces them.
    let next = commit("2222", &[("lib.rs", "A")]);
    store
        .set_release_commits(p.id, "1.0", &[next.clone(), alpha.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.list_release_commits(p.id, "1.0").await.unwrap(),
        vec![next, alpha]
    );
    // Other releases are separate.
    assert!(
        store
            .list_release_commits(p.id, "2.0")
            .await
            .unwrap()
            .is_empty()
    );
}

fn delta(project_id: i64, release: &str, env: &str, started: i64) -> SessionDelta {
    SessionDelta {
        project_id,
        release: release.into(),
        environment: env.into(),
        started,
        ..SessionDelta::default()
    }
}

#[store_test]
pub async fn session_rollups_via_batch(store: Shared) {
    let p = project(&store).await;
    // An hour boundary well in the past, so windows are easy to reason about.
    let hour = (now() / HOUR - 5) * HOUR;
    let t0 = hour + 10 * MINUTE + 5_000;
    let t1 = hour + 11 * MINUTE + 30_000;

    let mut sessions = Vec::new();
    // Three sessions started by two users in minute 10, one of them crashed.
    for (user, bits) in [
        (101, user_bits::SEEN),
        (102, user_bits::SEEN),
        (101, user_bits::SEEN),
    ] {
        sessions.push(SessionDelta {
            total: 1,
            user: Some((user, bits)),
            ..delta(p.id, "1.0", "production", t0)
        });
    }
    sessions.push(SessionDelta {
        errored: 1,
        crashed: 1,
        user: Some((102, user_bits::ERRORED | user_bits::CRASHED)),
        ..delta(p.id, "1.0", "production", t0)
    });
    // One session in minute 11 that reports an error twice: counted errored once.
    sessions.push(SessionDelta {
        total: 1,
        ..delta(p.id, "1.0", "production", t1)
    });
    for _ in 0..2 {
        sessions.push(SessionDelta {
            errored_sid: Some(777),
            ..delta(p.id, "1.0", "production", t1)
        });
    }
    // Another environment and another release.
    sessions.push(SessionDelta {
        total: 4,
        abnormal: 1,
        errored: 1,
        ..delta(p.id, "1.0", "staging", t0)
    });
    sessions.push(SessionDelta {
        total: 2,
        ..delta(p.id, "2.0", "production", t1)
    });
    // A project that does not exist: dropped.
    sessions.push(SessionDelta {
        total: 50,
        ..delta(9999, "1.0", "production", t0)
    });
    ingest(
        &store,
        p.id,
        Batch {
            sessions,
            ..Batch::default()
        },
    )
    .await;

    let scope = |release: Option<&str>, env: Option<&str>, from: i64, to: i64| HealthScope {
        project_id: p.id,
        release: release.map(Into::into),
        environment: env.map(Into::into),
        from,
        to,
    };

    let prod = store
        .session_totals(&scope(Some("1.0"), Some("production"), hour, hour + HOUR))
        .await
        .unwrap();
    assert_eq!(
        prod,
        SessionTotals {
            total: 4,
            errored: 2,
            crashed: 1,
            abnormal: 0,
            unhandled: 0,
            users: 2,
            errored_users: 1,
            crashed_users: 1,
            abnormal_users: 0,
        }
    );

    // All environments and releases of the project.
    let all = store
        .session_totals(&scope(None, None, hour, hour + HOUR))
        .await
        .unwrap();
    assert_eq!(
        (all.total, all.errored, all.crashed, all.abnormal),
        (10, 3, 1, 1)
    );

    // The window is inclusive at the start and exclusive at the end, by minute bucket.
    let minute10 = store
        .session_totals(&scope(
            Some("1.0"),
            Some("production"),
            hour + 10 * MINUTE,
            hour + 11 * MINUTE,
        ))
        .await
        .unwrap();
    assert_eq!((minute10.total, minute10.errored), (3, 1));
    let minute11 = store
        .session_totals(&scope(
            Some("1.0"),
            Some("production"),
            hour + 11 * MINUTE,
            hour + 12 * MINUTE,
        ))
        .await
        .unwrap();
    assert_eq!((minute11.total, minute11.errored), (1, 1));
    let empty = store
        .session_totals(&scope(None, None, hour + 20 * MINUTE, hour + HOUR))
        .await
        .unwrap();
    assert_eq!((empty.total, empty.errored, empty.crashed), (0, 0, 0));

    // Minute buckets, oldest first.
    let buckets = store
        .session_buckets(&scope(None, Some("production"), hour, hour + HOUR))
        .await
        .unwrap();
    assert_eq!(
        buckets
            .iter()
            .map(|b| (b.release.as_str(), b.bucket, b.total, b.errored, b.crashed))
            .collect::<Vec<_>>(),
        vec![
            ("1.0", hour + 10 * MINUTE, 3, 1, 1),
            ("1.0", hour + 11 * MINUTE, 1, 1, 0),
            ("2.0", hour + 11 * MINUTE, 2, 0, 0),
        ]
    );

    // Sessions name their release, created when the first session started.
    assert_eq!(
        store.get_release(p.id, "2.0").await.unwrap().date_created,
        t1
    );

    // The same errored session in a later batch is still counted once.
    ingest(
        &store,
        p.id,
        Batch {
            sessions: vec![SessionDelta {
                errored_sid: Some(777),
                ..delta(p.id, "1.0", "production", t1)
            }],
            ..Batch::default()
        },
    )
    .await;
    let again = store
        .session_totals(&scope(Some("1.0"), Some("production"), hour, hour + HOUR))
        .await
        .unwrap();
    assert_eq!(again, prod);
}
