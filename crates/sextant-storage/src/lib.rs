//! Sextant storage: the `Store` contract and its SQLite and PostgreSQL backends.
//!
//! Architecture invariant: this is the only crate that names SQL or `sqlx` types. Callers
//! hold an `Arc<dyn Store>` and see only the records in [`model`] and [`StoreError`].
//!
//! The backend is chosen from the URL scheme: `sqlite://…` or `postgres://…`.

pub mod accounts;
pub mod alerts;
pub mod clock;
pub mod mail;
pub mod metric_alerts;
pub mod model;
mod redact;
pub mod releases;
mod sql;

pub use accounts::*;
pub use alerts::*;
pub use mail::*;
pub use metric_alerts::*;
pub use model::*;
pub use redact::redact_url;
pub use releases::*;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The change would leave an organization without an owner.
    #[error("an organization needs at least one owner")]
    LastOwner,
    #[error("invalid database url: {0}")]
    BadUrl(String),
    /// A broken promise of storage itself (a value it cannot read back, a stopped
    /// journal), said in its own words.
    #[error("database error: {0}")]
    Backend(String),
    /// An error of the database driver, the migrations or the file system, kept whole
    /// so that logs show its chain of causes.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Turns a set of claimed inbox rows into a batch to write. It may run inside the claiming
/// transaction (PostgreSQL), so it must be pure CPU work (parse, normalize, group), never
/// I/O, and may run more than once for the same rows.
pub type ProcessFn<'a> = dyn Fn(&[InboxRow]) -> Batch + Send + Sync + 'a;

/// Result of one `process_inbox` round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Inbox rows consumed (and deleted).
    pub rows: usize,
    pub events: Vec<EventWriteResult>,
}

