//! Alert mail: digests opened, delayed and capped by their entries, claimed with a lease
//! and consumed once with the mail they become; and per-user options.

use serde_json::json;
use sextant_storage::*;

use crate::harness::*;

const HOUR_MS: i64 = 3_600_000;

async fn user(store: &Shared, email: &str) -> User {
    store.create_user(email, "not-a-hash").await.unwrap()
}

fn to_digest(p: &Project, user_id: i64, min: i64, max: i64, payload: &str) -> NewDelivery {
    NewDelivery {
        org_id: p.org_id,
        project_id: Some(p.id),
        issue_id: None,
        rule_id: None,
        target: DeliveryTarget::Digest {
            user_id,
            min_delay_ms: min,
            max_delay_ms: max,
        },
        resource: "event_alert".into(),
        action: "triggered".into(),
        payload: payload.into(),
    }
}

fn mail(p: &Project, address: &str) -> NewDelivery {
    NewDelivery {
        org_id: p.org_id,
        project_id: Some(p.id),
        issue_id: None,
        rule_id: None,
        target: DeliveryTarget::Email {
            address: address.into(),
        },
        resource: "email".into(),
        action: "digest".into(),
        payload: r#"{"subject":"s"}"#.into(),
    }
}

#[store_test]
pub async fn a_digest_waits_for_quiet_but_not_past_its_cap(store: Shared) {
    let p = project(&store).await;
    let u = user(&store, "ann@example.com").await;
    // Written like the evaluator writes them: as deliveries, which become entries.
    let written = store
        .enqueue_deliveries(&[to_digest(&p, u.id, HOUR_MS, 2 * HOUR_MS, "a")])
        .await
        .unwrap();
    assert!(written.is_empty(), "a digest entry is not a delivery");
    assert_eq!(store.digests_pending().await.unwrap(), (1, 1));
    assert!(store.claim_digests(10, 60_000).await.unwrap().is_empty());
    assert!(store.claim_deliveries(10, 60_000).await.unwrap().is_empty());

    // A second entry of the same project and user joins the open digest; with no wait
    // allowed past the first entry, the digest is due now.
    store
        .enqueue_deliveries(&[to_digest(&p, u.id, HOUR_MS, 0, "b")])
        .await
        .unwrap();
    assert_eq!(store.digests_pending().await.unwrap(), (1, 2));
    let claimed = store.claim_digests(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let digest = &claimed[0];
    assert_eq!((digest.project_id, digest.user_id), (p.id, u.id));
    assert_eq!(digest.org_id, p.org_id);
    let payloads: Vec<&str> = digest.entries.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(payloads, ["a", "b"]);
    assert!(digest.due_at <= digest.opened_at + 1000, "{digest:?}");
    // Claimed digests are not handed out again while the lease lasts.
    assert!(store.claim_digests(10, 60_000).await.unwrap().is_empty());

    store
        .commit_digest(digest, &[mail(&p, "ann@example.com")])
        .await
        .unwrap();
    assert_eq!(store.digests_pending().await.unwrap(), (0, 0));
    let sent = store.claim_deliveries(10, 60_000).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].target,
        DeliveryTarget::Email {
            address: "ann@example.com".into()
        }
    );
    assert_eq!(sent[0].payload, r#"{"subject":"s"}"#);
    // The same digest cannot be consumed twice: nothing more is written.
    assert!(matches!(
        store
            .commit_digest(digest, &[mail(&p, "ann@example.com")])
            .await,
        Err(StoreError::Conflict(_))
    ));
    let all = store
        .list_deliveries(&DeliveryFilter {
            org_id: p.org_id,
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[store_test]
pub async fn a_newer_entry_moves_the_digest_later(store: Shared) {
    let p = project(&store).await;
    let u = user(&store, "bo@example.com").await;
    store
        .enqueue_deliveries(&[to_digest(&p, u.id, 0, HOUR_MS, "a")])
        .await
        .unwrap();
    // Due now, until a newer entry asks for a quiet hour (within the cap of an hour).
    store
        .enqueue_deliveries(&[to_digest(&p, u.id, HOUR_MS, HOUR_MS, "b")])
        .await
        .unwrap();
    assert!(store.claim_digests(10, 60_000).await.unwrap().is_empty());
    // Digests are per project and user: another user's is apart, and due.
    let v = user(&store, "cy@example.com").await;
    store
        .enqueue_deliveries(&[to_digest(&p, v.id, 0, HOUR_MS, "c")])
        .await
        .unwrap();
    let claimed = store.claim_digests(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].user_id, v.id);
    assert_eq!(claimed[0].entries.len(), 1);
    assert_eq!(store.digests_pending().await.unwrap(), (2, 3));
}

#[store_test]
pub async fn entries_added_during_a_claim_stay_for_the_next_mail(store: Shared) {
    let p = project(&store).await;
    let u = user(&store, "di@example.com").await;
    store
        .enqueue_deliveries(&[to_digest(&p, u.id, 0, HOUR_MS, "a")])
        .await
        .unwrap();
    let claimed = store.claim_digests(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .enqueue_deliveries(&[to_digest(&p, u.id, 0, HOUR_MS, "late")])
        .await
        .unwrap();
    store
        .commit_digest(&claimed[0], &[mail(&p, "di@example.com")])
        .await
        .unwrap();
    assert_eq!(store.digests_pending().await.unwrap(), (1, 1));
    // Released at once (not held for the rest of the lease), with only the late entry.
    let next = store.claim_digests(10, 60_000).await.unwrap();
    assert_eq!(next.len(), 1);
    let payloads: Vec<&str> = next[0].entries.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(payloads, ["late"]);
    store.commit_digest(&next[0], &[]).await.unwrap();
    assert_eq!(store.digests_pending().await.unwrap(), (0, 0));
}

#[store_test]
pub async fn entries_of_deleted_projects_and_users_go_with_them(store: Shared) {
    let p = project(&store).await;
    let u = user(&store, "ed@example.com").await;
    // A user id that does not exist writes nothing and fails nothing.
    store
        .enqueue_deliveries(&[
            to_digest(&p, u.id + 1000, 0, HOUR_MS, "nobody"),
            to_digest(&p, u.id, HOUR_MS, HOUR_MS, "a"),
        ])
        .await
        .unwrap();
    assert_eq!(store.digests_pending().await.unwrap(), (1, 1));
    store.delete_project(p.id).await.unwrap();
    assert_eq!(store.digests_pending().await.unwrap(), (0, 0));
}

#[store_test]
pub async fn user_options_are_set_read_and_removed(store: Shared) {
    let a = user(&store, "fay@example.com").await;
    let b = user(&store, "gus@example.com").await;
    assert!(store.user_options(a.id).await.unwrap().is_empty());
    store
        .set_user_option(a.id, "alerts:email", Some(&json!("never")))
        .await
        .unwrap();
    store
        .set_user_option(a.id, "alerts:email", Some(&json!("always")))
        .await
        .unwrap();
    store
        .set_user_option(a.id, "other", Some(&json!({"x": 1})))
        .await
        .unwrap();
    assert_eq!(
        store.user_options(a.id).await.unwrap(),
        vec![
            ("alerts:email".to_string(), json!("always")),
            ("other".to_string(), json!({"x": 1})),
        ]
    );
    store
        .set_user_option(b.id, "alerts:email", Some(&json!("never")))
        .await
        .unwrap();
    assert_eq!(
        store
            .user_option_values("alerts:email", &[a.id, b.id, b.id + 1000])
            .await
            .unwrap(),
        vec![(a.id, json!("always")), (b.id, json!("never"))]
    );
    store
        .set_user_option(a.id, "alerts:email", None)
        .await
        .unwrap();
    assert_eq!(
        store
            .user_option_values("alerts:email", &[a.id, b.id])
            .await
            .unwrap(),
        vec![(b.id, json!("never"))]
    );
    assert!(matches!(
        store
            .set_user_option(b.id + 1000, "alerts:email", Some(&json!("never")))
            .await,
        Err(StoreError::NotFound)
    ));
}
