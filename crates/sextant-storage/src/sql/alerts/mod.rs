//! `AlertStore` for `SqlStore`: rules, their throttle and counters, and project options.
//! Internal integrations and channels are in `integrations.rs`, the two outbox stages in
//! `outbox.rs`.

mod integrations;
pub(super) mod outbox;

pub(super) use outbox::insert_deliveries as insert_outbox;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::SqlStore;
use crate::alerts::*;
use crate::model::Millis;
use crate::{Result, StoreError};

const RULE_COLUMNS: &str = "id, project_id, name, spec, status, created_by, created_at, updated_at";

fn rule(row: &AnyRow) -> Result<AlertRule> {
    let spec: String = row.try_get("spec")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Backend(format!("stored rule spec: {e}")))?,
        status: row.try_get("status")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn rule_fire(row: &AnyRow) -> Result<RuleFire> {
    Ok(RuleFire {
        rule_id: row.try_get(0)?,
        rule_name: row.try_get(1)?,
        last_fired: row.try_get(2)?,
        times: row.try_get(3)?,
    })
}

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

impl SqlStore {
    pub(super) async fn alert_rule_by_id(&self, id: i64) -> Result<AlertRule> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        rule(&row)
    }
}

#[async_trait]
impl AlertStore for SqlStore {
    async fn create_rule(&self, new: &NewRule) -> Result<AlertRule> {
        let now = self.clock.now_ms();
        let row = sqlx::query(
            "INSERT INTO alert_rules (project_id, name, spec, needs, status, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $6) RETURNING id",
        )
        .bind(new.project_id)
        .bind(&new.name)
        .bind(json_text(&new.spec))
        .bind(new.needs)
        .bind(new.created_by.as_deref())
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        self.alert_rule_by_id(row.try_get(0)?).await
    }

    async fn update_rule(&self, id: i64, new: &NewRule) -> Result<AlertRule> {
        let done = sqlx::query(
            "UPDATE alert_rules SET name = $3, spec = $4, needs = $5, updated_at = $6 \
             WHERE id = $1 AND project_id = $2",
        )
        .bind(id)
        .bind(new.project_id)
        .bind(&new.name)
        .bind(json_text(&new.spec))
        .bind(new.needs)
        .bind(self.clock.now_ms())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.alert_rule_by_id(id).await
    }

