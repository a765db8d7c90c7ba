//! Event reads (by id, per issue with keyset paging), attachments, raw item counts and
//! outcome totals.

use sqlx::{AssertSqlSafe, Row};

use super::rows::{self, ATTACHMENT_COLUMNS, EVENT_COLUMNS};
use super::{Arg, Args, SqlStore};
use crate::model::*;
use crate::{Result, StoreError};

impl SqlStore {
    pub(super) async fn get_event(&self, project_id: i64, event_id: &str) -> Result<EventRecord> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE project_id = $1 AND event_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(event_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref()
            .map(rows::event)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Newest first by (timestamp, id); the cursor's `sort_value` is the timestamp.
    pub(super) async fn list_issue_events(
        &self,
        issue_id: i64,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Page<EventRecord>> {
        let limit = limit.max(1);
        let mut args = Args::default();
        let issue = args.push(Arg::Int(issue_id));
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE issue_id = {issue}");
        if let Some(c) = cursor {
            let v = args.push(Arg::Int(c.sort_value));
            let id = args.push(Arg::Int(c.id));
            sql.push_str(&format!(
                " AND (timestamp_ms < {v} OR (timestamp_ms = {v} AND id < {id}))"
            ));
        }
        // One extra row tells whether another page follows.
        let n = args.push(Arg::Int(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY timestamp_ms DESC, id DESC LIMIT {n}"));

        let found = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(&self.reader)
            .await?;
        let mut items = found.iter().map(rows::event).collect::<Result<Vec<_>>>()?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = more
            .then(|| {
                items.last().map(|e| Cursor {
                    sort_value: e.timestamp,
                    id: e.id,
                })
            })
            .flatten();
        Ok(Page { items, next })
    }

    pub(super) async fn latest_issue_event(&self, issue_id: i64) -> Result<EventRecord> {
        self.edge_issue_event(issue_id, "DESC").await
    }

    pub(super) async fn oldest_issue_event(&self, issue_id: i64) -> Result<EventRecord> {
        self.edge_issue_event(issue_id, "ASC").await
    }

    async fn edge_issue_event(
        &self,
        issue_id: i64,
        direction: &'static str,
    ) -> Result<EventRecord> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE issue_id = $1 \
             ORDER BY timestamp_ms {direction}, id {direction} LIMIT 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(issue_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref()
            .map(rows::event)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub(super) async fn count_events(&self, project_id: i64) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get("n")?)
    }

    pub(super) async fn list_attachments(
        &self,
        project_id: i64,
        event_id: &str,
    ) -> Result<Vec<AttachmentRecord>> {
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE project_id = $1 AND event_id = $2 ORDER BY id"
        );
        let all = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(event_id)
            .fetch_all(&self.reader)
            .await?;
        all.iter().map(rows::attachment).collect()
    }

    pub(super) async fn get_attachment(
        &self,
        project_id: i64,
        attachment_id: i64,
    ) -> Result<(AttachmentRecord, Vec<u8>)> {
        // Scoped by project so an id from another project reads as absent.
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS}, data FROM attachments WHERE project_id = $1 AND id = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(attachment_id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((rows::attachment(&row)?, row.try_get("data")?))
    }

    pub(super) async fn count_raw_items(&self, project_id: i64, item_type: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM raw_items WHERE project_id = $1 AND item_type = $2",
        )
        .bind(project_id)
        .bind(item_type)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Totals over all hourly buckets, reported with `bucket` 0.
    pub(super) async fn outcome_totals(&self, project_id: i64) -> Result<Vec<OutcomeDelta>> {
        // PostgreSQL's SUM(bigint) is NUMERIC, which `Any` cannot decode: cast it back.
        let all = sqlx::query(
            "SELECT outcome, category, reason, CAST(SUM(quantity) AS BIGINT) AS quantity \
             FROM outcomes WHERE project_id = $1 \
             GROUP BY outcome, category, reason ORDER BY outcome, category, reason",
        )
        .bind(project_id)
        .fetch_all(&self.reader)
        .await?;
        all.iter()
            .map(|r| {
                Ok(OutcomeDelta {
                    project_id,
                    bucket: 0,
                    outcome: r.try_get("outcome")?,
                    category: r.try_get("category")?,
                    reason: r.try_get("reason")?,
                    quantity: r.try_get("quantity")?,
                })
            })
            .collect()
    }
}
