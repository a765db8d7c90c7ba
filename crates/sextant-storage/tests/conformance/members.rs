//! Membership changes that must keep every organization owned, invites that never lower
//! a role, and the first-run owner made exactly once.

use sextant_storage::*;

use crate::harness::*;

async fn role_of(store: &Shared, org_id: i64, user_id: i64) -> Option<Role> {
    store
        .list_members(org_id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.user_id == user_id)
        .map(|m| m.role)
}

#[store_test]
pub async fn first_owner_is_created_once(store: Shared) {
    let acme = store.create_org("acme", "Acme").await.unwrap();
    let beta = store.create_org("beta", "Beta").await.unwrap();

    // Concurrent first-run setups: exactly one makes a user.
    let mut racers = Vec::new();
    for n in 0..5 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store
                .create_first_owner(&format!("owner{n}@example.com"), "phc")
                .await
                .unwrap()
        }));
    }
    let mut made = Vec::new();
    for racer in racers {
        made.extend(racer.await.unwrap());
    }
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(store.count_users().await.unwrap(), 1);
    let owner = &made[0];
    assert_eq!(role_of(&store, acme.id, owner.id).await, Some(Role::Owner));
    assert_eq!(role_of(&store, beta.id, owner.id).await, Some(Role::Owner));

    assert_eq!(
        store
            .create_first_owner("late@example.com", "phc")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_user_by_email("late@example.com").await.unwrap(),
        None
    );
}

#[store_test]
pub async fn the_last_owner_stays(store: Shared) {
    let acme = store.create_org("acme", "Acme").await.unwrap();
    let ann = store.create_user("ann@example.com", "phc").await.unwrap();
    let bob = store.create_user("bob@example.com", "phc").await.unwrap();
    store
        .set_member(acme.id, ann.id, Role::Owner)
        .await
        .unwrap();
    store
        .set_member(acme.id, bob.id, Role::Admin)
        .await
        .unwrap();

    // Every way of taking the only owner away is refused, and changes nothing.
    assert!(matches!(
        store.remove_member(acme.id, ann.id).await,
        Err(StoreError::LastOwner)
    ));
    assert!(matches!(
        store.set_member(acme.id, ann.id, Role::Admin).await,
        Err(StoreError::LastOwner)
    ));
    assert!(matches!(
        store
            .change_member(acme.id, ann.id, Role::Owner, Some(Role::Member))
            .await,
        Err(StoreError::LastOwner)
    ));
    assert!(matches!(
        store
            .change_member(acme.id, ann.id, Role::Owner, None)
            .await,
        Err(StoreError::LastOwner)
    ));
    assert_eq!(role_of(&store, acme.id, ann.id).await, Some(Role::Owner));
    // Re-setting the owner role is no loss.
    store
        .set_member(acme.id, ann.id, Role::Owner)
        .await
        .unwrap();

    // With a second owner, either may go, but not both at once.
    store
        .set_member(acme.id, bob.id, Role::Owner)
        .await
        .unwrap();
    let demote = |user_id: i64| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .change_member(acme.id, user_id, Role::Owner, Some(Role::Admin))
                .await
        })
    };
    let (a, b) = (demote(ann.id), demote(bob.id));
    let results = [a.await.unwrap(), b.await.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(StoreError::LastOwner)))
    );
    let owners = store
        .list_members(acme.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.role == Role::Owner)
        .count();
    assert_eq!(owners, 1);
}

#[store_test]
pub async fn member_changes_apply_to_the_role_read(store: Shared) {
    let acme = store.create_org("acme", "Acme").await.unwrap();
    let ann = store.create_user("ann@example.com", "phc").await.unwrap();
    let bob = store.create_user("bob@example.com", "phc").await.unwrap();
    let cy = store.create_user("cy@example.com", "phc").await.unwrap();
    store
        .set_member(acme.id, ann.id, Role::Owner)
        .await
        .unwrap();
    store
        .set_member(acme.id, bob.id, Role::Admin)
        .await
        .unwrap();

    // Bob was promoted after the caller read "admin": the change is refused.
    store
        .set_member(acme.id, bob.id, Role::Owner)
        .await
        .unwrap();
    assert!(matches!(
        store
            .change_member(acme.id, bob.id, Role::Admin, None)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(role_of(&store, acme.id, bob.id).await, Some(Role::Owner));

    store
        .change_member(acme.id, bob.id, Role::Owner, Some(Role::Member))
        .await
        .unwrap();
    assert_eq!(role_of(&store, acme.id, bob.id).await, Some(Role::Member));
    store
        .change_member(acme.id, bob.id, Role::Member, None)
        .await
        .unwrap();
    assert_eq!(role_of(&store, acme.id, bob.id).await, None);
    assert!(matches!(
        store
            .change_member(acme.id, cy.id, Role::Member, Some(Role::Admin))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(role_of(&store, acme.id, cy.id).await, None);
}

#[store_test]
pub async fn grants_never_lower_a_role(store: Shared) {
    let acme = store.create_org("acme", "Acme").await.unwrap();
    let ann = store.create_user("ann@example.com", "phc").await.unwrap();
    let bob = store.create_user("bob@example.com", "phc").await.unwrap();
    let cy = store.create_user("cy@example.com", "phc").await.unwrap();
    store
        .set_member(acme.id, ann.id, Role::Owner)
        .await
        .unwrap();
    store
        .set_member(acme.id, bob.id, Role::Member)
        .await
        .unwrap();

    assert_eq!(
        store
            .grant_member(acme.id, ann.id, Role::Member)
            .await
            .unwrap(),
        Role::Owner
    );
    assert_eq!(role_of(&store, acme.id, ann.id).await, Some(Role::Owner));
    assert_eq!(
        store
            .grant_member(acme.id, bob.id, Role::Admin)
            .await
            .unwrap(),
        Role::Admin
    );
    assert_eq!(role_of(&store, acme.id, bob.id).await, Some(Role::Admin));
    assert_eq!(
        store
            .grant_member(acme.id, cy.id, Role::Member)
            .await
            .unwrap(),
        Role::Member
    );
    assert_eq!(role_of(&store, acme.id, cy.id).await, Some(Role::Member));
    assert_eq!(store.list_members(acme.id).await.unwrap().len(), 3);
}