    async fn delete_rule(&self, project_id: i64, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM alert_rules WHERE id = $1 AND project_id = $2")
            .bind(id)
            .bind(project_id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_rule(&self, project_id: i64, id: i64) -> Result<AlertRule> {
        let rule = self.alert_rule_by_id(id).await?;
        if rule.project_id != project_id {
            return Err(StoreError::NotFound);
        }
        Ok(rule)
    }

    async fn list_rules(&self, project_id: i64) -> Result<Vec<AlertRule>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE project_id = $1 ORDER BY id"
        )))
        .bind(project_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rule).collect()
    }

    async fn active_rules(&self, project_ids: &[i64]) -> Result<Vec<AlertRule>> {
        let mut out = Vec::new();
        for chunk in project_ids.chunks(super::ID_CHUNK) {
            let sql = format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules WHERE status = 'active' AND project_id \
                 IN ({}) ORDER BY id",
                super::placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                out.push(rule(&row)?);
            }
        }
        Ok(out)
    }

    async fn issue_rule_fires(&self, issue_id: i64) -> Result<Vec<RuleFire>> {
        let rows = sqlx::query(
            "SELECT f.rule_id, r.name, f.last_fired, f.times FROM rule_fires f \
             JOIN alert_rules r ON r.id = f.rule_id WHERE f.issue_id = $1 \
             ORDER BY f.last_fired DESC",
        )
        .bind(issue_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rule_fire).collect()
    }

    async fn project_rule_fires(&self, project_id: i64) -> Result<Vec<RuleFire>> {
        // PostgreSQL's SUM(bigint) is NUMERIC, which `Any` cannot decode: cast it back.
        let rows = sqlx::query(
            "SELECT f.rule_id, r.name, MAX(f.last_fired), CAST(SUM(f.times) AS BIGINT) \
             FROM rule_fires f JOIN alert_rules r ON r.id = f.rule_id \
             WHERE r.project_id = $1 GROUP BY f.rule_id, r.name ORDER BY 3 DESC, 1",
        )
        .bind(project_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(rule_fire).collect()
    }

    async fn issue_event_count(&self, issue_id: i64, from: Millis, to: Millis) -> Result<i64> {
        // PostgreSQL's SUM(bigint) is NUMERIC, which `Any` cannot decode: cast it back.
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) FROM issue_minutes \
             WHERE issue_id = $1 AND minute >= $2 AND minute < $3",
        )
        .bind(issue_id)
        .bind(from)
        .bind(to)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn issue_user_count(&self, issue_id: i64, from: Millis, to: Millis) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT user_key) FROM issue_minute_users \
             WHERE issue_id = $1 AND minute >= $2 AND minute < $3",
        )
        .bind(issue_id)
        .bind(from)
        .bind(to)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn project_session_count(
        &self,
        project_id: i64,
        environment: Option<&str>,
        from: Millis,
        to: Millis,
    ) -> Result<i64> {
        let mut sql = String::from(
            "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM session_rollups \
             WHERE project_id = $1 AND bucket >= $2 AND bucket < $3",
        );
        if environment.is_some() {
            sql.push_str(" AND environment = $4");
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(from)
            .bind(to);
        if let Some(environment) = environment {
            q = q.bind(environment);
        }
        let row = q.fetch_one(&self.reader).await?;
        Ok(row.try_get(0)?)
    }

    async fn prune_alert_counters(&self, before: Millis) -> Result<u64> {
        let mut deleted = 0;
        for table in ["issue_minutes", "issue_minute_users"] {
            let sql = format!("DELETE FROM {table} WHERE minute < $1");
            deleted += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(before)
                .execute(&self.writer)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }

    async fn claim_signals(&self, limit: u32, lease_ms: i64) -> Result<Vec<AlertSignal>> {
        self.claim_alert_signals(limit, lease_ms).await
    }

    async fn commit_signals(
        &self,
        signal_ids: &[i64],
        firings: &[Firing],
        deliveries: &[NewDelivery],
        burst: Option<BurstPolicy>,
    ) -> Result<Vec<usize>> {
        self.commit_alert_signals(signal_ids, firings, deliveries, burst)
            .await
    }

    async fn signals_pending(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM alert_signals")
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<Delivery>> {
        let mut tx = self.begin_write().await?;
        let ids = outbox::insert_deliveries(&mut tx, deliveries, self.clock.now_ms(), None).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.delivery_by_id(id).await?);
        }
        Ok(out)
    }

    async fn claim_deliveries(&self, limit: u32, lease_ms: i64) -> Result<Vec<Delivery>> {
        self.claim_due_deliveries(limit, lease_ms).await
    }

    async fn record_attempt(
        &self,
        id: i64,
        attempt: &DeliveryAttempt,
        next: AttemptNext,
    ) -> Result<()> {
        self.record_delivery_attempts(&[(id, attempt.clone(), next)])
            .await
    }

    async fn record_attempts(&self, batch: &[RecordedAttempt]) -> Result<()> {
        self.record_delivery_attempts(batch).await
    }

    async fn get_delivery(&self, org_id: i64, id: i64) -> Result<Delivery> {
        let delivery = self.delivery_by_id(id).await?;
        if delivery.org_id != org_id {
            return Err(StoreError::NotFound);
        }
        Ok(delivery)
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        self.list_outbox(filter).await
    }

    async fn delivery_attempts(&self, id: i64) -> Result<Vec<DeliveryAttempt>> {
        self.attempts_of(id).await
    }

    async fn redeliver(&self, org_id: i64, id: i64) -> Result<Delivery> {
        self.get_delivery(org_id, id).await?;
        sqlx::query(
            "UPDATE deliveries SET state = 'pending', next_at = $2, claimed_until = 0, \
             finished_at = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(self.clock.now_ms())
        .execute(&self.writer)
        .await?;
        self.delivery_by_id(id).await
    }

    async fn postpone_delivery(&self, id: i64, next_at: Millis) -> Result<()> {
        sqlx::query("UPDATE deliveries SET next_at = $2, claimed_until = 0 WHERE id = $1")
            .bind(id)
            .bind(next_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn channel_sent_since(&self, channel_id: i64, since: Millis) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM deliveries WHERE target_kind = 'channel' AND target_id = $1 \
             AND state = 'delivered' AND finished_at >= $2",
        )
        .bind(channel_id)
        .bind(since)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn fill_summary(&self, summary_id: i64, build: &SummaryFn<'_>) -> Result<String> {
        self.fill_burst_summary(summary_id, build).await
    }

    async fn issue_channels(&self, issue_id: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT DISTINCT target_id FROM deliveries WHERE issue_id = $1 \
             AND target_kind = 'channel' AND resource = 'event_alert'",
        )
        .bind(issue_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn create_sentry_app(&self, app: &NewSentryApp) -> Result<SentryApp> {
        self.insert_sentry_app(app).await
    }

    async fn update_sentry_app(&self, id: i64, app: &NewSentryApp) -> Result<SentryApp> {
        self.change_sentry_app(id, app).await
    }

    async fn get_sentry_app(&self, slug: &str) -> Result<SentryApp> {
        self.sentry_app_where("slug", slug).await
    }

    async fn get_sentry_app_by_id(&self, id: i64) -> Result<SentryApp> {
        self.sentry_app_by_id(id).await
    }

    async fn find_installation(&self, installation_uuid: &str) -> Result<SentryApp> {
        self.sentry_app_where("installation_uuid", installation_uuid)
            .await
    }

    async fn list_sentry_apps(&self, org_id: i64) -> Result<Vec<SentryApp>> {
        self.sentry_apps_of(org_id).await
    }

    async fn delete_sentry_app(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM sentry_apps WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_channel(&self, channel: &NewChannel) -> Result<Channel> {
        self.insert_channel(channel).await
    }

    async fn update_channel(&self, id: i64, channel: &NewChannel) -> Result<Channel> {
        self.change_channel(id, channel).await
    }

    async fn get_channel(&self, id: i64) -> Result<Channel> {
        self.channel_by_id(id).await
    }

    async fn list_channels(&self, org_id: i64) -> Result<Vec<Channel>> {
        self.channels_of(org_id).await
    }

    async fn delete_channel(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM alert_channels WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn project_option(
        &self,
        project_id: i64,
        key: &str,
    ) -> Result<Option<serde_json::Value>> {
        let row =
            sqlx::query("SELECT value FROM project_options WHERE project_id = $1 AND key = $2")
                .bind(project_id)
                .bind(key)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|row| {
            let text: String = row.try_get(0)?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Backend(format!("stored project option {key}: {e}")))
        })
        .transpose()
    }

    async fn set_project_option(
        &self,
        project_id: i64,
        key: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<()> {
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO project_options (project_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (project_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(project_id)
                .bind(key)
                .bind(json_text(value))
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM project_options WHERE project_id = $1 AND key = $2")
                    .bind(project_id)
                    .bind(key)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }
}
