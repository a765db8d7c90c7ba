//! `AccountStore` for `SqlStore`: users, sessions, memberships, invites, personal tokens,
//! and the console's extra reads (event buckets, event neighbours, allowed origins).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::members::{self, Current};
use super::rows::{self, ORG_COLUMNS};
use super::{SqlStore, placeholders};
use crate::accounts::*;
use crate::model::{ApiToken, Millis, TokenScope};
use crate::{Result, StoreError};

pub(super) const USER_COLUMNS: &str = "id, email, password_hash, created_at";
const TOKEN_COLUMNS: &str = "id, token_hash, scope, label, created_at, revoked, user_id";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unexpected stored {what}: {value:?}"))
}

pub(super) fn user(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn role(row: &AnyRow) -> Result<Role> {
    let raw: String = row.try_get("role")?;
    Role::parse(&raw).ok_or_else(|| corrupt("role", &raw))
}

fn invite(row: &AnyRow) -> Result<Invite> {
    Ok(Invite {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        role: role(row)?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn not_found_if_none(affected: u64) -> Result<()> {
    if affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn create_user(&self, email: &str, password_hash: &str) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email)
            .bind(password_hash)
            .bind(self.clock.now_ms())
            .fetch_one(&self.writer)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("a user with email {email:?} already exists"))
                }
                other => other,
            })?;
        user(&row)
    }

    async fn create_first_owner(&self, email: &str, password_hash: &str) -> Result<Option<User>> {
        members::create_first_owner(self, email, password_hash).await
    }

    async fn get_user(&self, id: i64) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref()
            .map(user)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(user).transpose()
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .execute(&self.writer)
            .await?;
        not_found_if_none(done.rows_affected())
    }

    async fn create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        csrf_token: &str,
        expires_at: Millis,
    ) -> Result<Session> {
        let now = self.clock.now_ms();
        let row = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&self.writer)
        .await?;
        Ok(Session {
            id: row.try_get("id")?,
            user_id,
            csrf_token: csrf_token.to_string(),
            created_at: now,
            expires_at,
        })
    }

    async fn find_session(&self, token_hash: &str, now: Millis) -> Result<Option<(Session, User)>> {
        // Read from the writer pool: a session deleted a moment ago (logout, revoke) must
        // be gone for the very next request.
        let row = sqlx::query(
            "SELECT s.id AS session_id, s.csrf_token, s.created_at AS session_created, \
             s.expires_at, u.id, u.email, u.password_hash, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = user(&row)?;
        let session = Session {
            id: row.try_get("session_id")?,
            user_id: user.id,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get("session_created")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok(Some((session, user)))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn set_member(&self, org_id: i64, user_id: i64, role: Role) -> Result<()> {
        members::change(self, org_id, user_id, Current::AnyOrNone, Some(role)).await
    }

    async fn remove_member(&self, org_id: i64, user_id: i64) -> Result<()> {
        members::change(self, org_id, user_id, Current::Member, None).await
    }

    async fn change_member(
        &self,
        org_id: i64,
        user_id: i64,
        current: Role,
        to: Option<Role>,
    ) -> Result<()> {
        members::change(self, org_id, user_id, Current::Exactly(current), to).await
    }

    async fn grant_member(&self, org_id: i64, user_id: i64, role: Role) -> Result<Role> {
        members::grant(self, org_id, user_id, role).await
    }

    async fn list_members(&self, org_id: i64) -> Result<Vec<Member>> {
        let all = sqlx::query(
            "SELECT u.id, u.email, m.role, m.created_at FROM org_members m \
             JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email",
        )
        .bind(org_id)
        .fetch_all(&self.reader)
        .await?;
        all.iter()
            .map(|r| {
                Ok(Member {
                    user_id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    role: role(r)?,
                    joined_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn memberships(&self, user_id: i64) -> Result<Vec<Membership>> {
        // Read from the writer pool: a removed member loses access at once.
        let cols = ORG_COLUMNS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, m.role FROM org_members m JOIN organizations o ON o.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY o.id"
        );
        let all = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.writer)
            .await?;
        all.iter()
            .map(|r| {
                Ok(Membership {
                    org: rows::org(r)?,
                    role: role(r)?,
                })
            })
            .collect()
    }

    async fn create_invite(
        &self,
        org_id: i64,
        token_hash: &str,
        role: Role,
        email: &str,
        expires_at: Millis,
    ) -> Result<Invite> {
        let row = sqlx::query(
            "INSERT INTO invites (org_id, token_hash, role, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, org_id, role, email, created_at, expires_at",
        )
        .bind(org_id)
        .bind(token_hash)
        .bind(role.as_str())
        .bind(email)
        .bind(self.clock.now_ms())
        .bind(expires_at)
        .fetch_one(&self.writer)
        .await?;
        invite(&row)
    }

    async fn find_invite(&self, token_hash: &str, now: Millis) -> Result<Option<Invite>> {
        let row = sqlx::query(
            "SELECT id, org_id, role, email, created_at, expires_at FROM invites \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(invite).transpose()
    }

    async fn list_invites(&self, org_id: i64, now: Millis) -> Result<Vec<Invite>> {
        let all = sqlx::query(
            "SELECT id, org_id, role, email, created_at, expires_at FROM invites \
             WHERE org_id = $1 AND expires_at > $2 ORDER BY id",
        )
        .bind(org_id)
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        all.iter().map(invite).collect()
    }

    async fn delete_invite(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM invites WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_user_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scope: TokenScope,
        label: &str,
    ) -> Result<ApiToken> {
        let sql = format!(
            "INSERT INTO api_tokens (token_hash, scope, label, created_at, revoked, user_id) \
             VALUES ($1, $2, $3, $4, 0, $5) RETURNING {TOKEN_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(scope.as_str())
            .bind(label)
            .bind(self.clock.now_ms())
            .bind(user_id)
            .fetch_one(&self.writer)
            .await?;
        rows::token(&row)
    }

    async fn find_owned_token(&self, token_hash: &str) -> Result<Option<OwnedToken>> {
        // The writer pool again: a revoked token must stop working with the next request.
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref()
            .map(|r| {
                Ok(OwnedToken {
                    token: rows::token(r)?,
                    user_id: r.try_get("user_id")?,
                })
            })
            .transpose()
    }

    async fn list_user_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC");
        let all = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
        all.iter().map(rows::token).collect()
    }

    async fn revoke_user_token(&self, user_id: i64, token_id: i64) -> Result<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        not_found_if_none(done.rows_affected())
    }

    async fn issue_event_buckets(
        &self,
        issue_ids: &[i64],
        since: Millis,
        bucket_ms: i64,
    ) -> Result<Vec<EventBucket>> {
        if issue_ids.is_empty() {
            return Ok(Vec::new());
        }
        let bucket_ms = bucket_ms.max(1);
        // Integer division of BIGINTs truncates on both backends; timestamps are positive.
        let sql = format!(
            "SELECT issue_id, (timestamp_ms / $1) * $1 AS bucket_start, COUNT(*) AS n FROM events \
             WHERE timestamp_ms >= $2 AND issue_id IN ({}) \
             GROUP BY issue_id, bucket_start ORDER BY issue_id, bucket_start",
            placeholders(3, issue_ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(bucket_ms).bind(since);
        for id in issue_ids {
            q = q.bind(*id);
        }
        let all = q.fetch_all(&self.reader).await?;
        all.iter()
            .map(|r| {
                Ok(EventBucket {
                    issue_id: r.try_get("issue_id")?,
                    start: r.try_get("bucket_start")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    async fn adjacent_issue_event(
        &self,
        issue_id: i64,
        timestamp: Millis,
        id: i64,
        older: bool,
    ) -> Result<Option<String>> {
        let sql = if older {
            "SELECT event_id FROM events WHERE issue_id = $1 AND \
             (timestamp_ms < $2 OR (timestamp_ms = $2 AND id < $3)) \
             ORDER BY timestamp_ms DESC, id DESC LIMIT 1"
        } else {
            "SELECT event_id FROM events WHERE issue_id = $1 AND \
             (timestamp_ms > $2 OR (timestamp_ms = $2 AND id > $3)) \
             ORDER BY timestamp_ms ASC, id ASC LIMIT 1"
        };
        let row = sqlx::query(sql)
            .bind(issue_id)
            .bind(timestamp)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.try_get("event_id")).transpose()?)
    }

    async fn allowed_origins(&self, project_id: i64) -> Result<Vec<String>> {
        let row = sqlx::query("SELECT allowed_origins FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        let raw: String = row.try_get("allowed_origins")?;
        Ok(raw.lines().map(str::to_string).collect())
    }

    async fn set_allowed_origins(&self, project_id: i64, origins: &[String]) -> Result<()> {
        let done = sqlx::query("UPDATE projects SET allowed_origins = $2 WHERE id = $1")
            .bind(project_id)
            .bind(origins.join("\n"))
            .execute(&self.writer)
            .await?;
        not_found_if_none(done.rows_affected())
    }
}
