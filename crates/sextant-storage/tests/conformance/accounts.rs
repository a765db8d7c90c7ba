//! Accounts: users, browser sessions, organization memberships and personal API tokens.

use sextant_storage::*;

use crate::harness::*;

#[store_test]
pub async fn users_and_email_lookup(store: Shared) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    let ann = store.create_user("ann@example.com", "phc-1").await.unwrap();
    assert_eq!(ann.email, "ann@example.com");
    assert_eq!(ann.password_hash, "phc-1");
    assert!(ann.created_at > 0);
    assert_eq!(store.count_users().await.unwrap(), 1);

    // Emails compare exactly as given: the server lower-cases them, not the store.
    assert!(matches!(
        store.create_user("ann@example.com", "phc-2").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(
        store.find_user_by_email("ann@example.com").await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store.find_user_by_email("ANN@example.com").await.unwrap(),
        None
    );
    assert_eq!(
        store.find_user_by_email("bob@example.com").await.unwrap(),
        None
    );
    let upper = store.create_user("ANN@example.com", "phc-3").await.unwrap();
    assert_ne!(upper.id, ann.id);
    assert_eq!(store.count_users().await.unwrap(), 2);

    assert_eq!(store.get_user(ann.id).await.unwrap(), ann);
    assert!(matches!(
        store.get_user(9999).await,
        Err(StoreError::NotFound)
    ));

    store.set_password(ann.id, "phc-new").await.unwrap();
    assert_eq!(
        store.get_user(ann.id).await.unwrap().password_hash,
        "phc-new"
    );
    // The other user is untouched.
    assert_eq!(
        store.get_user(upper.id).await.unwrap().password_hash,
        "phc-3"
    );
    assert!(matches!(
        store.set_password(9999, "x").await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn sessions_found_expire_and_revoke(store: Shared) {
    let ann = store.create_user("ann@example.com", "phc").await.unwrap();
    let bob = store.create_user("bob@example.com", "phc").await.unwrap();
    let t = now();
    let s1 = store
        .create_session(ann.id, "sess-1", "csrf-1", t + HOUR)
        .await
        .unwrap();
    assert_eq!(
        (s1.user_id, s1.csrf_token.as_str(), s1.expires_at),
        (ann.id, "csrf-1", t + HOUR)
    );
    let s2 = store
        .create_session(ann.id, "sess-2", "csrf-2", t + HOUR)
        .await
        .unwrap();
    let sb = store
        .create_session(bob.id, "sess-b", "csrf-b", t + HOUR)
        .await
        .unwrap();
    assert_ne!(s1.id, s2.id);

    let (found, user) = store
        .find_session("sess-1", t)
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(found, s1);
    assert_eq!(user, ann);
    assert_eq!(store.find_session("nope", t).await.unwrap(), None);
    // Expired at or after `expires_at`.
    assert_eq!(store.find_session("sess-1", t + HOUR).await.unwrap(), None);
    assert!(
        store
            .find_session("sess-1", t + HOUR - 1)
            .await
            .unwrap()
            .is_some()
    );

    store.delete_session("sess-1").await.unwrap();
    assert_eq!(store.find_session("sess-1", t).await.unwrap(), None);
    assert!(store.find_session("sess-2", t).await.unwrap().is_some());

    store.delete_user_sessions(ann.id).await.unwrap();
    assert_eq!(store.find_session("sess-2", t).await.unwrap(), None);
    let (other, _) = store
        .find_session("sess-b", t)
        .await
        .unwrap()
        .expect("another user's session survives");
    assert_eq!(other, sb);
}

#[store_test]
pub async fn memberships_and_roles(store: Shared) {
    let acme = store.create_org("acme", "Acme").await.unwrap();
    let beta = store.create_org("beta", "Beta").await.unwrap();
    let zed = store.create_user("zed@example.com", "phc").await.unwrap();
    let amy = store.create_user("amy@example.com", "phc").await.unwrap();
    assert!(store.memberships(zed.id).await.unwrap().is_empty());

    store
        .set_member(beta.id, zed.id, Role::Member)
        .await
        .unwrap();
    store
        .set_member(acme.id, zed.id, Role::Owner)
        .await
        .unwrap();
    store
        .set_member(acme.id, amy.id, Role::Member)
        .await
        .unwrap();

    // By organization id, whatever the order they were joined in.
    assert_eq!(
        store.memberships(zed.id).await.unwrap(),
        vec![
            Membership {
                org: acme.clone(),
                role: Role::Owner
            },
            Membership {
                org: beta.clone(),
                role: Role::Member
            },
        ]
    );

    // Members by email.
    let members = store.list_members(acme.id).await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| (m.user_id, m.email.as_str(), m.role))
            .collect::<Vec<_>>(),
        vec![
            (amy.id, "amy@example.com", Role::Member),
            (zed.id, "zed@example.com", Role::Owner)
        ]
    );

    // Setting again changes the role rather than adding a second membership.
    store
        .set_member(acme.id, amy.id, Role::Admin)
        .await
        .unwrap();
    let members = store.list_members(acme.id).await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].role, Role::Admin);
    assert_eq!(
        store.memberships(amy.id).await.unwrap(),
        vec![Membership {
            org: acme.clone(),
            role: Role::Admin
        }]
    );

    store.remove_member(acme.id, amy.id).await.unwrap();
    assert!(store.memberships(amy.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .list_members(acme.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.user_id)
            .collect::<Vec<_>>(),
        vec![zed.id]
    );
    assert!(matches!(
        store.remove_member(acme.id, amy.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
}

#[store_test]
pub async fn user_tokens_listed_and_revoked(store: Shared) {
    let ann = store.create_user("ann@example.com", "phc").await.unwrap();
    let bob = store.create_user("bob@example.com", "phc").await.unwrap();
    let t1 = store
        .create_user_token(ann.id, "tok-1", TokenScope::Read, "laptop")
        .await
        .unwrap();
    let t2 = store
        .create_user_token(ann.id, "tok-2", TokenScope::Write, "ci")
        .await
        .unwrap();
    let tb = store
        .create_user_token(bob.id, "tok-b", TokenScope::Admin, "bob")
        .await
        .unwrap();
    let cli = store
        .create_token("tok-cli", TokenScope::Admin, "cli")
        .await
        .unwrap();
    assert_eq!(
        (t1.scope, t1.label.as_str(), t1.revoked),
        (TokenScope::Read, "laptop", false)
    );
    assert!(matches!(
        store
            .create_user_token(ann.id, "tok-1", TokenScope::Read, "dup")
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Newest first, only the user's own.
    assert_eq!(
        store.list_user_tokens(ann.id).await.unwrap(),
        vec![t2.clone(), t1.clone()]
    );
    assert_eq!(
        store.list_user_tokens(bob.id).await.unwrap(),
        vec![tb.clone()]
    );

    assert_eq!(
        store.find_owned_token("tok-1").await.unwrap(),
        Some(OwnedToken {
            token: t1.clone(),
            user_id: Some(ann.id)
        })
    );
    assert_eq!(
        store.find_owned_token("tok-cli").await.unwrap(),
        Some(OwnedToken {
            token: cli,
            user_id: None
        })
    );
    assert_eq!(store.find_owned_token("nope").await.unwrap(), None);

    // Only the owner can revoke.
    assert!(matches!(
        store.revoke_user_token(bob.id, t1.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        !store
            .find_owned_token("tok-1")
            .await
            .unwrap()
            .unwrap()
            .token
            .revoked
    );
    store.revoke_user_token(ann.id, t1.id).await.unwrap();
    let revoked = store.find_owned_token("tok-1").await.unwrap().unwrap();
    assert!(revoked.token.revoked);
    assert!(
        !store
            .find_owned_token("tok-2")
            .await
            .unwrap()
            .unwrap()
            .token
            .revoked
    );
    // Revoked tokens stay listed.
    let listed = store.list_user_tokens(ann.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| (t.id, t.revoked)).collect::<Vec<_>>(),
        vec![(t2.id, false), (t1.id, true)]
    );
    assert!(matches!(
        store.revoke_user_token(ann.id, 9999).await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn invites_expire_and_are_used_up_once(store: Shared) {
    let org = store.create_org("acme", "Acme").await.unwrap();
    let invite = store
        .create_invite(org.id, "hash-1", Role::Admin, "new@example.com", 10_000)
        .await
        .unwrap();
    assert_eq!(
        (invite.role, invite.email.as_str()),
        (Role::Admin, "new@example.com")
    );
    assert_eq!(
        store
            .find_invite("hash-1", 9_999)
            .await
            .unwrap()
            .map(|i| i.id),
        Some(invite.id)
    );
    assert_eq!(store.find_invite("hash-1", 10_001).await.unwrap(), None);
    assert_eq!(store.find_invite("other", 9_999).await.unwrap(), None);
    assert_eq!(store.list_invites(org.id, 9_999).await.unwrap().len(), 1);

    // Two redemptions at once: exactly one uses the invite up.
    let (a, b) = tokio::join!(
        store.delete_invite(invite.id),
        store.delete_invite(invite.id)
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one deletion");
    assert_eq!(store.find_invite("hash-1", 9_999).await.unwrap(), None);
    assert!(!store.delete_invite(invite.id).await.unwrap());
}
