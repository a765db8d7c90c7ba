//! Accounts: users, sessions, organization membership, invites, personal API tokens, and
//! the per-project settings and reads the web console needs.
//!
//! Secrets (session, invite and API tokens) cross this boundary only as SHA-256 hex
//! digests; the server mints and hashes them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::model::{ApiToken, Millis, Organization, TokenScope};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub created_at: Millis,
}

/// A signed-in browser. The cookie holds the secret; only its digest is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// A member's role in an organization, ordered by power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub org: Organization,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    pub joined_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: i64,
    pub org_id: i64,
    pub role: Role,
    /// Who it is meant for; informative only, the link is the credential.
    pub email: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// An API token with its owner: `None` for instance-wide tokens made with the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedToken {
    pub token: ApiToken,
    pub user_id: Option<i64>,
}

/// Events of one issue in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBucket {
    pub issue_id: i64,
    /// Start of the bucket, Unix ms.
    pub start: Millis,
    pub count: i64,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    // --- users and sessions -----------------------------------------------------------

    async fn count_users(&self) -> Result<i64>;
    /// Creates the first user as owner of every organization, in one step and only while
    /// no user exists: `None`, with nothing written, once one does. Concurrent first-run
    /// setups therefore make exactly one owner.
    async fn create_first_owner(&self, email: &str, password_hash: &str) -> Result<Option<User>>;
    /// Fails with `Conflict` when the email is taken (emails compare as given; the
    /// server lower-cases them).
    async fn create_user(&self, email: &str, password_hash: &str) -> Result<User>;
    async fn get_user(&self, id: i64) -> Result<User>;
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<()>;

    async fn create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        csrf_token: &str,
        expires_at: Millis,
    ) -> Result<Session>;
    /// The unexpired session with this digest and its user.
    async fn find_session(&self, token_hash: &str, now: Millis) -> Result<Option<(Session, User)>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Signs the user out everywhere (after a password change, for instance).
    async fn delete_user_sessions(&self, user_id: i64) -> Result<()>;

    // --- organizations ------------------------------------------------------------------

    // Every membership change below refuses with `LastOwner`, changing nothing, when it
    // would take the organization's last owner away; concurrent changes are serialized
    // per organization, so two owners demoting each other cannot both succeed.

    /// Adds or changes a membership.
    async fn set_member(&self, org_id: i64, user_id: i64, role: Role) -> Result<()>;
    /// `NotFound` for a non-member.
    async fn remove_member(&self, org_id: i64, user_id: i64) -> Result<()>;
    /// Changes a member's role (`Some`) or removes them (`None`), only while their role is
    /// still `current`: `Conflict` when it changed meanwhile, so a decision taken on the
    /// role read before (who may change whom) holds when it applies. `NotFound` for a
    /// non-member.
    async fn change_member(
        &self,
        org_id: i64,
        user_id: i64,
        current: Role,
        to: Option<Role>,
    ) -> Result<()>;
    /// Makes the user a member with at least `role`: adds them, or raises their role,
    /// but never lowers it. Returns the role they hold afterwards.
    async fn grant_member(&self, org_id: i64, user_id: i64, role: Role) -> Result<Role>;
    async fn list_members(&self, org_id: i64) -> Result<Vec<Member>>;
    /// The user's organizations, by organization id.
    async fn memberships(&self, user_id: i64) -> Result<Vec<Membership>>;

    async fn create_invite(
        &self,
        org_id: i64,
        token_hash: &str,
        role: Role,
        email: &str,
        expires_at: Millis,
    ) -> Result<Invite>;
    async fn find_invite(&self, token_hash: &str, now: Millis) -> Result<Option<Invite>>;
    async fn list_invites(&self, org_id: i64, now: Millis) -> Result<Vec<Invite>>;
    /// Deletes (uses up) an invite; `true` when this call deleted it, so of two
    /// redemptions at once exactly one goes on.
    async fn delete_invite(&self, id: i64) -> Result<bool>;

    // --- personal API tokens ----------------------------------------------------------

    async fn create_user_token(
        &self,
        user_id: i64,
        token_hash: &str,
        scope: TokenScope,
        label: &str,
    ) -> Result<ApiToken>;
    async fn find_owned_token(&self, token_hash: &str) -> Result<Option<OwnedToken>>;
    /// The user's tokens, revoked ones included, newest first.
    async fn list_user_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>>;
    /// `NotFound` unless the token belongs to the user.
    async fn revoke_user_token(&self, user_id: i64, token_id: i64) -> Result<()>;

    // --- console reads and project settings --------------------------------------------

    /// Event counts per issue and bucket of `bucket_ms`, for events at or after `since`.
    async fn issue_event_buckets(
        &self,
        issue_ids: &[i64],
        since: Millis,
        bucket_ms: i64,
    ) -> Result<Vec<EventBucket>>;
    /// The event id next to (`timestamp`, `id`) in the issue: the next older one when
    /// `older`, else the next newer one.
    async fn adjacent_issue_event(
        &self,
        issue_id: i64,
        timestamp: Millis,
        id: i64,
        older: bool,
    ) -> Result<Option<String>>;
    /// One origin per entry; empty means any origin.
    async fn allowed_origins(&self, project_id: i64) -> Result<Vec<String>>;
    async fn set_allowed_origins(&self, project_id: i64, origins: &[String]) -> Result<()>;
}
