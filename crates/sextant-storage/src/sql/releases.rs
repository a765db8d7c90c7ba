//! `ReleaseStore` for `SqlStore`: releases, deploys, commits, gate settings and checks.
//! Session rollups and event counts live in `sessions.rs`.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Acquire, Row};

use super::SqlStore;
use super::rows::{ISSUE_COLUMNS, issue};
use crate::model::{Issue, Millis};
use crate::releases::*;
use crate::{Result, StoreError};

const RELEASE_COLUMNS: &str = "project_id, version, first_seen, date_started, date_released, url";
const DEPLOY_COLUMNS: &str =
    "id, project_id, version, environment, name, url, date_started, date_finished";
const CHECK_COLUMNS: &str =
    "id, project_id, version, environment, deploy_id, due_at, run_at, verdict, report";

fn release(row: &AnyRow) -> Result<ReleaseRecord> {
    Ok(ReleaseRecord {
        project_id: row.try_get("project_id")?,
        version: row.try_get("version")?,
        date_created: row.try_get("first_seen")?,
        date_started: row.try_get("date_started")?,
        date_released: row.try_get("date_released")?,
        url: row.try_get("url")?,
    })
}

fn deploy(row: &AnyRow) -> Result<DeployRecord> {
    Ok(DeployRecord {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        version: row.try_get("version")?,
        environment: row.try_get("environment")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        date_started: row.try_get("date_started")?,
        date_finished: row.try_get("date_finished")?,
    })
}

fn check(row: &AnyRow) -> Result<CheckRecord> {
    Ok(CheckRecord {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        version: row.try_get("version")?,
        environment: row.try_get("environment")?,
        deploy_id: row.try_get("deploy_id")?,
        due_at: row.try_get("due_at")?,
        run_at: row.try_get("run_at")?,
        verdict: row.try_get("verdict")?,
        report: row.try_get("report")?,
    })
}

