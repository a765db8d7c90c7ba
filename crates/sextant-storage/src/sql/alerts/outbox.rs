//! The two outbox stages: signals waiting for rule evaluation, and deliveries with their
//! attempts. Both are claimed with a lease (`claimed_until`), on PostgreSQL under
//! `FOR UPDATE SKIP LOCKED`, so each is worked on by one node at a time and a node that
//! dies leaves its claims to expire.

use std::collections::HashSet;

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use super::super::{Backend, ID_CHUNK, SqlStore, delete_ids, placeholders};
use crate::alerts::*;
use crate::model::Millis;
use crate::{Result, StoreError};

const SIGNAL_COLUMNS: &str =
    "id, project_id, issue_id, check_id, kind, new_issue, regression, event_id, created_at";
const DELIVERY_COLUMNS: &str = "id, request_id, org_id, project_id, issue_id, rule_id, \
     target_kind, target_id, url, resource, action, payload, state, attempts, next_at, \
     created_at, finished_at";

fn signal(row: &AnyRow) -> Result<AlertSignal> {
    let kind: String = row.try_get("kind")?;
    Ok(AlertSignal {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        issue_id: row.try_get("issue_id")?,
        check_id: row.try_get("check_id")?,
        kind: SignalKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown signal kind {kind:?}")))?,
        new_issue: row.try_get::<i64, _>("new_issue")? != 0,
        regression: row.try_get::<i64, _>("regression")? != 0,
        event_id: row.try_get("event_id")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery(row: &AnyRow) -> Result<Delivery> {
    let kind: String = row.try_get("target_kind")?;
    let target_id: Option<i64> = row.try_get("target_id")?;
    let url: Option<String> = row.try_get("url")?;
    let target = match (kind.as_str(), target_id, url) {
        ("sentry_app", Some(app_id), _) => DeliveryTarget::SentryApp { app_id },
        ("channel", Some(channel_id), _) => DeliveryTarget::Channel { channel_id },
        ("webhook", _, Some(url)) => DeliveryTarget::Webhook { url },
        ("email", _, Some(address)) => DeliveryTarget::Email { address },
        _ => return Err(StoreError::Backend(format!("bad delivery target {kind:?}"))),
    };
    let state: String = row.try_get("state")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        request_id: row.try_get("request_id")?,
        org_id: row.try_get("org_id")?,
        project_id: row.try_get("project_id")?,
        issue_id: row.try_get("issue_id")?,
        rule_id: row.try_get("rule_id")?,
        target,
        resource: row.try_get("resource")?,
        action: row.try_get("action")?,
        payload: row.try_get("payload")?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Backend(format!("unknown delivery state {state:?}")))?,
        attempts: row.try_get("attempts")?,
        next_at: row.try_get("next_at")?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn target_columns(target: &DeliveryTarget) -> (&'static str, Option<i64>, Option<&str>) {
    match target {
        DeliveryTarget::SentryApp { app_id } => ("sentry_app", Some(*app_id), None),
        DeliveryTarget::Channel { channel_id } => ("channel", Some(*channel_id), None),
        DeliveryTarget::Webhook { url } => ("webhook", None, Some(url.as_str())),
        DeliveryTarget::Email { address } => ("email", None, Some(address.as_str())),
        // Never stored as a delivery: `insert_deliveries` adds it to the digest instead.
        DeliveryTarget::Digest { user_id, .. } => ("digest", Some(*user_id), None),
    }
}

/// Writes deliveries due now; those of projects deleted meanwhile are skipped, since
/// their rows could not reference the project. Digest targets become digest entries.
pub(in crate::sql) async fn insert_deliveries(
    tx: &mut Transaction<'static, Any>,
    deliveries: &[NewDelivery],
    now: Millis,
    burst: Option<BurstPolicy>,
) -> Result<Vec<i64>> {
    let wanted: Vec<i64> = deliveries.iter().filter_map(|d| d.project_id).collect();
    let mut live: HashSet<i64> = HashSet::new();
    for chunk in wanted.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT id FROM projects WHERE id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut **tx).await? {
            live.insert(row.try_get(0)?);
        }
    }
    let mut ids = Vec::with_capacity(deliveries.len());
    for d in deliveries
        .iter()
        .filter(|d| d.project_id.is_none_or(|p| live.contains(&p)))
    {
        if let DeliveryTarget::Digest {
            user_id,
            min_delay_ms,
            max_delay_ms,
        } = &d.target
        {
            let delays = (*min_delay_ms, *max_delay_ms);
            super::super::mail::add_to_digest(tx, d, *user_id, delays, now).await?;
            continue;
        }
        let (kind, target_id, url) = target_columns(&d.target);
        let state = match (&d.target, d.project_id, burst) {
            (DeliveryTarget::Channel { channel_id }, Some(project_id), Some(policy)) => {
                hold_in_burst(tx, *channel_id, project_id, d.org_id, policy, now).await?
            }
            _ => DeliveryState::Pending,
        };
        let row = sqlx::query(
            "INSERT INTO deliveries (request_id, org_id, project_id, issue_id, rule_id, \
             target_kind, target_id, url, resource, action, payload, state, attempts, next_at, \
             claimed_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $13, 0, $12, 0, $12) RETURNING id",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(d.org_id)
        .bind(d.project_id)
        .bind(d.issue_id)
        .bind(d.rule_id)
        .bind(kind)
        .bind(target_id)
        .bind(url)
        .bind(&d.resource)
        .bind(&d.action)
        .bind(&d.payload)
        .bind(now)
        .bind(state.as_str())
        .fetch_one(&mut **tx)
        .await?;
        ids.push(row.try_get(0)?);
    }
    Ok(ids)
}

/// Whether a channel message for a project is part of a burst: the channel already got
/// `threshold` messages for the project within the window, or a summary is open (pending
/// and not being sent). A held message opens a summary, due a window later, if none is
/// open; whichever summary is filled next takes it.
async fn hold_in_burst(
    tx: &mut Transaction<'static, Any>,
    channel_id: i64,
    project_id: i64,
    org_id: i64,
    policy: BurstPolicy,
    now: Millis,
) -> Result<DeliveryState> {
    let open = sqlx::query(
        "SELECT id FROM deliveries WHERE target_kind = 'channel' AND target_id = $1 \
         AND project_id = $2 AND state = 'pending' AND resource = 'summary' \
         AND claimed_until < $3",
    )
    .bind(channel_id)
    .bind(project_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    if open.is_some() {
        return Ok(DeliveryState::Held);
    }
    let recent = sqlx::query(
        "SELECT COUNT(*) FROM deliveries WHERE target_kind = 'channel' AND target_id = $1 \
         AND project_id = $2 AND created_at > $3 AND resource <> 'summary'",
    )
    .bind(channel_id)
    .bind(project_id)
    .bind(now - policy.window_ms)
    .fetch_one(&mut **tx)
    .await?;
    if recent.try_get::<i64, _>(0)? < policy.threshold {
        return Ok(DeliveryState::Pending);
    }
    sqlx::query(
        "INSERT INTO deliveries (request_id, org_id, project_id, issue_id, rule_id, \
         target_kind, target_id, url, resource, action, payload, state, attempts, next_at, \
         claimed_until, created_at) VALUES ($1, $2, $3, NULL, NULL, 'channel', $4, NULL, \
         'summary', 'summary', '', 'pending', 0, $5, 0, $6)",
    )
    .bind(uuid::Uuid::new_v4().simple().to_string())
    .bind(org_id)
    .bind(project_id)
    .bind(channel_id)
    .bind(now + policy.window_ms)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(DeliveryState::Held)
}

impl SqlStore {
    fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    pub(super) async fn claim_alert_signals(
        &self,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AlertSignal>> {
        let now = self.clock.now_ms();
        let sql = format!(
            "UPDATE alert_signals SET claimed_until = $1 WHERE id IN (SELECT id FROM \
             alert_signals WHERE claimed_until < $2 ORDER BY id LIMIT $3{}) \
             RETURNING {SIGNAL_COLUMNS}",
            self.skip_locked()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now + lease_ms)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let mut signals = rows.iter().map(signal).collect::<Result<Vec<_>>>()?;
        signals.sort_by_key(|s| s.id);
        Ok(signals)
    }

    pub(super) async fn commit_alert_signals(
        &self,
        signal_ids: &[i64],
        firings: &[Firing],
        deliveries: &[NewDelivery],
        burst: Option<BurstPolicy>,
    ) -> Result<Vec<usize>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin_write().await?;
        // The signals first: if another node consumed any of them (its claim outlived
        // by ours), its round wrote their deliveries, and this one must write nothing.
        let consumed = delete_ids(&mut tx, "alert_signals", signal_ids).await?;
        if consumed != signal_ids.len() as u64 {
            return Err(StoreError::Conflict(
                "signals were evaluated by another node".into(),
            ));
        }
        let mut fired = Vec::new();
        let mut outgoing: Vec<NewDelivery> = Vec::new();
        for (index, firing) in firings.iter().enumerate() {
            // The compare-and-set: a row comes back only if the rule had not acted for
            // the issue within its frequency (or never); a rule or issue deleted
            // meanwhile inserts nothing.
            let row = sqlx::query(
                "INSERT INTO rule_fires (rule_id, issue_id, last_fired, times) \
                 SELECT $1, $2, $3, 1 WHERE EXISTS (SELECT 1 FROM alert_rules WHERE id = $1) \
                 AND EXISTS (SELECT 1 FROM issues WHERE id = $2) \
                 ON CONFLICT (rule_id, issue_id) DO UPDATE SET last_fired = excluded.last_fired, \
                 times = rule_fires.times + 1 WHERE rule_fires.last_fired <= $4 RETURNING rule_id",
            )
            .bind(firing.rule_id)
            .bind(firing.issue_id)
            .bind(now)
            .bind(now - firing.frequency_ms)
            .fetch_optional(&mut *tx)
            .await?;
            if row.is_some() {
                fired.push(index);
                outgoing.extend(firing.deliveries.iter().cloned());
            }
        }
        outgoing.extend(deliveries.iter().cloned());
        insert_deliveries(&mut tx, &outgoing, now, burst).await?;
        tx.commit().await?;
        Ok(fired)
    }

    pub(super) async fn fill_burst_summary(
        &self,
        summary_id: i64,
        build: &SummaryFn<'_>,
    ) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
        )))
        .bind(summary_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let summary = delivery(&row)?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE state = 'held' \
             AND target_kind = $1 AND target_id = $2 AND project_id = $3 ORDER BY id"
        )))
        .bind(target_columns(&summary.target).0)
        .bind(target_columns(&summary.target).1)
        .bind(summary.project_id)
        .fetch_all(&mut *tx)
        .await?;
        let held = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
        let payload = build(&summary.payload, &held);
        let now = self.clock.now_ms();
        for chunk in held.chunks(ID_CHUNK) {
            let sql = format!(
                "UPDATE deliveries SET state = 'collapsed', finished_at = $1 WHERE id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for d in chunk {
                q = q.bind(d.id);
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE deliveries SET payload = $2 WHERE id = $1")
            .bind(summary_id)
            .bind(&payload)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(payload)
    }

    pub(super) async fn delivery_by_id(&self, id: i64) -> Result<Delivery> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        delivery(&row)
    }

    pub(super) async fn claim_due_deliveries(
        &self,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<Delivery>> {
        let now = self.clock.now_ms();
        let sql = format!(
            "UPDATE deliveries SET claimed_until = $1 WHERE id IN (SELECT id FROM deliveries \
             WHERE state = 'pending' AND next_at <= $2 AND claimed_until < $2 \
             ORDER BY next_at, id LIMIT $3{}) RETURNING {DELIVERY_COLUMNS}",
            self.skip_locked()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now + lease_ms)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let mut out = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|d| (d.next_at, d.id));
        Ok(out)
    }

    /// Records each attempt with what comes next, all in one transaction.
    pub(super) async fn record_delivery_attempts(&self, batch: &[RecordedAttempt]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (id, attempt, next) in batch {
            record_one(&mut tx, *id, attempt, *next).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn list_outbox(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE org_id = $1");
        let mut n = 1;
        let mut next = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        if filter.project_id.is_some() {
            next(&mut sql, " AND project_id = ?");
        }
        if filter.state.is_some() {
            next(&mut sql, " AND state = ?");
        }
        if filter.before_id.is_some() {
            next(&mut sql, " AND id < ?");
        }
        next(&mut sql, " ORDER BY id DESC LIMIT ?");
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(filter.org_id);
        if let Some(project_id) = filter.project_id {
            q = q.bind(project_id);
        }
        if let Some(state) = filter.state {
            q = q.bind(state.as_str());
        }
        if let Some(before) = filter.before_id {
            q = q.bind(before);
        }
        let rows = q
            .bind(i64::from(filter.limit.clamp(1, 1000)))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(delivery).collect()
    }

    pub(super) async fn attempts_of(&self, id: i64) -> Result<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT at, status, duration_ms, response, error FROM delivery_attempts \
             WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryAttempt {
                    at: row.try_get(0)?,
                    status: row.try_get(1)?,
                    duration_ms: row.try_get(2)?,
                    response: row.try_get(3)?,
                    error: row.try_get(4)?,
                })
            })
            .collect()
    }
}

async fn record_one(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    attempt: &DeliveryAttempt,
    next: AttemptNext,
) -> Result<()> {
    let (state, next_at, finished_at) = match next {
        AttemptNext::Delivered => (DeliveryState::Delivered, attempt.at, Some(attempt.at)),
        AttemptNext::RetryAt(at) => (DeliveryState::Pending, at, None),
        AttemptNext::Failed => (DeliveryState::Failed, attempt.at, Some(attempt.at)),
    };
    let exists = sqlx::query("SELECT 1 FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_none() {
        // Deleted with its project meanwhile: nothing left to record.
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, at, status, duration_ms, response, \
         error) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(attempt.at)
    .bind(attempt.status)
    .bind(attempt.duration_ms)
    .bind(attempt.response.as_deref())
    .bind(attempt.error.as_deref())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE deliveries SET state = $2, attempts = attempts + 1, next_at = $3, \
         claimed_until = 0, finished_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(next_at)
    .bind(finished_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
