//! `MailStore` for `SqlStore`: user options, and mail digests with their entries. Entries
//! are added by the outbox's `insert_deliveries` ([`add_to_digest`]), in the transaction of
//! the rule firing; digests are claimed with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL) and consumed in the transaction that writes their mail.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::alerts::insert_outbox;
use super::{Backend, ID_CHUNK, SqlStore, delete_ids, placeholders};
use crate::alerts::NewDelivery;
use crate::mail::*;
use crate::model::Millis;
use crate::{Result, StoreError};

const DIGEST_COLUMNS: &str = "id, org_id, project_id, user_id, opened_at, due_at";

/// `due_at` from the columns (or values) named: the quiet period after the newest entry,
/// capped by the longest wait after the first.
fn due_expr(last: &str, min: &str, opened: &str, max: &str) -> String {
    format!(
        "CASE WHEN {last} + {min} < {opened} + {max} THEN {last} + {min} ELSE {opened} + {max} END"
    )
}

fn digest(row: &AnyRow) -> Result<MailDigest> {
    Ok(MailDigest {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        project_id: row.try_get("project_id")?,
        user_id: row.try_get("user_id")?,
        opened_at: row.try_get("opened_at")?,
        due_at: row.try_get("due_at")?,
        entries: Vec::new(),
    })
}