#[async_trait]
impl ReleaseStore for SqlStore {
    async fn upsert_release(
        &self,
        project_id: i64,
        version: &str,
        patch: &ReleasePatch,
    ) -> Result<ReleaseRecord> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO releases (project_id, version, first_seen) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, version) DO NOTHING",
        )
        .bind(project_id)
        .bind(version)
        .bind(self.clock.now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE releases SET date_started = COALESCE($3, date_started), \
             date_released = COALESCE($4, date_released), url = COALESCE($5, url) \
             WHERE project_id = $1 AND version = $2",
        )
        .bind(project_id)
        .bind(version)
        .bind(patch.date_started)
        .bind(patch.date_released)
        .bind(patch.url.as_deref())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE project_id = $1 AND version = $2"
        )))
        .bind(project_id)
        .bind(version)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        release(&row)
    }

    async fn get_release(&self, project_id: i64, version: &str) -> Result<ReleaseRecord> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE project_id = $1 AND version = $2"
        )))
        .bind(project_id)
        .bind(version)
        .fetch_one(&self.reader)
        .await?;
        release(&row)
    }

    async fn list_releases(&self, project_id: i64) -> Result<Vec<ReleaseRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE project_id = $1 \
             ORDER BY first_seen DESC, version DESC"
        )))
        .bind(project_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(release).collect()
    }

    async fn delete_release(&self, project_id: i64, version: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM releases WHERE project_id = $1 AND version = $2")
            .bind(project_id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // The column is `release` in the session tables and `version` elsewhere.
        for table in [
            "deploys WHERE project_id = $1 AND version = $2",
            "release_commits WHERE project_id = $1 AND version = $2",
            "release_checks WHERE project_id = $1 AND version = $2",
            "session_rollups WHERE project_id = $1 AND release = $2",
            "session_members WHERE project_id = $1 AND release = $2",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .bind(project_id)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_deploy(&self, d: &NewDeploy) -> Result<DeployRecord> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO releases (project_id, version, first_seen) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, version) DO NOTHING",
        )
        .bind(d.project_id)
        .bind(d.version.as_str())
        .bind(self.clock.now_ms())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO deploys (project_id, version, environment, name, url, date_started, \
             date_finished) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {DEPLOY_COLUMNS}"
        )))
        .bind(d.project_id)
        .bind(d.version.as_str())
        .bind(d.environment.as_str())
        .bind(d.name.as_deref())
        .bind(d.url.as_deref())
        .bind(d.date_started)
        .bind(d.date_finished)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        deploy(&row)
    }

    async fn list_deploys(
        &self,
        project_id: i64,
        version: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<DeployRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEPLOY_COLUMNS} FROM deploys WHERE project_id = $1 \
             AND ($2 IS NULL OR version = $2) AND ($3 IS NULL OR environment = $3) \
             ORDER BY date_finished, id"
        )))
        .bind(project_id)
        .bind(version)
        .bind(environment)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(deploy).collect()
    }

    async fn set_release_commits(
        &self,
        project_id: i64,
        version: &str,
        commits: &[NewCommit],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let conn = tx.acquire().await?;
        sqlx::query(
            "INSERT INTO releases (project_id, version, first_seen) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, version) DO NOTHING",
        )
        .bind(project_id)
        .bind(version)
        .bind(self.clock.now_ms())
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM release_commits WHERE project_id = $1 AND version = $2")
            .bind(project_id)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        for (position, c) in commits.iter().enumerate() {
            let row = sqlx::query(
                "INSERT INTO release_commits (project_id, version, position, sha, repository, \
                 author_name, author_email, message, committed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(project_id)
            .bind(version)
            .bind(position as i64)
            .bind(c.sha.as_str())
            .bind(c.repository.as_deref())
            .bind(c.author_name.as_deref())
            .bind(c.author_email.as_deref())
            .bind(c.message.as_deref())
            .bind(c.committed_at)
            .fetch_one(&mut *conn)
            .await?;
            let commit_id: i64 = row.try_get("id")?;
            for f in &c.files {
                sqlx::query(
                    "INSERT INTO commit_files (commit_id, path, change_type) VALUES ($1, $2, $3)",
                )
                .bind(commit_id)
                .bind(f.path.as_str())
                .bind(f.change_type.as_str())
                .execute(&mut *conn)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_release_commits(&self, project_id: i64, version: &str) -> Result<Vec<NewCommit>> {
        let rows = sqlx::query(
            "SELECT c.id, c.sha, c.repository, c.author_name, c.author_email, c.message, \
             c.committed_at, f.path, f.change_type FROM release_commits c \
             LEFT JOIN commit_files f ON f.commit_id = c.id \
             WHERE c.project_id = $1 AND c.version = $2 ORDER BY c.position, f.path",
        )
        .bind(project_id)
        .bind(version)
        .fetch_all(&self.reader)
        .await?;
        let mut out: Vec<(i64, NewCommit)> = Vec::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            if out.last().is_none_or(|(last, _)| *last != id) {
                out.push((
                    id,
                    NewCommit {
                        sha: row.try_get("sha")?,
                        repository: row.try_get("repository")?,
                        author_name: row.try_get("author_name")?,
                        author_email: row.try_get("author_email")?,
                        message: row.try_get("message")?,
                        committed_at: row.try_get("committed_at")?,
                        files: Vec::new(),
                    },
                ));
            }
            let path: Option<String> = row.try_get("path")?;
            if let (Some(path), Some((_, commit))) = (path, out.last_mut()) {
                commit.files.push(CommitFile {
                    path,
                    change_type: row
                        .try_get::<Option<String>, _>("change_type")?
                        .unwrap_or_default(),
                });
            }
        }
        Ok(out.into_iter().map(|(_, c)| c).collect())
    }

    async fn session_totals(&self, scope: &HealthScope) -> Result<SessionTotals> {
        SqlStore::session_totals(self, scope).await
    }

    async fn session_buckets(&self, scope: &HealthScope) -> Result<Vec<SessionBucket>> {
        SqlStore::session_buckets(self, scope).await
    }

    async fn event_counts(&self, scope: &HealthScope) -> Result<EventCounts> {
        SqlStore::event_counts(self, scope).await
    }

    async fn prune_sessions(&self, rollups_before: Millis, sids_before: Millis) -> Result<u64> {
        SqlStore::prune_sessions(self, rollups_before, sids_before).await
    }

    async fn issue_release_before(&self, issue_id: i64, before: Millis) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT release_name FROM events WHERE issue_id = $1 AND received_at < $2 \
             AND release_name IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT 1",
        )
        .bind(issue_id)
        .bind(before)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| r.try_get("release_name"))
            .transpose()
            .map_err(Into::into)
    }

    async fn gate_settings(&self, project_id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT settings FROM release_gate_settings WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| r.try_get("settings"))
            .transpose()
            .map_err(Into::into)
    }

    async fn set_gate_settings(&self, project_id: i64, settings_json: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO release_gate_settings (project_id, settings) VALUES ($1, $2) \
             ON CONFLICT (project_id) DO UPDATE SET settings = excluded.settings",
        )
        .bind(project_id)
        .bind(settings_json)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn schedule_checks(&self, checks: &[NewCheck]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for c in checks {
            sqlx::query(
                "INSERT INTO release_checks (project_id, version, environment, deploy_id, due_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(c.project_id)
            .bind(c.version.as_str())
            .bind(c.environment.as_str())
            .bind(c.deploy_id)
            .bind(c.due_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn due_checks(&self, now: Millis, limit: u32) -> Result<Vec<CheckRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECK_COLUMNS} FROM release_checks WHERE run_at IS NULL AND due_at <= $1 \
             ORDER BY due_at, id LIMIT $2"
        )))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(check).collect()
    }

    async fn complete_check(
        &self,
        id: i64,
        run_at: Millis,
        verdict: &str,
        report: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE release_checks SET run_at = $2, verdict = $3, report = $4 \
             WHERE id = $1 AND run_at IS NULL",
        )
        .bind(id)
        .bind(run_at)
        .bind(verdict)
        .bind(report)
        .execute(&mut *tx)
        .await?;
        // The verdict is an alerting signal, recorded with it (once: a check runs once).
        if done.rows_affected() == 1 {
            sqlx::query(
                "INSERT INTO alert_signals (project_id, issue_id, check_id, kind, new_issue, \
                 regression, event_id, created_at, claimed_until) SELECT project_id, NULL, id, \
                 'verdict', 0, 0, NULL, $2, 0 FROM release_checks WHERE id = $1",
            )
            .bind(id)
            .bind(self.clock.now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_check(&self, id: i64) -> Result<CheckRecord> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECK_COLUMNS} FROM release_checks WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        check(&row)
    }

    async fn list_checks(&self, project_id: i64, version: &str) -> Result<Vec<CheckRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHECK_COLUMNS} FROM release_checks WHERE project_id = $1 AND version = $2 \
             ORDER BY due_at DESC, id DESC"
        )))
        .bind(project_id)
        .bind(version)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(check).collect()
    }

    async fn list_release_issues(
        &self,
        project_id: i64,
        version: &str,
        regressed: bool,
        limit: u32,
    ) -> Result<Vec<Issue>> {
        // The column is chosen from two constants, never from input.
        let column = if regressed {
            "regressed_in_release"
        } else {
            "first_release"
        };
        let order = if regressed {
            "regressed_at"
        } else {
            "first_seen"
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS} FROM issues WHERE project_id = $1 AND {column} = $2 \
             ORDER BY {order} DESC, id DESC LIMIT $3"
        )))
        .bind(project_id)
        .bind(version)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(issue).collect()
    }

    async fn count_new_issues_by_release(&self, project_id: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT first_release, COUNT(*) AS n FROM issues \
             WHERE project_id = $1 AND first_release IS NOT NULL GROUP BY first_release",
        )
        .bind(project_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("first_release")?, r.try_get("n")?)))
            .collect()
    }
}
