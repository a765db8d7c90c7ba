//! `MetricAlertStore` for `SqlStore`: metric rules with their projects and triggers, and
//! their claims. Incidents and the committing of evaluations are in `incidents.rs`, the
//! event counts rules read in `events.rs`.

mod events;
mod incidents;

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::{Backend, ID_CHUNK, SqlStore, placeholders};
use crate::metric_alerts::*;
use crate::model::Millis;
use crate::{Result, StoreError};

const RULE_COLUMNS: &str =
    "id, org_id, name, spec, status, created_by, created_at, updated_at, state, claimed_until";

fn json_column(row: &AnyRow, col: &str) -> Result<serde_json::Value> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Backend(format!("stored metric alert {col}: {e}")))
}

fn rule(row: &AnyRow) -> Result<MetricRule> {
    Ok(MetricRule {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        name: row.try_get("name")?,
        spec: json_column(row, "spec")?,
        project_ids: Vec::new(),
        triggers: Vec::new(),
        status: row.try_get("status")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        state: json_column(row, "state")?,
        claimed_until: row.try_get("claimed_until")?,
    })
}

/// Replaces the rule's projects and triggers; a trigger whose label stays keeps its id.
async fn write_rule_parts(
    tx: &mut Transaction<'static, Any>,
    rule_id: i64,
    new: &NewMetricRule,
    now: Millis,
) -> Result<()> {
    sqlx::query("DELETE FROM metric_alert_rule_projects WHERE rule_id = $1")
        .bind(rule_id)
        .execute(&mut **tx)
        .await?;
    let mut project_ids = new.project_ids.clone();
    project_ids.sort_unstable();
    project_ids.dedup();
    for project_id in project_ids {
        sqlx::query("INSERT INTO metric_alert_rule_projects (rule_id, project_id) VALUES ($1, $2)")
            .bind(rule_id)
            .bind(project_id)
            .execute(&mut **tx)
            .await?;
    }
    let kept: Vec<&str> = new.triggers.iter().map(|t| t.label.as_str()).collect();
    let existing = sqlx::query("SELECT label FROM metric_alert_triggers WHERE rule_id = $1")
        .bind(rule_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in existing {
        let label: String = row.try_get(0)?;
        if !kept.contains(&label.as_str()) {
            sqlx::query("DELETE FROM metric_alert_triggers WHERE rule_id = $1 AND label = $2")
                .bind(rule_id)
                .bind(label)
                .execute(&mut **tx)
                .await?;
        }
    }
    for trigger in &new.triggers {
        sqlx::query(
            "INSERT INTO metric_alert_triggers (rule_id, label, spec, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (rule_id, label) DO UPDATE SET spec = excluded.spec",
        )
        .bind(rule_id)
        .bind(&trigger.label)
        .bind(trigger.spec.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl SqlStore {
    /// Fills in the projects and triggers of rules read from their table.
    async fn with_rule_parts(&self, mut rules: Vec<MetricRule>) -> Result<Vec<MetricRule>> {
        let index: HashMap<i64, usize> = rules.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let ids: Vec<i64> = rules.iter().map(|r| r.id).collect();
        for chunk in ids.chunks(ID_CHUNK) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT rule_id, project_id FROM metric_alert_rule_projects \
                 WHERE rule_id IN ({list}) ORDER BY rule_id, project_id"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                let rule_id: i64 = row.try_get(0)?;
                if let Some(&i) = index.get(&rule_id) {
                    rules[i].project_ids.push(row.try_get(1)?);
                }
            }
            // Labels sort as they rank: `critical` before `warning`.
            let sql = format!(
                "SELECT id, rule_id, label, spec, created_at FROM metric_alert_triggers \
                 WHERE rule_id IN ({list}) ORDER BY rule_id, label"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                let rule_id: i64 = row.try_get("rule_id")?;
                if let Some(&i) = index.get(&rule_id) {
                    rules[i].triggers.push(MetricTrigger {
                        id: row.try_get("id")?,
                        label: row.try_get("label")?,
                        spec: json_column(&row, "spec")?,
                        created_at: row.try_get("created_at")?,
                    });
                }
            }
        }
        Ok(rules)
    }

    async fn metric_rules_by_ids(&self, ids: &[i64]) -> Result<Vec<MetricRule>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let sql = format!(
                "SELECT {RULE_COLUMNS} FROM metric_alert_rules WHERE id IN ({}) ORDER BY id",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                out.push(rule(&row)?);
            }
        }
        self.with_rule_parts(out).await
    }

    async fn metric_rule_by_id(&self, id: i64) -> Result<MetricRule> {
        self.metric_rules_by_ids(&[id])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl MetricAlertStore for SqlStore {
    async fn create_metric_rule(&self, new: &NewMetricRule) -> Result<MetricRule> {
        let now = self.clock.now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO metric_alert_rules (org_id, name, spec, status, created_by, created_at, \
             updated_at, state, next_eval_at, claimed_until) \
             VALUES ($1, $2, $3, 'active', $4, $5, $5, '{}', $5, 0) RETURNING id",
        )
        .bind(new.org_id)
        .bind(&new.name)
        .bind(new.spec.to_string())
        .bind(new.created_by.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        write_rule_parts(&mut tx, id, new, now).await?;
        tx.commit().await?;
        self.metric_rule_by_id(id).await
    }

    async fn update_metric_rule(&self, id: i64, new: &NewMetricRule) -> Result<MetricRule> {
        let now = self.clock.now_ms();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE metric_alert_rules SET name = $3, spec = $4, updated_at = $5, state = '{}', \
             next_eval_at = $5, claimed_until = 0 WHERE id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(new.org_id)
        .bind(&new.name)
        .bind(new.spec.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_rule_parts(&mut tx, id, new, now).await?;
        incidents::close_for_update(&mut tx, id, now).await?;
        tx.commit().await?;
        self.metric_rule_by_id(id).await
    }

    async fn delete_metric_rule(&self, org_id: i64, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM metric_alert_rules WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_metric_rule(&self, org_id: i64, id: i64) -> Result<MetricRule> {
        let rule = self.metric_rule_by_id(id).await?;
        if rule.org_id != org_id {
            return Err(StoreError::NotFound);
        }
        Ok(rule)
    }

    async fn list_metric_rules(&self, org_id: i64) -> Result<Vec<MetricRule>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RULE_COLUMNS} FROM metric_alert_rules WHERE org_id = $1 ORDER BY id"
        )))
        .bind(org_id)
        .fetch_all(&self.reader)
        .await?;
        let rules = rows.iter().map(rule).collect::<Result<Vec<_>>>()?;
        self.with_rule_parts(rules).await
    }

    async fn claim_metric_rules(&self, limit: u32, lease_ms: i64) -> Result<Vec<MetricRule>> {
        let now = self.clock.now_ms();
        // Looked for on a reader first: most polls find nothing due, and need not take
        // the write lock to learn it (on SQLite, even an UPDATE of no rows does).
        let due = sqlx::query(
            "SELECT 1 FROM metric_alert_rules WHERE status = 'active' AND next_eval_at <= $1 \
             AND claimed_until < $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let until = now + lease_ms;
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE metric_alert_rules SET claimed_until = $1 WHERE id IN (SELECT id FROM \
             metric_alert_rules WHERE status = 'active' AND next_eval_at <= $2 \
             AND claimed_until < $2 ORDER BY next_eval_at, id LIMIT $3{skip_locked}) RETURNING id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect::<Result<Vec<i64>>>()?;
        let mut rules = self.metric_rules_by_ids(&ids).await?;
        // Read back on another connection: say which claim this copy stands for, whatever
        // happened to the row since.
        for rule in &mut rules {
            rule.claimed_until = until;
        }
        Ok(rules)
    }

    async fn commit_metric_evaluation(
        &self,
        evaluation: &MetricEvaluation,
        notify: &NotifyFn<'_>,
    ) -> Result<Option<Incident>> {
        self.commit_evaluation(evaluation, notify).await
    }

    async fn metric_event_stats(&self, window: &EventWindow) -> Result<EventStats> {
        self.event_stats(window).await
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        self.incidents_where(filter).await
    }

    async fn get_incident(&self, org_id: i64, identifier: i64) -> Result<Incident> {
        self.incident_by_identifier(org_id, identifier).await
    }

    async fn open_incident(&self, rule_id: i64) -> Result<Option<Incident>> {
        self.open_incident_of(rule_id).await
    }

    async fn incident_activity(&self, incident_id: i64) -> Result<Vec<IncidentActivity>> {
        self.activity_of(incident_id).await
    }
}
