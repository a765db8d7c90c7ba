//! Alert mail: per-user options (such as opting out of alert email), and the digests that
//! collapse one project's notifications for one user into one mail.
//!
//! A digest entry is written by the rule evaluator as a delivery to
//! [`DeliveryTarget::Digest`](crate::DeliveryTarget::Digest), so it shares the transaction
//! that records the rule firing. The entry opens the (project, user) digest, or pushes an
//! open one's due time to `min_delay` after this entry, but never past `max_delay` after
//! the digest's first entry. A digest worker claims due digests with a lease, renders one
//! mail, and commits it as an email delivery in the transaction that consumes the entries:
//! each entry is mailed once, whatever node claims it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::alerts::NewDelivery;
use crate::model::Millis;

/// One notification waiting in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub id: i64,
    pub issue_id: Option<i64>,
    pub rule_id: Option<i64>,
    /// What the evaluator wrote (a notice, as JSON).
    pub payload: String,
    pub created_at: Millis,
}

/// A claimed digest: the notifications of one project for one user, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailDigest {
    pub id: i64,
    pub org_id: i64,
    pub project_id: i64,
    pub user_id: i64,
    /// When its first entry was written.
    pub opened_at: Millis,
    pub due_at: Millis,
    pub entries: Vec<DigestEntry>,
}

#[async_trait]
pub trait MailStore: Send + Sync + 'static {
    // --- digests ---------------------------------------------------------------------
    /// Claims up to `limit` due digests nobody holds, for `lease_ms`, with their entries.
    async fn claim_digests(&self, limit: u32, lease_ms: i64) -> Result<Vec<MailDigest>>;
    /// In one transaction: consumes the digest's entries and writes `mails`. The digest
    /// is closed, or, when entries arrived since the claim, released with its due time
    /// recomputed from them. `Conflict`, with nothing written, when any of the entries
    /// was consumed already (another node's claim outlived its lease).
    async fn commit_digest(&self, digest: &MailDigest, mails: &[NewDelivery]) -> Result<()>;
    /// Open digests and their entries, for operators and tests.
    async fn digests_pending(&self) -> Result<(i64, i64)>;

    // --- user options ----------------------------------------------------------------
    /// The user's options, by key; values are JSON.
    async fn user_options(&self, user_id: i64) -> Result<Vec<(String, serde_json::Value)>>;
    /// Sets the option, or removes it when `value` is `None`. `NotFound` for no such user.
    async fn set_user_option(
        &self,
        user_id: i64,
        key: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<()>;
    /// One option of several users: those who have it set, with its value.
    async fn user_option_values(
        &self,
        key: &str,
        user_ids: &[i64],
    ) -> Result<Vec<(i64, serde_json::Value)>>;
}