fn entry(row: &AnyRow) -> Result<DigestEntry> {
    Ok(DigestEntry {
        id: row.try_get("id")?,
        issue_id: row.try_get("issue_id")?,
        rule_id: row.try_get("rule_id")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Adds a delivery to the user's digest for its project, opening the digest or moving its
/// due time. A user deleted meanwhile gets nothing (and fails nothing).
pub(super) async fn add_to_digest(
    tx: &mut Transaction<'static, Any>,
    d: &NewDelivery,
    user_id: i64,
    delays: (i64, i64),
    now: Millis,
) -> Result<()> {
    let Some(project_id) = d.project_id else {
        return Ok(());
    };
    let (min_delay, max_delay) = (delays.0.max(0), delays.1.max(0));
    let sql = format!(
        "INSERT INTO mail_digests (org_id, project_id, user_id, opened_at, last_at, \
         min_delay_ms, max_delay_ms, due_at, claimed_until) \
         SELECT $1, $2, $3, $4, $4, $5, $6, {}, 0 WHERE EXISTS (SELECT 1 FROM users \
         WHERE id = $3) ON CONFLICT (project_id, user_id) DO UPDATE SET \
         last_at = excluded.last_at, min_delay_ms = excluded.min_delay_ms, \
         max_delay_ms = excluded.max_delay_ms, due_at = {} RETURNING id",
        due_expr("$4", "$5", "$4", "$6"),
        due_expr(
            "excluded.last_at",
            "excluded.min_delay_ms",
            "mail_digests.opened_at",
            "excluded.max_delay_ms"
        ),
    );
    let opened = sqlx::query(AssertSqlSafe(sql))
        .bind(d.org_id)
        .bind(project_id)
        .bind(user_id)
        .bind(now)
        .bind(min_delay)
        .bind(max_delay)
        .fetch_optional(&mut **tx)
        .await?;
    if opened.is_none() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO mail_digest_entries (project_id, user_id, issue_id, rule_id, payload, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(d.issue_id)
    .bind(d.rule_id)
    .bind(&d.payload)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    async fn digest_entries(&self, project_id: i64, user_id: i64) -> Result<Vec<DigestEntry>> {
        let rows = sqlx::query(
            "SELECT id, issue_id, rule_id, payload, created_at FROM mail_digest_entries \
             WHERE project_id = $1 AND user_id = $2 ORDER BY id",
        )
        .bind(project_id)
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(entry).collect()
    }
}

#[async_trait]
impl MailStore for SqlStore {
    async fn claim_digests(&self, limit: u32, lease_ms: i64) -> Result<Vec<MailDigest>> {
        let now = self.clock.now_ms();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE mail_digests SET claimed_until = $1 WHERE id IN (SELECT id FROM \
             mail_digests WHERE due_at <= $2 AND claimed_until < $2 ORDER BY due_at, id \
             LIMIT $3{lock}) RETURNING {DIGEST_COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now + lease_ms)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let mut digests = rows.iter().map(digest).collect::<Result<Vec<_>>>()?;
        digests.sort_by_key(|d| (d.due_at, d.id));
        for d in &mut digests {
            d.entries = self.digest_entries(d.project_id, d.user_id).await?;
        }
        Ok(digests)
    }

    async fn commit_digest(&self, digest: &MailDigest, mails: &[NewDelivery]) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin_write().await?;
        // Taking the digest's row lock first orders this against an entry being added on
        // PostgreSQL: either that entry is visible below (and the digest stays open for
        // it), or it waits and opens a new digest once this one is gone.
        let held =
            sqlx::query("UPDATE mail_digests SET claimed_until = claimed_until WHERE id = $1")
                .bind(digest.id)
                .execute(&mut *tx)
                .await?;
        if held.rows_affected() == 0 {
            return Err(StoreError::Conflict("the digest was sent already".into()));
        }
        let ids: Vec<i64> = digest.entries.iter().map(|e| e.id).collect();
        let consumed = delete_ids(&mut tx, "mail_digest_entries", &ids).await?;
        if consumed != ids.len() as u64 {
            return Err(StoreError::Conflict(
                "the digest's entries were sent already".into(),
            ));
        }
        let left = sqlx::query(
            "SELECT COUNT(*), COALESCE(MIN(created_at), 0), COALESCE(MAX(created_at), 0) \
             FROM mail_digest_entries WHERE project_id = $1 AND user_id = $2",
        )
        .bind(digest.project_id)
        .bind(digest.user_id)
        .fetch_one(&mut *tx)
        .await?;
        let (count, first, last): (i64, i64, i64) =
            (left.try_get(0)?, left.try_get(1)?, left.try_get(2)?);
        if count == 0 {
            sqlx::query("DELETE FROM mail_digests WHERE id = $1")
                .bind(digest.id)
                .execute(&mut *tx)
                .await?;
        } else {
            let sql = format!(
                "UPDATE mail_digests SET opened_at = $2, last_at = $3, due_at = {}, \
                 claimed_until = 0 WHERE id = $1",
                due_expr("$3", "min_delay_ms", "$2", "max_delay_ms")
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(digest.id)
                .bind(first)
                .bind(last)
                .execute(&mut *tx)
                .await?;
        }
        insert_outbox(&mut tx, mails, now, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn digests_pending(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM mail_digests), \
             (SELECT COUNT(*) FROM mail_digest_entries)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    async fn user_options(&self, user_id: i64) -> Result<Vec<(String, serde_json::Value)>> {
        let rows =
            sqlx::query("SELECT key, value FROM user_options WHERE user_id = $1 ORDER BY key")
                .bind(user_id)
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get(0)?;
                let value = option_value(&key, &row.try_get::<String, _>(1)?)?;
                Ok((key, value))
            })
            .collect()
    }

    async fn set_user_option(
        &self,
        user_id: i64,
        key: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<()> {
        match value {
            Some(value) => {
                let done = sqlx::query(
                    "INSERT INTO user_options (user_id, key, value) SELECT $1, $2, $3 \
                     WHERE EXISTS (SELECT 1 FROM users WHERE id = $1) \
                     ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(user_id)
                .bind(key)
                .bind(value.to_string())
                .execute(&self.writer)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
            }
            None => {
                sqlx::query("DELETE FROM user_options WHERE user_id = $1 AND key = $2")
                    .bind(user_id)
                    .bind(key)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    async fn user_option_values(
        &self,
        key: &str,
        user_ids: &[i64],
    ) -> Result<Vec<(i64, serde_json::Value)>> {
        let mut out = Vec::new();
        for chunk in user_ids.chunks(ID_CHUNK) {
            let sql = format!(
                "SELECT user_id, value FROM user_options WHERE key = $1 AND user_id IN ({}) \
                 ORDER BY user_id",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(key);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                let value = option_value(key, &row.try_get::<String, _>(1)?)?;
                out.push((row.try_get(0)?, value));
            }
        }
        Ok(out)
    }
}

fn option_value(key: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("stored user option {key}: {e}")))
}
