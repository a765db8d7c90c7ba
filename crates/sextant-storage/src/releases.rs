//! Releases, deploys, commits, session rollups and deploy-gate records, and the
//! `ReleaseStore` contract that `Store` includes.
//!
//! Session health is kept as rollups, never per-session rows: counts per (project,
//! release, environment, minute) plus per-hour sets of hashed distinct ids, pruned by age.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::model::{Issue, Millis};

/// Bits of a distinct user's state within one hour bucket.
pub mod user_bits {
    /// Counted in the total: the user started a session (`init`).
    pub const SEEN: i64 = 1;
    pub const ERRORED: i64 = 2;
    pub const CRASHED: i64 = 4;
    pub const ABNORMAL: i64 = 8;
    pub const UNHANDLED: i64 = 16;
}

/// One session update or aggregate bucket, reduced to counter increments. Written in the
/// inbox transaction, so each is applied exactly once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDelta {
    pub project_id: i64,
    pub release: String,
    /// `""` when the SDK sent none.
    pub environment: String,
    /// When the session started; selects the bucket.
    pub started: Millis,
    pub total: i64,
    /// Sessions newly in any error state (crashed, abnormal and unhandled included).
    pub errored: i64,
    pub crashed: i64,
    pub abnormal: i64,
    pub unhandled: i64,
    /// Hash of the session id of an individual update with an error state: the session
    /// then counts once in `errored` however many updates say so.
    pub errored_sid: Option<i64>,
    /// Hash of the distinct id, with the `user_bits` this update sets.
    pub user: Option<(i64, i64)>,
}

/// Summed session counts over a window (and distinct users from the hour sets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTotals {
    pub total: i64,
    pub errored: i64,
    pub crashed: i64,
    pub abnormal: i64,
    pub unhandled: i64,
    pub users: i64,
    pub errored_users: i64,
    pub crashed_users: i64,
    pub abnormal_users: i64,
}

/// Counts of one minute bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionBucket {
    pub release: String,
    pub environment: String,
    pub bucket: Millis,
    pub total: i64,
    pub errored: i64,
    pub crashed: i64,
    pub abnormal: i64,
    pub unhandled: i64,
}

/// Which sessions or events a health query covers. `None` means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthScope {
    pub project_id: i64,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Inclusive start, exclusive end.
    pub from: Millis,
    pub to: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub project_id: i64,
    pub version: String,
    /// First event, session or API call that named it.
    pub date_created: Millis,
    pub date_started: Option<Millis>,
    /// Set by `finalize`.
    pub date_released: Option<Millis>,
    pub url: Option<String>,
}

/// Fields to set on a release; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleasePatch {
    pub date_started: Option<Millis>,
    pub date_released: Option<Millis>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeploy {
    pub project_id: i64,
    pub version: String,
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<Millis>,
    pub date_finished: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub id: i64,
    pub project_id: i64,
    pub version: String,
    pub environment: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub date_started: Option<Millis>,
    pub date_finished: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitFile {
    pub path: String,
    /// `A`, `M` or `D`.
    pub change_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCommit {
    pub sha: String,
    pub repository: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub message: Option<String>,
    pub committed_at: Option<Millis>,
    pub files: Vec<CommitFile>,
}

/// Counts of error events in a scope, and those of the issues first seen in the release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    pub events: i64,
    pub unhandled_events: i64,
    /// (issue id, events in scope, distinct users in scope) of issues whose first
    /// release is the scope's release.
    pub new_issues: Vec<(i64, i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCheck {
    pub project_id: i64,
    pub version: String,
    pub environment: String,
    pub deploy_id: Option<i64>,
    pub due_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub id: i64,
    pub project_id: i64,
    pub version: String,
    pub environment: String,
    pub deploy_id: Option<i64>,
    pub due_at: Millis,
    pub run_at: Option<Millis>,
    /// `healthy`, `regressed`, `inconclusive` or `error`.
    pub verdict: Option<String>,
    /// The gate's JSON report.
    pub report: Option<String>,
}

#[async_trait]
pub trait ReleaseStore: Send + Sync + 'static {
    /// Creates the release if needed, applies the patch, returns it.
    async fn upsert_release(
        &self,
        project_id: i64,
        version: &str,
        patch: &ReleasePatch,
    ) -> Result<ReleaseRecord>;
    async fn get_release(&self, project_id: i64, version: &str) -> Result<ReleaseRecord>;
    /// Newest first.
    async fn list_releases(&self, project_id: i64) -> Result<Vec<ReleaseRecord>>;
    /// Deletes the release with its deploys, commits, rollups and checks.
    async fn delete_release(&self, project_id: i64, version: &str) -> Result<()>;

    async fn create_deploy(&self, deploy: &NewDeploy) -> Result<DeployRecord>;
    /// A release's deploys, or (with `version` `None`) every deploy to `environment`;
    /// oldest first by `date_finished`.
    async fn list_deploys(
        &self,
        project_id: i64,
        version: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<DeployRecord>>;

    /// Replaces the release's commits.
    async fn set_release_commits(
        &self,
        project_id: i64,
        version: &str,
        commits: &[NewCommit],
    ) -> Result<()>;
    /// In the order they were set.
    async fn list_release_commits(&self, project_id: i64, version: &str) -> Result<Vec<NewCommit>>;

    async fn session_totals(&self, scope: &HealthScope) -> Result<SessionTotals>;
    /// Minute buckets in the scope, oldest first.
    async fn session_buckets(&self, scope: &HealthScope) -> Result<Vec<SessionBucket>>;
    async fn event_counts(&self, scope: &HealthScope) -> Result<EventCounts>;
    /// Deletes rollups older than `rollups_before` and errored-session sets older than
    /// `sids_before`.
    async fn prune_sessions(&self, rollups_before: Millis, sids_before: Millis) -> Result<u64>;

    /// The release of the issue's newest event before `before`, if any.
    async fn issue_release_before(&self, issue_id: i64, before: Millis) -> Result<Option<String>>;

    async fn gate_settings(&self, project_id: i64) -> Result<Option<String>>;
    async fn set_gate_settings(&self, project_id: i64, settings_json: &str) -> Result<()>;

    async fn schedule_checks(&self, checks: &[NewCheck]) -> Result<()>;
    /// Unrun checks due at `now`, oldest first.
    async fn due_checks(&self, now: Millis, limit: u32) -> Result<Vec<CheckRecord>>;
    async fn complete_check(
        &self,
        id: i64,
        run_at: Millis,
        verdict: &str,
        report: &str,
    ) -> Result<()>;
    async fn get_check(&self, id: i64) -> Result<CheckRecord>;
    /// A release's checks, newest due first.
    async fn list_checks(&self, project_id: i64, version: &str) -> Result<Vec<CheckRecord>>;

    /// Issues first seen in the release (`regressed` false) or that regressed in it
    /// (`regressed` true), newest first, at most `limit`.
    async fn list_release_issues(
        &self,
        project_id: i64,
        version: &str,
        regressed: bool,
        limit: u32,
    ) -> Result<Vec<Issue>>;
    /// (release, issues first seen in it) for each release of the project with any.
    async fn count_new_issues_by_release(&self, project_id: i64) -> Result<Vec<(String, i64)>>;
}
