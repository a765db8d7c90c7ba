//! Records that cross the storage boundary: what callers write and what queries return.
//!
//! Times are Unix milliseconds (`Millis`) so both backends store them as `BIGINT`.

use serde::{Deserialize, Serialize};

/// Unix time in milliseconds.
pub type Millis = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: i64,
    pub org_id: i64,
    pub org_slug: String,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    pub created_at: Millis,
}

/// A DSN key. `public_key` is 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectKey {
    pub id: i64,
    pub project_id: i64,
    pub public_key: String,
    pub label: String,
    pub active: bool,
    /// Events accepted per `rate_limit_window_secs`; `None` means the server default.
    pub rate_limit_count: Option<i64>,
    pub rate_limit_window_secs: Option<i64>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Write,
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<TokenScope> {
        match s {
            "read" => Some(TokenScope::Read),
            "write" => Some(TokenScope::Write),
            "admin" => Some(TokenScope::Admin),
            _ => None,
        }
    }
}

/// An API bearer token. Only the SHA-256 hex digest of the secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub token_hash: String,
    pub scope: TokenScope,
    pub label: String,
    pub created_at: Millis,
    pub revoked: bool,
}

/// How the body of an inbox entry is to be read by the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxKind {
    /// A (decoded) envelope, as posted to `/envelope/`.
    Envelope,
    /// A single JSON event, as posted to `/store/` (already decoded to JSON).
    Store,
}

impl InboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxKind::Envelope => "envelope",
            InboxKind::Store => "store",
        }
    }

    pub fn parse(s: &str) -> Option<InboxKind> {
        match s {
            "envelope" => Some(InboxKind::Envelope),
            "store" => Some(InboxKind::Store),
            _ => None,
        }
    }
}

/// An accepted request waiting for the pipeline. Once written it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub project_id: i64,
    pub kind: InboxKind,
    pub received_at: Millis,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub id: i64,
    pub entry: InboxEntry,
}

/// One processed error/default event, ready to be grouped and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub project_id: i64,
    /// 32 lowercase hex.
    pub event_id: String,
    pub timestamp: Millis,
    pub received_at: Millis,
    pub level: String,
    pub platform: String,
    pub event_type: String,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub title: String,
    pub culprit: String,
    /// Formatted message, for free-text search.
    pub message: String,
    /// Issue metadata (`{"type","value","filename","function"}`), Sentry's shape.
    pub metadata: serde_json::Value,
    /// Tags including derived ones (`level`, `release`, `environment`, `user`, …).
    pub tags: Vec<(String, String)>,
    /// Identity used for distinct-user counts (`id:…`, `email:…`, `ip:…`).
    pub user_key: Option<String>,
    pub trace_id: Option<String>,
    /// `true` when any exception mechanism says `handled: false`.
    pub unhandled: bool,
    pub grouping_config: String,
    /// Grouping hashes, primary first. An event joins the issue owning any of them.
    pub hashes: Vec<String>,
    /// zstd-compressed normalized event JSON.
    pub payload: Vec<u8>,
}

/// An attachment, stored by (project, event id) whether or not the event has arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub project_id: i64,
    pub event_id: String,
    pub name: String,
    pub content_type: String,
    pub attachment_type: String,
    pub size: i64,
    pub data: Vec<u8>,
}

/// An item kept raw for later processing (sessions, transactions, spans, feedback, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRawItem {
    pub project_id: i64,
    pub item_type: String,
    pub event_id: Option<String>,
    pub received_at: Millis,
    /// zstd-compressed item payload.
    pub payload: Vec<u8>,
}

/// A counted outcome: accepted, filtered, rate limited, invalid, or discarded by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeDelta {
    pub project_id: i64,
    /// Start of the hour, Unix ms.
    pub bucket: Millis,
    pub outcome: String,
    pub category: String,
    pub reason: String,
    pub quantity: i64,
}

/// Everything produced from a set of inbox rows, written in one transaction that also
/// deletes those rows. That single transaction is what makes processing exactly-once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub events: Vec<NewEvent>,
    pub attachments: Vec<NewAttachment>,
    pub raw_items: Vec<NewRawItem>,
    pub outcomes: Vec<OutcomeDelta>,
    /// Session updates and aggregates, reduced to rollup increments.
    pub sessions: Vec<crate::releases::SessionDelta>,
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWriteResult {
    pub event_id: String,
    pub issue_id: Option<i64>,
    /// The event id was already stored for this project; nothing was changed.
    pub duplicate: bool,
    pub new_issue: bool,
    /// The event reopened a resolved issue.
    pub regression: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Unresolved,
    Resolved,
    /// Resolved for every release after the one current when it was marked.
    ResolvedInNextRelease,
    Ignored,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::ResolvedInNextRelease => "resolved_next_release",
            IssueStatus::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<IssueStatus> {
        match s {
            "unresolved" => Some(IssueStatus::Unresolved),
            "resolved" => Some(IssueStatus::Resolved),
            "resolved_next_release" => Some(IssueStatus::ResolvedInNextRelease),
            "ignored" => Some(IssueStatus::Ignored),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: i64,
    pub project_id: i64,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub event_type: String,
    pub metadata: serde_json::Value,
    pub status: IssueStatus,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub first_release: Option<String>,
    pub last_release: Option<String>,
    pub times_seen: i64,
    pub user_count: i64,
    pub unhandled: bool,
    pub is_regression: bool,
    pub regressed_in_release: Option<String>,
    pub regressed_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    /// For `ResolvedInNextRelease`: the release that was current when it was marked.
    pub resolved_in_release: Option<String>,
    pub grouping_config: String,
    pub primary_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: i64,
    pub project_id: i64,
    pub event_id: String,
    pub issue_id: Option<i64>,
    pub timestamp: Millis,
    pub received_at: Millis,
    pub level: String,
    pub platform: String,
    pub event_type: String,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub title: String,
    pub culprit: String,
    pub message: String,
    pub tags: Vec<(String, String)>,
    pub trace_id: Option<String>,
    /// zstd-compressed normalized event JSON, as written.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    pub id: i64,
    pub project_id: i64,
    pub event_id: String,
    pub name: String,
    pub content_type: String,
    pub attachment_type: String,
    pub size: i64,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagValueCount {
    pub value: String,
    pub count: i64,
    pub first_seen: Millis,
    pub last_seen: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagKeySummary {
    pub key: String,
    /// Events carrying this key.
    pub total_values: i64,
    pub unique_values: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// One condition of an issue search. The query language is parsed by the server.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueFilter {
    Status {
        statuses: Vec<IssueStatus>,
        negate: bool,
    },
    Level {
        value: String,
        negate: bool,
    },
    /// Matches issues with at least one event carrying `key=value` (`release`,
    /// `environment`, `user.email` and custom tags alike).
    Tag {
        key: String,
        value: String,
        negate: bool,
    },
    FirstSeen {
        cmp: Cmp,
        at: Millis,
    },
    LastSeen {
        cmp: Cmp,
        at: Millis,
    },
    /// Free text over title, culprit and message.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueSort {
    #[default]
    LastSeen,
    FirstSeen,
    /// Sentry's `freq`: by event count.
    Events,
    /// Sentry's `user`: by distinct users.
    Users,
}

/// Keyset position: the sort value and id of the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort_value: i64,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IssueQuery {
    pub project_ids: Vec<i64>,
    pub filters: Vec<IssueFilter>,
    pub sort: IssueSort,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more rows follow.
    pub next: Option<Cursor>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssueUpdate {
    pub status: Option<IssueStatus>,
}
