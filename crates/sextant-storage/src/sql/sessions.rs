//! Session rollups: the window queries behind release health, error-event counts per
//! release, and pruning. (Deltas are applied by the batch writer, `ingest_write`.)
//!
//! Sums are cast to BIGINT because PostgreSQL widens `SUM(bigint)` to NUMERIC, which the
//! `Any` driver cannot decode.

use sqlx::{AssertSqlSafe, Row};

use super::{Arg, Args, SqlStore};
use crate::Result;
use crate::model::Millis;
use crate::releases::*;

const HOUR_MS: i64 = 3_600_000;

/// `WHERE` conditions of a scope over a session table, with bucket bounds given.
fn scope_filter(scope: &HealthScope, from: Millis, args: &mut Args) -> String {
    let mut sql = format!(
        "project_id = {} AND bucket >= {} AND bucket < {}",
        args.push(Arg::Int(scope.project_id)),
        args.push(Arg::Int(from)),
        args.push(Arg::Int(scope.to)),
    );
    if let Some(release) = &scope.release {
        sql.push_str(&format!(
            " AND release = {}",
            args.push(Arg::Text(release.clone()))
        ));
    }
    if let Some(env) = &scope.environment {
        sql.push_str(&format!(
            " AND environment = {}",
            args.push(Arg::Text(env.clone()))
        ));
    }
    sql
}

fn sum(col: &str) -> String {
    format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT) AS {col}")
}

fn distinct_with(bit: i64, name: &str) -> String {
    format!("COUNT(DISTINCT CASE WHEN (bits & {bit}) <> 0 THEN member END) AS {name}")
}

impl SqlStore {
    pub(super) async fn session_totals(&self, scope: &HealthScope) -> Result<SessionTotals> {
        let mut args = Args::default();
        let filter = scope_filter(scope, scope.from, &mut args);
        let sql = format!(
            "SELECT {}, {}, {}, {}, {} FROM session_rollups WHERE {filter}",
            sum("total"),
            sum("errored"),
            sum("crashed"),
            sum("abnormal"),
            sum("unhandled")
        );
        let row = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(&self.reader)
            .await?;
        let mut totals = SessionTotals {
            total: row.try_get("total")?,
            errored: row.try_get("errored")?,
            crashed: row.try_get("crashed")?,
            abnormal: row.try_get("abnormal")?,
            unhandled: row.try_get("unhandled")?,
            ..SessionTotals::default()
        };

        // Users are kept per hour: the window widens to whole hours for them.
        let mut args = Args::default();
        let hour_from = scope.from - scope.from.rem_euclid(HOUR_MS);
        let filter = scope_filter(scope, hour_from, &mut args);
        let sql = format!(
            "SELECT {}, {}, {}, {} FROM session_members WHERE kind = 'u' AND {filter}",
            distinct_with(user_bits::SEEN, "users"),
            distinct_with(user_bits::ERRORED, "errored_users"),
            distinct_with(user_bits::CRASHED, "crashed_users"),
            distinct_with(user_bits::ABNORMAL, "abnormal_users"),
        );
        let row = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(&self.reader)
            .await?;
        totals.users = row.try_get("users")?;
        totals.errored_users = row.try_get("errored_users")?;
        totals.crashed_users = row.try_get("crashed_users")?;
        totals.abnormal_users = row.try_get("abnormal_users")?;
        Ok(totals)
    }

    pub(super) async fn session_buckets(&self, scope: &HealthScope) -> Result<Vec<SessionBucket>> {
        let mut args = Args::default();
        let filter = scope_filter(scope, scope.from, &mut args);
        let sql = format!(
            "SELECT release, environment, bucket, total, errored, crashed, abnormal, unhandled \
             FROM session_rollups WHERE {filter} ORDER BY bucket, release, environment"
        );
        let rows = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionBucket {
                    release: r.try_get("release")?,
                    environment: r.try_get("environment")?,
                    bucket: r.try_get("bucket")?,
                    total: r.try_get("total")?,
                    errored: r.try_get("errored")?,
                    crashed: r.try_get("crashed")?,
                    abnormal: r.try_get("abnormal")?,
                    unhandled: r.try_get("unhandled")?,
                })
            })
            .collect()
    }

    pub(super) async fn event_counts(&self, scope: &HealthScope) -> Result<EventCounts> {
        let mut args = Args::default();
        let mut filter = format!(
            "e.project_id = {} AND e.timestamp_ms >= {} AND e.timestamp_ms < {}",
            args.push(Arg::Int(scope.project_id)),
            args.push(Arg::Int(scope.from)),
            args.push(Arg::Int(scope.to)),
        );
        if let Some(release) = &scope.release {
            filter.push_str(&format!(
                " AND e.release_name = {}",
                args.push(Arg::Text(release.clone()))
            ));
        }
        match scope.environment.as_deref() {
            // Sessions without an environment are stored under ""; events under NULL.
            Some("") => filter.push_str(" AND e.environment IS NULL"),
            Some(env) => filter.push_str(&format!(
                " AND e.environment = {}",
                args.push(Arg::Text(env.to_string()))
            )),
            None => {}
        }
        let sql = format!(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(e.unhandled), 0) AS BIGINT) AS u \
             FROM events e WHERE {filter}"
        );
        let row = args
            .bind_all(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(&self.reader)
            .await?;
        let mut counts = EventCounts {
            events: row.try_get("n")?,
            unhandled_events: row.try_get("u")?,
            new_issues: Vec::new(),
        };
        if scope.release.is_some() {
            let mut new_args = Args::default();
            // Rebuild the same filter with fresh numbering for the join query.
            let refiltered = {
                let s = scope;
                let mut f = format!(
                    "e.project_id = {} AND e.timestamp_ms >= {} AND e.timestamp_ms < {}",
                    new_args.push(Arg::Int(s.project_id)),
                    new_args.push(Arg::Int(s.from)),
                    new_args.push(Arg::Int(s.to)),
                );
                let release = new_args.push(Arg::Text(s.release.clone().unwrap_or_default()));
                f.push_str(&format!(
                    " AND e.release_name = {release} AND i.first_release = {release}"
                ));
                match s.environment.as_deref() {
                    Some("") => f.push_str(" AND e.environment IS NULL"),
                    Some(env) => f.push_str(&format!(
                        " AND e.environment = {}",
                        new_args.push(Arg::Text(env.to_string()))
                    )),
                    None => {}
                }
                f
            };
            let sql = format!(
                "SELECT e.issue_id, COUNT(*) AS n, COUNT(DISTINCT e.user_key) AS users \
                 FROM events e JOIN issues i ON i.id = e.issue_id WHERE {refiltered} \
                 GROUP BY e.issue_id ORDER BY n DESC, e.issue_id"
            );
            let rows = new_args
                .bind_all(sqlx::query(AssertSqlSafe(sql)))
                .fetch_all(&self.reader)
                .await?;
            for r in &rows {
                counts.new_issues.push((
                    r.try_get("issue_id")?,
                    r.try_get("n")?,
                    r.try_get("users")?,
                ));
            }
        }
        Ok(counts)
    }

    pub(super) async fn prune_sessions(
        &self,
        rollups_before: Millis,
        sids_before: Millis,
    ) -> Result<u64> {
        let mut n = 0;
        n += sqlx::query("DELETE FROM session_rollups WHERE bucket < $1")
            .bind(rollups_before)
            .execute(&self.writer)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM session_members WHERE kind = 'u' AND bucket < $1")
            .bind(rollups_before)
            .execute(&self.writer)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM session_members WHERE kind = 's' AND bucket < $1")
            .bind(sids_before)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(n)
    }
}
