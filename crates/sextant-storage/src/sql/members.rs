//! Membership changes that keep every organization owned, and the first-run owner.
//!
//! A change reads the organization's members and writes in one transaction. On
//! PostgreSQL the read locks the member rows (`FOR UPDATE`, in user order), so a second
//! change waits and then sees the first one's result; SQLite write transactions already
//! run one at a time. Two owners demoting each other at once therefore cannot leave the
//! organization without an owner.

use sqlx::{AssertSqlSafe, Row};

use super::accounts::{USER_COLUMNS, role, user};
use super::{Backend, SqlStore};
use crate::accounts::{Role, User};
use crate::{Result, StoreError};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// What the member's role must be for a change to apply.
#[derive(Debug, Clone, Copy)]
pub(super) enum Current {
    /// Anything, or not a member yet: the change adds them.
    AnyOrNone,
    /// A member, with any role.
    Member,
    /// A member with exactly this role.
    Exactly(Role),
}

/// The organization's members with their roles, locked until the transaction ends.
async fn lock_members(tx: &mut Tx, backend: Backend, org_id: i64) -> Result<Vec<(i64, Role)>> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql =
        format!("SELECT user_id, role FROM org_members WHERE org_id = $1 ORDER BY user_id{lock}");
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(org_id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("user_id")?, role(r)?)))
        .collect()
}

/// Sets the member's role (`Some`) or removes them (`None`) if their role is as
/// `current` expects and an owner remains.
pub(super) async fn change(
    store: &SqlStore,
    org_id: i64,
    user_id: i64,
    current: Current,
    to: Option<Role>,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    let members = lock_members(&mut tx, store.backend, org_id).await?;
    let now = members.iter().find(|(id, _)| *id == user_id).map(|m| m.1);
    match (current, now) {
        (Current::AnyOrNone, _) | (Current::Member, Some(_)) => {}
        (Current::Exactly(want), Some(role)) if want == role => {}
        (Current::Exactly(_), Some(_)) => {
            return Err(StoreError::Conflict(
                "the member's role changed meanwhile".into(),
            ));
        }
        (Current::Member | Current::Exactly(_), None) => return Err(StoreError::NotFound),
    }
    if now.is_none() && to.is_none() {
        return Err(StoreError::NotFound);
    }
    let owners = members.iter().filter(|m| m.1 == Role::Owner).count();
    if now == Some(Role::Owner) && to != Some(Role::Owner) && owners <= 1 {
        return Err(StoreError::LastOwner);
    }
    write(&mut tx, org_id, user_id, now, to, store.clock.now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds the user with `role` or raises their role to it; never lowers it.
pub(super) async fn grant(store: &SqlStore, org_id: i64, user_id: i64, role: Role) -> Result<Role> {
    let mut tx = store.begin_write().await?;
    let members = lock_members(&mut tx, store.backend, org_id).await?;
    let now = members.iter().find(|(id, _)| *id == user_id).map(|m| m.1);
    let after = now.map_or(role, |r| r.max(role));
    if now != Some(after) {
        write(
            &mut tx,
            org_id,
            user_id,
            now,
            Some(after),
            store.clock.now_ms(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(after)
}

async fn write(
    tx: &mut Tx,
    org_id: i64,
    user_id: i64,
    now: Option<Role>,
    to: Option<Role>,
    stamp: i64,
) -> Result<()> {
    let query = match (now, to) {
        (_, None) => sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id),
        (Some(_), Some(role)) => {
            sqlx::query("UPDATE org_members SET role = $3 WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .bind(role.as_str())
        }
        (None, Some(role)) => sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(stamp),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Inserts the user only while the table is empty and makes them owner of every
/// organization, all in one transaction.
pub(super) async fn create_first_owner(
    store: &SqlStore,
    email: &str,
    password_hash: &str,
) -> Result<Option<User>> {
    let mut tx = store.begin_write().await?;
    if store.backend == Backend::Postgres {
        // Under READ COMMITTED two setups would each see no user and both insert; the
        // lock (which conflicts with itself) makes the second wait, and its insert's
        // snapshot, taken after the wait, sees the first one's user.
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    let now = store.clock.now_ms();
    let sql = format!(
        "INSERT INTO users (email, password_hash, created_at) \
         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING {USER_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let first = user(&row)?;
    sqlx::query(
        "INSERT INTO org_members (org_id, user_id, role, created_at) \
         SELECT id, $1, $2, $3 FROM organizations",
    )
    .bind(first.id)
    .bind(Role::Owner.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(first))
}
