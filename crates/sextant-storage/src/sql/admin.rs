//! Organizations, projects, DSN keys and API tokens: the administrative tables.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::exec::{Exec, LiteConn, Val, run_ready};
use super::rows::{self, KEY_COLUMNS, ORG_COLUMNS, PROJECT_COLUMNS, PROJECT_FROM, TOKEN_COLUMNS};
use super::{Backend, SqlStore, flag};
use crate::model::*;
use crate::{Result, StoreError};

/// A fresh DSN public key: 32 lowercase hex characters from a random UUID.
fn new_public_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Turns a unique violation into a conflict with a message the caller can show.
fn conflict_as(what: String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(what),
        other => other,
    }
}

async fn fetch_project(conn: &mut AnyConnection, id: i64) -> Result<Project> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM {PROJECT_FROM} WHERE p.id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(rows::project)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

async fn fetch_key(
    conn: &mut AnyConnection,
    project_id: i64,
    public_key: &str,
) -> Result<ProjectKey> {
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = $1 AND public_key = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(project_id)
        .bind(public_key)
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(rows::key)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

async fn insert_org(
    conn: &mut AnyConnection,
    slug: &str,
    name: &str,
    now: i64,
) -> Result<Organization> {
    let sql = format!(
        "INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3) RETURNING {ORG_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(slug)
        .bind(name)
        .bind(now)
        .fetch_one(conn)
        .await
        .map_err(conflict_as(format!("organization {slug:?} already exists")))?;
    rows::org(&row)
}

async fn insert_project(
    conn: &mut AnyConnection,
    backend: Backend,
    org_id: i64,
    slug: &str,
    name: &str,
    platform: Option<&str>,
    now: i64,
) -> Result<Project> {
    let org = sqlx::query("SELECT id FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    if org.is_none() {
        return Err(StoreError::NotFound);
    }
    let sql = match backend {
        // SQLite would hand a deleted project's id out again (see `id_floors`).
        Backend::Sqlite => {
            "INSERT INTO projects (id, org_id, slug, name, platform, created_at) \
             VALUES (MAX(COALESCE((SELECT MAX(id) FROM projects), 0), \
                         COALESCE((SELECT floor FROM id_floors WHERE name = 'projects'), 0)) + 1, \
                     $1, $2, $3, $4, $5) RETURNING id"
        }
        Backend::Postgres => {
            "INSERT INTO projects (org_id, slug, name, platform, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id"
        }
    };
    let row = sqlx::query(sql)
        .bind(org_id)
        .bind(slug)
        .bind(name)
        .bind(platform)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(conflict_as(format!(
            "project {slug:?} already exists in this organization"
        )))?;
    fetch_project(conn, row.try_get("id")?).await
}

async fn insert_key(
    conn: &mut AnyConnection,
    project_id: i64,
    label: &str,
    now: i64,
) -> Result<ProjectKey> {
    let sql = format!(
        "INSERT INTO project_keys (project_id, public_key, label, active, created_at) \
         VALUES ($1, $2, $3, 1, $4) RETURNING {KEY_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(project_id)
        .bind(new_public_key())
        .bind(label)
        .bind(now)
        .fetch_one(conn)
        .await?;
    rows::key(&row)
}

impl SqlStore {
    pub(super) async fn bootstrap_default(
        &self,
    ) -> Result<Option<(Organization, Project, ProjectKey)>> {
        let mut tx = self.begin_write().await?;
        let any_org = sqlx::query("SELECT id FROM organizations LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if any_org.is_some() {
            return Ok(None);
        }
        // Two PostgreSQL nodes may race here; the loser hits the slug constraint and
        // reports that nothing was created. The three rows share one creation time.
        let now = self.clock.now_ms();
        let org = match insert_org(&mut tx, "default", "Default", now).await {
            Err(StoreError::Conflict(_)) => return Ok(None),
            other => other?,
        };
        let project = insert_project(
            &mut tx,
            self.backend,
            org.id,
            "default",
            "Default",
            None,
            now,
        )
        .await?;
        let key = insert_key(&mut tx, project.id, "Default", now).await?;
        tx.commit().await?;
        Ok(Some((org, project, key)))
    }

    pub(super) async fn create_org(&self, slug: &str, name: &str) -> Result<Organization> {
        let mut tx = self.begin_write().await?;
        let org = insert_org(&mut tx, slug, name, self.clock.now_ms()).await?;
        tx.commit().await?;
        Ok(org)
    }

    pub(super) async fn get_org(&self, slug: &str) -> Result<Organization> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE slug = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref()
            .map(rows::org)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub(super) async fn list_orgs(&self) -> Result<Vec<Organization>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY id");
        let all = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.reader)
            .await?;
        all.iter().map(rows::org).collect()
    }

    pub(super) async fn create_project(
        &self,
        org_id: i64,
        slug: &str,
        name: &str,
        platform: Option<&str>,
    ) -> Result<Project> {
        let mut tx = self.begin_write().await?;
        let project = insert_project(
            &mut tx,
            self.backend,
            org_id,
            slug,
            name,
            platform,
            self.clock.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(project)
    }

    pub(super) async fn get_project(&self, id: i64) -> Result<Project> {
        fetch_project(&mut *self.reader.acquire().await?, id).await
    }

    pub(super) async fn get_project_by_slug(&self, org_slug: &str, slug: &str) -> Result<Project> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM {PROJECT_FROM} WHERE o.slug = $1 AND p.slug = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(org_slug)
            .bind(slug)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref()
            .map(rows::project)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    pub(super) async fn list_projects(&self, org_id: Option<i64>) -> Result<Vec<Project>> {
        // `$1 IS NULL` keeps one statement for both cases.
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM {PROJECT_FROM} WHERE $1 IS NULL OR p.org_id = $1 ORDER BY p.id"
        );
        let all = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .fetch_all(&self.reader)
            .await?;
        all.iter().map(rows::project).collect()
    }

    pub(super) async fn rename_project(&self, id: i64, name: &str) -> Result<Project> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE projects SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let project = fetch_project(&mut tx, id).await?;
        tx.commit().await?;
        Ok(project)
    }

    pub(super) async fn delete_project(&self, id: i64) -> Result<()> {
        // Every project-owned table cascades from `projects` (see the migrations).
        let done = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // Requests of the project still queued in a journal are dropped by processing,
        // which finds the project gone; its id is never handed out again (0005_journal).
        self.seen_projects
            .write()
            .expect("projects lock")
            .remove(&id);
        Ok(())
    }

    pub(super) async fn create_key(&self, project_id: i64, label: &str) -> Result<ProjectKey> {
        let mut tx = self.begin_write().await?;
        let key = insert_key(&mut tx, project_id, label, self.clock.now_ms()).await?;
        tx.commit().await?;
        Ok(key)
    }

    pub(super) async fn list_keys(&self, project_id: i64) -> Result<Vec<ProjectKey>> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = $1 ORDER BY id");
        let all = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .fetch_all(&self.reader)
            .await?;
        all.iter().map(rows::key).collect()
    }

    pub(super) async fn find_key(&self, public_key: &str) -> Result<Option<ProjectKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE public_key = $1");
        if let Some(lite) = &self.lite {
            // Every ingest request asks this: a point read in place, no thread hand-off.
            return lite.read(|conn| {
                let rows = run_ready(LiteConn(conn).fetch(&sql, &[Val::Text(public_key)]))?;
                rows.first().map(rows::key).transpose()
            });
        }
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(public_key)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(rows::key).transpose()
    }

    pub(super) async fn set_key_active(
        &self,
        project_id: i64,
        public_key: &str,
        active: bool,
    ) -> Result<ProjectKey> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE project_keys SET active = $3 WHERE project_id = $1 AND public_key = $2",
        )
        .bind(project_id)
        .bind(public_key)
        .bind(flag(active))
        .execute(&mut *tx)
        .await?;
        let key = fetch_key(&mut tx, project_id, public_key).await?;
        tx.commit().await?;
        Ok(key)
    }

    pub(super) async fn set_key_rate_limit(
        &self,
        project_id: i64,
        public_key: &str,
        count: Option<i64>,
        window_secs: Option<i64>,
    ) -> Result<ProjectKey> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE project_keys SET rate_limit_count = $3, rate_limit_window_secs = $4 \
             WHERE project_id = $1 AND public_key = $2",
        )
        .bind(project_id)
        .bind(public_key)
        .bind(count)
        .bind(window_secs)
        .execute(&mut *tx)
        .await?;
        let key = fetch_key(&mut tx, project_id, public_key).await?;
        tx.commit().await?;
        Ok(key)
    }

    pub(super) async fn delete_key(&self, project_id: i64, public_key: &str) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM project_keys WHERE project_id = $1 AND public_key = $2")
                .bind(project_id)
                .bind(public_key)
                .execute(&self.writer)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn create_token(
        &self,
        token_hash: &str,
        scope: TokenScope,
        label: &str,
    ) -> Result<ApiToken> {
        let sql = format!(
            "INSERT INTO api_tokens (token_hash, scope, label, created_at, revoked) \
             VALUES ($1, $2, $3, $4, 0) RETURNING {TOKEN_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(scope.as_str())
            .bind(label)
            .bind(self.clock.now_ms())
            .fetch_one(&self.writer)
            .await
            .map_err(conflict_as(
                "a token with this hash already exists".to_string(),
            ))?;
        rows::token(&row)
    }

    pub(super) async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(rows::token).transpose()
    }

    pub(super) async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id");
        let all = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.reader)
            .await?;
        all.iter().map(rows::token).collect()
    }

    pub(super) async fn revoke_token(&self, id: i64) -> Result<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
