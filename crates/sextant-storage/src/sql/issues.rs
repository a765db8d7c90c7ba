//! Single-issue reads, status changes, deletion, and per-issue tag summaries.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::rows::{self, ISSUE_COLUMNS};
use super::{ID_CHUNK, SqlStore, placeholders};
use crate::alerts::SignalKind;
use crate::model::*;
use crate::{Result, StoreError};

pub(super) async fn fetch_issue(conn: &mut AnyConnection, id: i64) -> Result<Issue> {
    let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(rows::issue)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The release a "resolve in next release" refers to: the project's newest release, or
/// the issue's own last release when the project has no release table entries.
async fn current_release(conn: &mut AnyConnection, issue: &Issue) -> Result<Option<String>> {
    let newest = sqlx::query(
        "SELECT version FROM releases WHERE project_id = $1 \
         ORDER BY first_seen DESC, version DESC LIMIT 1",
    )
    .bind(issue.project_id)
    .fetch_optional(&mut *conn)
    .await?;
    match newest {
        Some(row) => Ok(Some(row.try_get("version")?)),
        None => Ok(issue.last_release.clone()),
    }
}

impl SqlStore {
    pub(super) async fn get_issue(&self, id: i64) -> Result<Issue> {
        fetch_issue(&mut *self.reader.acquire().await?, id).await
    }

    /// All or nothing: an unknown id fails the whole update with `NotFound`.
    ///
    /// Reopening (`Unresolved`) clears the resolution but keeps `is_regression`: the flag
    /// records that the issue came back, and a later resolve starts a fresh cycle.
    pub(super) async fn update_issues(
        &self,
        ids: &[i64],
        update: &IssueUpdate,
    ) -> Result<Vec<Issue>> {
        let mut tx = self.begin_write().await?;
        let mut updated = Vec::with_capacity(ids.len());
        for &id in ids {
            let issue = fetch_issue(&mut tx, id).await?;
            if let Some(status) = update.status {
                let (resolved_at, resolved_in) = match status {
                    IssueStatus::Resolved => (Some(self.clock.now_ms()), None),
                    IssueStatus::ResolvedInNextRelease => (
                        Some(self.clock.now_ms()),
                        current_release(&mut tx, &issue).await?,
                    ),
                    IssueStatus::Unresolved | IssueStatus::Ignored => (None, None),
                };
                sqlx::query(
                    "UPDATE issues SET status = $2, resolved_at = $3, resolved_in_release = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(resolved_at)
                .bind(resolved_in)
                .execute(&mut *tx)
                .await?;
                note_status_change(&mut tx, &issue, status, self.clock.now_ms()).await?;
            }
            updated.push(fetch_issue(&mut tx, id).await?);
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Idempotent: ids that do not exist are ignored. Events, hashes, tag counts, users
    /// (and on SQLite the search index rows) go with the issue through cascades/triggers.
    pub(super) async fn delete_issues(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for chunk in ids.chunks(ID_CHUNK) {
            let sql = format!(
                "DELETE FROM issues WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn issue_tag_keys(&self, issue_id: i64) -> Result<Vec<TagKeySummary>> {
        self.settle_tag_counts().await?;
        // PostgreSQL's SUM(bigint) is NUMERIC, which `Any` cannot decode: cast it back.
        let all = sqlx::query(
            "SELECT tag_key, CAST(SUM(times_seen) AS BIGINT) AS total_values, \
             COUNT(*) AS unique_values FROM issue_tags WHERE issue_id = $1 \
             GROUP BY tag_key ORDER BY tag_key",
        )
        .bind(issue_id)
        .fetch_all(&self.reader)
        .await?;
        all.iter()
            .map(|r| {
                Ok(TagKeySummary {
                    key: r.try_get("tag_key")?,
                    total_values: r.try_get("total_values")?,
                    unique_values: r.try_get("unique_values")?,
                })
            })
            .collect()
    }

    pub(super) async fn issue_tag_values(
        &self,
        issue_id: i64,
        key: &str,
        limit: u32,
    ) -> Result<Vec<TagValueCount>> {
        self.settle_tag_counts().await?;
        let all = sqlx::query(
            "SELECT tag_value, times_seen, first_seen, last_seen FROM issue_tags \
             WHERE issue_id = $1 AND tag_key = $2 ORDER BY times_seen DESC, tag_value LIMIT $3",
        )
        .bind(issue_id)
        .bind(key)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        all.iter()
            .map(|r| {
                Ok(TagValueCount {
                    value: r.try_get("tag_value")?,
                    count: r.try_get("times_seen")?,
                    first_seen: r.try_get("first_seen")?,
                    last_seen: r.try_get("last_seen")?,
                })
            })
            .collect()
    }
}

/// A status change is an alerting signal (webhooks' `issue.resolved`, auto-resolving
/// incidents), written in the transaction that makes it. Re-applying the same status is
/// not a change.
async fn note_status_change(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    before: &Issue,
    status: IssueStatus,
    now: Millis,
) -> Result<()> {
    // Both ways of resolving are one state to those told of it.
    let signal = |status| match status {
        IssueStatus::Resolved | IssueStatus::ResolvedInNextRelease => SignalKind::Resolved,
        IssueStatus::Unresolved => SignalKind::Unresolved,
        IssueStatus::Ignored => SignalKind::Ignored,
    };
    let kind = signal(status);
    if kind == signal(before.status) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO alert_signals (project_id, issue_id, kind, new_issue, regression, \
         event_id, created_at, claimed_until) VALUES ($1, $2, $3, 0, 0, NULL, $4, 0)",
    )
    .bind(before.project_id)
    .bind(before.id)
    .bind(kind.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
