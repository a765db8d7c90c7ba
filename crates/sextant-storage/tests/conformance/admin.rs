//! Organizations, projects, keys, tokens and project deletion.

use sextant_storage::*;

use crate::harness::*;

#[store_test]
pub async fn bootstrap_is_idempotent(store: Shared) {
    let (org, project, key) = store
        .bootstrap_default()
        .await
        .unwrap()
        .expect("first bootstrap creates");
    assert_eq!(
        (org.slug.as_str(), org.name.as_str()),
        ("default", "Default")
    );
    assert_eq!(
        (project.slug.as_str(), project.name.as_str()),
        ("default", "Default")
    );
    assert_eq!(project.org_id, org.id);
    assert_eq!(project.org_slug, "default");
    assert_eq!(key.project_id, project.id);
    assert_eq!(key.label, "Default");
    assert!(key.active);
    assert_eq!(key.public_key.len(), 32);
    assert!(
        key.public_key
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    assert!(
        store.bootstrap_default().await.unwrap().is_none(),
        "second bootstrap is a no-op"
    );
    assert_eq!(store.list_orgs().await.unwrap(), vec![org.clone()]);
    assert_eq!(store.list_projects(None).await.unwrap(), vec![project]);
    assert_eq!(store.list_keys(key.project_id).await.unwrap(), vec![key]);
    assert_eq!(store.get_org("default").await.unwrap(), org);
}

#[store_test]
pub async fn projects_crud_and_conflicts(store: Shared) {
    let acme = store.create_org("acme", "Acme").await.unwrap();
    assert!(matches!(
        store.create_org("acme", "Again").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.get_org("nope").await,
        Err(StoreError::NotFound)
    ));

    let web = store
        .create_project(acme.id, "web", "Web", Some("javascript"))
        .await
        .unwrap();
    assert_eq!(web.platform.as_deref(), Some("javascript"));
    assert_eq!(web.org_slug, "acme");
    let api = store
        .create_project(acme.id, "api", "API", None)
        .await
        .unwrap();
    assert!(matches!(
        store.create_project(acme.id, "web", "Dup", None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_project(9999, "x", "X", None).await,
        Err(StoreError::NotFound)
    ));

    // The same slug in another organization is fine.
    let other = store.create_org("other", "Other").await.unwrap();
    let other_web = store
        .create_project(other.id, "web", "Web", None)
        .await
        .unwrap();

    assert_eq!(store.get_project(web.id).await.unwrap(), web);
    assert_eq!(store.get_project_by_slug("acme", "api").await.unwrap(), api);
    assert_eq!(
        store.get_project_by_slug("other", "web").await.unwrap(),
        other_web
    );
    assert!(matches!(
        store.get_project(9999).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_project_by_slug("acme", "nope").await,
        Err(StoreError::NotFound)
    ));

    assert_eq!(
        store.list_projects(Some(acme.id)).await.unwrap(),
        vec![web.clone(), api.clone()]
    );
    assert_eq!(store.list_projects(None).await.unwrap().len(), 3);

    let renamed = store.rename_project(web.id, "Website").await.unwrap();
    assert_eq!(renamed.name, "Website");
    assert_eq!(store.get_project(web.id).await.unwrap().name, "Website");
    assert!(matches!(
        store.rename_project(9999, "x").await,
        Err(StoreError::NotFound)
    ));

    store.delete_project(api.id).await.unwrap();
    assert!(matches!(
        store.get_project(api.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_project(api.id).await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn keys_crud(store: Shared) {
    let p = project(&store).await;
    let k = store.create_key(p.id, "CI").await.unwrap();
    assert_eq!(k.label, "CI");
    assert!(k.active);
    assert_eq!((k.rate_limit_count, k.rate_limit_window_secs), (None, None));
    assert!(matches!(
        store.create_key(9999, "x").await,
        Err(StoreError::NotFound)
    ));

    assert_eq!(
        store.find_key(&k.public_key).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(
        store
            .find_key("0123456789abcdef0123456789abcdef")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_keys(p.id).await.unwrap().len(), 2);

    let off = store
        .set_key_active(p.id, &k.public_key, false)
        .await
        .unwrap();
    assert!(!off.active);
    // Inactive keys are still found; the caller decides.
    assert!(!store.find_key(&k.public_key).await.unwrap().unwrap().active);
    assert!(
        store
            .set_key_active(p.id, &k.public_key, true)
            .await
            .unwrap()
            .active
    );

    let limited = store
        .set_key_rate_limit(p.id, &k.public_key, Some(100), Some(60))
        .await
        .unwrap();
    assert_eq!(
        (limited.rate_limit_count, limited.rate_limit_window_secs),
        (Some(100), Some(60))
    );
    let cleared = store
        .set_key_rate_limit(p.id, &k.public_key, None, None)
        .await
        .unwrap();
    assert_eq!(
        (cleared.rate_limit_count, cleared.rate_limit_window_secs),
        (None, None)
    );

    // Keys are addressed within their project.
    assert!(matches!(
        store.set_key_active(p.id + 1, &k.public_key, false).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.set_key_rate_limit(p.id, "missing", None, None).await,
        Err(StoreError::NotFound)
    ));

    store.delete_key(p.id, &k.public_key).await.unwrap();
    assert_eq!(store.find_key(&k.public_key).await.unwrap(), None);
    assert!(matches!(
        store.delete_key(p.id, &k.public_key).await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn tokens_crud(store: Shared) {
    let a = store
        .create_token("hash-a", TokenScope::Admin, "admin")
        .await
        .unwrap();
    let r = store
        .create_token("hash-r", TokenScope::Read, "reader")
        .await
        .unwrap();
    assert_eq!((a.scope, a.revoked), (TokenScope::Admin, false));
    assert!(matches!(
        store.create_token("hash-a", TokenScope::Write, "dup").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.find_token("hash-r").await.unwrap(), Some(r.clone()));
    assert_eq!(store.find_token("nope").await.unwrap(), None);
    assert_eq!(
        store.list_tokens().await.unwrap(),
        vec![a.clone(), r.clone()]
    );

    store.revoke_token(r.id).await.unwrap();
    let revoked = store
        .find_token("hash-r")
        .await
        .unwrap()
        .expect("revoked tokens are still found");
    assert!(revoked.revoked);
    assert!(matches!(
        store.revoke_token(9999).await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn delete_project_cascades(store: Shared) {
    let keep = project(&store).await;
    let doomed = store
        .create_project(keep.org_id, "doomed", "Doomed", None)
        .await
        .unwrap();
    let key = store.create_key(doomed.id, "k").await.unwrap();
    let t = now();

    let mut batch = Batch::default();
    for (p, n) in [(doomed.id, 1), (keep.id, 2)] {
        let mut e = event(p, &eid(n), "h", t);
        e.release = Some("1.0".into());
        e.user_key = Some("id:1".into());
        batch.events.push(e);
        batch.attachments.push(NewAttachment {
            project_id: p,
            event_id: eid(n),
            name: "a.txt".into(),
            content_type: "text/plain".into(),
            attachment_type: "event.attachment".into(),
            size: 1,
            data: b"x".to_vec(),
        });
        batch.raw_items.push(NewRawItem {
            project_id: p,
            item_type: "session".into(),
            event_id: None,
            received_at: t,
            payload: b"s".to_vec(),
        });
        batch.outcomes.push(OutcomeDelta {
            project_id: p,
            bucket: t - t % HOUR,
            outcome: "accepted".into(),
            category: "error".into(),
            reason: String::new(),
            quantity: 1,
        });
    }
    let written = ingest(&store, doomed.id, batch).await.events;
    let doomed_issue = written[0].issue_id.unwrap();
    let kept_issue = written[1].issue_id.unwrap();
    assert_ne!(doomed_issue, kept_issue, "hashes are per project");
    // A backlog waiting in the inbox goes with the project too: deleted with it, or
    // dropped when processing finds the project gone (checked at the end).
    enqueue_one(&store, doomed.id, b"pending").await;

    store.delete_project(doomed.id).await.unwrap();

    assert!(matches!(
        store.get_project(doomed.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.find_key(&key.public_key).await.unwrap(), None);
    assert!(matches!(
        store.get_issue(doomed_issue).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_event(doomed.id, &eid(1)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.count_events(doomed.id).await.unwrap(), 0);
    assert!(
        store
            .list_attachments(doomed.id, &eid(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.count_raw_items(doomed.id, "session").await.unwrap(),
        0
    );
    assert!(store.outcome_totals(doomed.id).await.unwrap().is_empty());
    assert!(store.issue_tag_keys(doomed_issue).await.unwrap().is_empty());

    // The other project is untouched.
    assert_eq!(store.get_issue(kept_issue).await.unwrap().times_seen, 1);
    assert_eq!(store.count_events(keep.id).await.unwrap(), 1);
    assert_eq!(
        store
            .list_attachments(keep.id, &eid(2))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.count_raw_items(keep.id, "session").await.unwrap(), 1);
    assert_eq!(store.outcome_totals(keep.id).await.unwrap().len(), 1);

    // Items still addressed to the deleted project are dropped, not wedged in the inbox.
    let late = ingest_events(&store, keep.id, vec![event(doomed.id, &eid(3), "h", t)]).await;
    assert_eq!(late[0].issue_id, None);
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    assert_eq!(store.count_events(doomed.id).await.unwrap(), 0);

    // Requests still queued for it must never land in a later project: ids are not reused.
    let later = store
        .create_project(keep.org_id, "later", "Later", None)
        .await
        .unwrap();
    assert!(later.id > doomed.id, "{} reuses {}", later.id, doomed.id);
}
