//! Incidents of metric rules: committing an evaluation (the claim checked, the incident
//! changed with its activity, and its notifications written, all in one transaction),
//! and reading incidents and their history.

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::super::SqlStore;
use super::super::alerts::outbox::insert_deliveries;
use crate::metric_alerts::*;
use crate::model::Millis;
use crate::{Result, StoreError};

const INCIDENT_COLUMNS: &str = "id, org_id, rule_id, identifier, status, status_method, title, \
     projects, date_started, date_detected, date_created, date_closed";

fn incident(row: &AnyRow) -> Result<Incident> {
    let projects: String = row.try_get("projects")?;
    Ok(Incident {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        rule_id: row.try_get("rule_id")?,
        identifier: row.try_get("identifier")?,
        status: row.try_get("status")?,
        status_method: row.try_get("status_method")?,
        title: row.try_get("title")?,
        projects: serde_json::from_str(&projects)
            .map_err(|e| StoreError::Backend(format!("stored incident projects: {e}")))?,
        date_started: row.try_get("date_started")?,
        date_detected: row.try_get("date_detected")?,
        date_created: row.try_get("date_created")?,
        date_closed: row.try_get("date_closed")?,
    })
}

async fn record_activity(
    tx: &mut Transaction<'static, Any>,
    incident_id: i64,
    kind: i64,
    value: Option<i64>,
    previous: Option<i64>,
    at: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO metric_incident_activity (incident_id, kind, value, previous_value, \
         date_added) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(incident_id)
    .bind(kind)
    .bind(value.map(|v| v.to_string()))
    .bind(previous.map(|v| v.to_string()))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn incident_in(tx: &mut Transaction<'static, Any>, id: i64) -> Result<Incident> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLUMNS} FROM metric_incidents WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    incident(&row)
}

/// Moves the rule's incident that is not closed to `status`; `None` when it has none.
async fn set_status(
    tx: &mut Transaction<'static, Any>,
    rule_id: i64,
    incident_id: Option<i64>,
    status: i64,
    method: i64,
    now: Millis,
) -> Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT id, status FROM metric_incidents WHERE rule_id = $1 AND status <> $2 \
         AND ($3 IS NULL OR id = $3)",
    )
    .bind(rule_id)
    .bind(incident_status::CLOSED)
    .bind(incident_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (id, previous): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    let closed = (status == incident_status::CLOSED).then_some(now);
    sqlx::query(
        "UPDATE metric_incidents SET status = $2, status_method = $3, \
         date_closed = COALESCE($4, date_closed) WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(method)
    .bind(closed)
    .execute(&mut **tx)
    .await?;
    record_activity(
        tx,
        id,
        activity_kind::STATUS_CHANGE,
        Some(status),
        Some(previous),
        now,
    )
    .await?;
    Ok(Some(id))
}

/// An edited rule starts afresh: its open incident closes, as Sentry closes it.
pub(super) async fn close_for_update(
    tx: &mut Transaction<'static, Any>,
    rule_id: i64,
    now: Millis,
) -> Result<()> {
    set_status(
        tx,
        rule_id,
        None,
        incident_status::CLOSED,
        status_method::RULE_UPDATED,
        now,
    )
    .await?;
    Ok(())
}

async fn open(
    tx: &mut Transaction<'static, Any>,
    rule_id: i64,
    change: (&str, &[String], i64, Millis),
    now: Millis,
) -> Result<i64> {
    let (title, projects, status, date_started) = change;
    let org_id: i64 = sqlx::query("SELECT org_id FROM metric_alert_rules WHERE id = $1")
        .bind(rule_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    // An upsert both hands out the next identifier and, on PostgreSQL, holds the counter
    // row locked until commit, so two nodes never hand out the same one.
    let identifier: i64 = sqlx::query(
        "INSERT INTO metric_incident_counters (org_id, last) VALUES ($1, 1) \
         ON CONFLICT (org_id) DO UPDATE SET last = metric_incident_counters.last + 1 \
         RETURNING last",
    )
    .bind(org_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    let projects = serde_json::to_string(projects)
        .map_err(|e| StoreError::Backend(format!("incident projects: {e}")))?;
    let id: i64 = sqlx::query(
        "INSERT INTO metric_incidents (org_id, rule_id, identifier, status, status_method, \
         title, projects, date_started, date_detected, date_created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(org_id)
    .bind(rule_id)
    .bind(identifier)
    .bind(status)
    .bind(status_method::RULE_TRIGGERED)
    .bind(title)
    .bind(projects)
    .bind(date_started)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    record_activity(tx, id, activity_kind::DETECTED, None, None, date_started).await?;
    record_activity(
        tx,
        id,
        activity_kind::STATUS_CHANGE,
        Some(status),
        Some(incident_status::OPEN),
        now,
    )
    .await?;
    Ok(id)
}

impl SqlStore {
    pub(super) async fn commit_evaluation(
        &self,
        evaluation: &MetricEvaluation,
        notify: &NotifyFn<'_>,
    ) -> Result<Option<Incident>> {
        let now = self.clock.now_ms();
        let rule_id = evaluation.rule_id;
        let mut tx = self.begin_write().await?;
        // The compare-and-set on the claim: an edit of the rule resets it, and a node
        // whose lease ran out may find another node's in its place.
        let done = sqlx::query(
            "UPDATE metric_alert_rules SET state = $3, next_eval_at = $4, claimed_until = 0 \
             WHERE id = $1 AND claimed_until = $2",
        )
        .bind(rule_id)
        .bind(evaluation.claimed_until)
        .bind(evaluation.state.to_string())
        .bind(evaluation.next_eval_at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "metric rule {rule_id} is no longer claimed by this evaluation"
            )));
        }
        let changed = match &evaluation.change {
            None => None,
            Some(IncidentChange::Open {
                title,
                projects,
                status,
                date_started,
            }) => Some(
                open(
                    &mut tx,
                    rule_id,
                    (title, projects, *status, *date_started),
                    now,
                )
                .await?,
            ),
            Some(IncidentChange::Level {
                incident_id,
                status,
            }) => {
                let id = set_status(
                    &mut tx,
                    rule_id,
                    Some(*incident_id),
                    *status,
                    status_method::RULE_TRIGGERED,
                    now,
                )
                .await?;
                Some(id.ok_or_else(|| missing(*incident_id))?)
            }
            Some(IncidentChange::Close { incident_id }) => {
                let id = set_status(
                    &mut tx,
                    rule_id,
                    Some(*incident_id),
                    incident_status::CLOSED,
                    status_method::RULE_TRIGGERED,
                    now,
                )
                .await?;
                Some(id.ok_or_else(|| missing(*incident_id))?)
            }
        };
        let incident = match changed {
            Some(id) => {
                let incident = incident_in(&mut tx, id).await?;
                insert_deliveries(&mut tx, &notify(&incident), now, None).await?;
                Some(incident)
            }
            None => None,
        };
        tx.commit().await?;
        Ok(incident)
    }

    pub(super) async fn incidents_where(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM metric_incidents WHERE org_id = $1");
        match filter.open {
            Some(true) => sql.push_str(" AND status <> 2"),
            Some(false) => sql.push_str(" AND status = 2"),
            None => {}
        }
        sql.push_str(" AND ($2 IS NULL OR rule_id = $2) ORDER BY id DESC LIMIT $3");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(filter.org_id)
            .bind(filter.rule_id)
            .bind(i64::from(filter.limit.clamp(1, 1000)))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(incident).collect()
    }

    pub(super) async fn incident_by_identifier(
        &self,
        org_id: i64,
        identifier: i64,
    ) -> Result<Incident> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM metric_incidents WHERE org_id = $1 AND identifier = $2"
        )))
        .bind(org_id)
        .bind(identifier)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        incident(&row)
    }

    pub(super) async fn open_incident_of(&self, rule_id: i64) -> Result<Option<Incident>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM metric_incidents WHERE rule_id = $1 AND status <> 2"
        )))
        .bind(rule_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(incident).transpose()
    }

    pub(super) async fn activity_of(&self, incident_id: i64) -> Result<Vec<IncidentActivity>> {
        let rows = sqlx::query(
            "SELECT id, incident_id, kind, value, previous_value, date_added \
             FROM metric_incident_activity WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IncidentActivity {
                    id: row.try_get("id")?,
                    incident_id: row.try_get("incident_id")?,
                    kind: row.try_get("kind")?,
                    value: row.try_get("value")?,
                    previous_value: row.try_get("previous_value")?,
                    date_added: row.try_get("date_added")?,
                })
            })
            .collect()
    }
}

/// The evaluation names an incident that is no longer open. While the claim holds this
/// cannot happen (an edit of the rule, which closes incidents, also drops the claim), so
/// it is refused like a lost claim rather than assumed away.
fn missing(incident_id: i64) -> StoreError {
    StoreError::Conflict(format!("incident {incident_id} is no longer open"))
}