#[async_trait]
pub trait Store:
    AccountStore + AlertStore + MailStore + MetricAlertStore + ReleaseStore + Send + Sync + 'static
{
    /// `"sqlite"` or `"postgres"`.
    fn backend_name(&self) -> &'static str;

    /// The clock this store stamps rows with, for everything else that needs "now".
    fn clock(&self) -> std::sync::Arc<dyn clock::Clock>;

    // --- organizations, projects, keys, tokens -------------------------------------

    /// Creates organization `default`, project `default` and one DSN key when the
    /// database holds no organization yet. Returns what it created, or `None`.
    async fn bootstrap_default(&self) -> Result<Option<(Organization, Project, ProjectKey)>>;
    async fn create_org(&self, slug: &str, name: &str) -> Result<Organization>;
    async fn get_org(&self, slug: &str) -> Result<Organization>;
    async fn list_orgs(&self) -> Result<Vec<Organization>>;

    /// Fails with `Conflict` when the slug is taken in that organization.
    async fn create_project(
        &self,
        org_id: i64,
        slug: &str,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project>;
    async fn get_project(&self, id: i64) -> Result<Project>;
    async fn get_project_by_slug(&self, org_slug: &str, slug: &str) -> Result<Project>;
    /// All projects, or those of one organization.
    async fn list_projects(&self, org_id: Option<i64>) -> Result<Vec<Project>>;
    async fn rename_project(&self, id: i64, name: &str) -> Result<Project>;
    /// Deletes the project and everything stored for it.
    async fn delete_project(&self, id: i64) -> Result<()>;

    /// Creates a key with a fresh random 32-hex public key.
    async fn create_key(&self, project_id: i64, label: &str) -> Result<ProjectKey>;
    async fn list_keys(&self, project_id: i64) -> Result<Vec<ProjectKey>>;
    /// Looks a key up by its public part, active or not.
    async fn find_key(&self, public_key: &str) -> Result<Option<ProjectKey>>;
    async fn set_key_active(
        &self,
        project_id: i64,
        public_key: &str,
        active: bool,
    ) -> Result<ProjectKey>;
    async fn set_key_rate_limit(
        &self,
        project_id: i64,
        public_key: &str,
        count: Option<i64>,
        window_secs: Option<i64>,
    ) -> Result<ProjectKey>;
    async fn delete_key(&self, project_id: i64, public_key: &str) -> Result<()>;

    async fn create_token(
        &self,
        token_hash: &str,
        scope: TokenScope,
        label: &str,
    ) -> Result<ApiToken>;
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    async fn list_tokens(&self) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, id: i64) -> Result<()>;

    // --- ingest inbox -------------------------------------------------------------

    /// Opens what queueing and processing need beyond the database (an SQLite file
    /// store's journal, which one process at a time may hold), so that a server fails at
    /// start rather than at its first request. Other calls open it on first use too.
    async fn open_inbox(&self) -> Result<()>;
    /// Writes entries all-or-nothing; when this returns `Ok` they are durable.
    async fn enqueue(&self, entries: Vec<InboxEntry>) -> Result<Vec<i64>>;
    /// Whether concurrent `enqueue` calls are committed together by the store itself (an
    /// SQLite file store's journal), so callers need not gather them into batches.
    fn enqueue_groups_itself(&self) -> bool;
    /// Requests waiting to be processed.
    async fn inbox_depth(&self) -> Result<i64>;
    /// Claims up to `limit` queued requests (oldest first), runs `process` on them, then
    /// writes the batch and records the requests as consumed in one transaction. Returns
    /// `rows == 0` when nothing is queued. Rows claimed by another node are skipped
    /// (PostgreSQL); on SQLite requests consumed meanwhile by another process make the
    /// call fail with `Conflict` and store nothing.
    async fn process_inbox(&self, limit: u32, process: &ProcessFn<'_>) -> Result<ProcessReport>;

    // --- issues and events -----------------------------------------------------------

    async fn list_issues(&self, query: &IssueQuery) -> Result<Page<Issue>>;
    async fn get_issue(&self, id: i64) -> Result<Issue>;
    /// Applies the update to each listed issue; returns the updated issues.
    async fn update_issues(&self, ids: &[i64], update: &IssueUpdate) -> Result<Vec<Issue>>;
    /// Deletes the issues with their events and tag counts.
    async fn delete_issues(&self, ids: &[i64]) -> Result<()>;

    async fn get_event(&self, project_id: i64, event_id: &str) -> Result<EventRecord>;
    /// Newest first.
    async fn list_issue_events(
        &self,
        issue_id: i64,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Page<EventRecord>>;
    async fn latest_issue_event(&self, issue_id: i64) -> Result<EventRecord>;
    async fn oldest_issue_event(&self, issue_id: i64) -> Result<EventRecord>;
    async fn count_events(&self, project_id: i64) -> Result<i64>;

    async fn issue_tag_keys(&self, issue_id: i64) -> Result<Vec<TagKeySummary>>;
    /// Most frequent first.
    async fn issue_tag_values(
        &self,
        issue_id: i64,
        key: &str,
        limit: u32,
    ) -> Result<Vec<TagValueCount>>;

    async fn list_attachments(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> Result<Vec<AttachmentRecord>>;
    /// The record and its bytes.
    async fn get_attachment(
        &self,
        project_id: i64,
        attachment_id: i64,
    ) -> Result<(AttachmentRecord, Vec<u8>)>;

    async fn count_raw_items(&self, project_id: i64, item_type: &str) -> Result<i64>;
    /// Summed outcomes per (outcome, category, reason).
    async fn outcome_totals(&self, project_id: i64) -> Result<Vec<OutcomeDelta>>;
}

/// Opens (and migrates) the store named by `url`: `sqlite://PATH` or `postgres://…`.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    open_with_clock(url, std::sync::Arc::new(clock::SystemClock)).await
}

/// [`open`] with the clock the store stamps rows with and hands out ([`Store::clock`]).
pub async fn open_with_clock(
    url: &str,
    clock: std::sync::Arc<dyn clock::Clock>,
) -> Result<std::sync::Arc<dyn Store>> {
    let mut store = sql::open(url).await?;
    store.clock = clock;
    Ok(std::sync::Arc::new(store))
}
