//! Column lists and row decoders that turn `AnyRow`s into the public records.
//!
//! Queries name their columns explicitly (never `SELECT *`): PostgreSQL's `issues` table
//! carries a `tsvector` column the `Any` driver cannot decode.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::exec::Positional;

use crate::model::*;
use crate::{Result, StoreError};

pub(super) const ORG_COLUMNS: &str = "id, slug, name, created_at";

/// Needs `FROM projects p JOIN organizations o ON o.id = p.org_id`.
pub(super) const PROJECT_COLUMNS: &str =
    "p.id, p.org_id, o.slug AS org_slug, p.slug, p.name, p.platform, p.created_at";
pub(super) const PROJECT_FROM: &str = "projects p JOIN organizations o ON o.id = p.org_id";

pub(super) const KEY_COLUMNS: &str = "id, project_id, public_key, label, active, rate_limit_count, rate_limit_window_secs, created_at";

pub(super) const TOKEN_COLUMNS: &str = "id, token_hash, scope, label, created_at, revoked";

pub(super) const ISSUE_COLUMNS: &str = "id, project_id, title, culprit, level, event_type, \
     metadata, status, first_seen, last_seen, first_release, last_release, times_seen, \
     user_count, unhandled, is_regression, regressed_in_release, regressed_at, resolved_at, \
     resolved_in_release, grouping_config, primary_hash";

pub(super) const EVENT_COLUMNS: &str = "id, project_id, event_id, issue_id, timestamp_ms, \
     received_at, level, platform, event_type, release_name, environment, title, culprit, \
     message, tags, trace_id, payload";

pub(super) const ATTACHMENT_COLUMNS: &str =
    "id, project_id, event_id, name, content_type, attachment_type, size, created_at";

pub(super) const INBOX_COLUMNS: &str =
    "id, project_id, kind, received_at, client_ip, user_agent, body";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unexpected stored {what}: {value:?}"))
}

fn bool_col(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

pub(super) fn org(row: &AnyRow) -> Result<Organization> {
    Ok(Organization {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn project(row: &AnyRow) -> Result<Project> {
    Ok(Project {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        platform: row.try_get("platform")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A row of `SELECT {KEY_COLUMNS}`, read by position so either driver's rows map alike.
pub(super) fn key(row: &impl Positional) -> Result<ProjectKey> {
    Ok(ProjectKey {
        id: row.int(0)?,
        project_id: row.int(1)?,
        public_key: row.text(2)?,
        label: row.text(3)?,
        active: row.int(4)? != 0,
        rate_limit_count: row.opt_int(5)?,
        rate_limit_window_secs: row.opt_int(6)?,
        created_at: row.int(7)?,
    })
}

pub(super) fn token(row: &AnyRow) -> Result<ApiToken> {
    let scope: String = row.try_get("scope")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        token_hash: row.try_get("token_hash")?,
        scope: TokenScope::parse(&scope).ok_or_else(|| corrupt("token scope", &scope))?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked: bool_col(row, "revoked")?,
    })
}

/// A row of `SELECT {INBOX_COLUMNS}`, by position like `key`.
pub(super) fn inbox_row(row: &impl Positional) -> Result<InboxRow> {
    let kind = row.text(2)?;
    Ok(InboxRow {
        id: row.int(0)?,
        entry: InboxEntry {
            project_id: row.int(1)?,
            kind: InboxKind::parse(&kind).ok_or_else(|| corrupt("inbox kind", &kind))?,
            received_at: row.int(3)?,
            client_ip: row.opt_text(4)?,
            user_agent: row.opt_text(5)?,
            body: row.blob(6)?,
        },
    })
}

pub(super) fn issue(row: &AnyRow) -> Result<Issue> {
    let status: String = row.try_get("status")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(Issue {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        title: row.try_get("title")?,
        culprit: row.try_get("culprit")?,
        level: row.try_get("level")?,
        event_type: row.try_get("event_type")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|_| corrupt("issue metadata", &metadata))?,
        status: IssueStatus::parse(&status).ok_or_else(|| corrupt("issue status", &status))?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        first_release: row.try_get("first_release")?,
        last_release: row.try_get("last_release")?,
        times_seen: row.try_get("times_seen")?,
        user_count: row.try_get("user_count")?,
        unhandled: bool_col(row, "unhandled")?,
        is_regression: bool_col(row, "is_regression")?,
        regressed_in_release: row.try_get("regressed_in_release")?,
        regressed_at: row.try_get("regressed_at")?,
        resolved_at: row.try_get("resolved_at")?,
        resolved_in_release: row.try_get("resolved_in_release")?,
        grouping_config: row.try_get("grouping_config")?,
        primary_hash: row.try_get("primary_hash")?,
    })
}

pub(super) fn event(row: &AnyRow) -> Result<EventRecord> {
    let tags: String = row.try_get("tags")?;
    Ok(EventRecord {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        event_id: row.try_get("event_id")?,
        issue_id: row.try_get("issue_id")?,
        timestamp: row.try_get("timestamp_ms")?,
        received_at: row.try_get("received_at")?,
        level: row.try_get("level")?,
        platform: row.try_get("platform")?,
        event_type: row.try_get("event_type")?,
        release: row.try_get("release_name")?,
        environment: row.try_get("environment")?,
        title: row.try_get("title")?,
        culprit: row.try_get("culprit")?,
        message: row.try_get("message")?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("event tags", &tags))?,
        trace_id: row.try_get("trace_id")?,
        payload: row.try_get("payload")?,
    })
}

pub(super) fn attachment(row: &AnyRow) -> Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        event_id: row.try_get("event_id")?,
        name: row.try_get("name")?,
        content_type: row.try_get("content_type")?,
        attachment_type: row.try_get("attachment_type")?,
        size: row.try_get("size")?,
        created_at: row.try_get("created_at")?,
    })
}
