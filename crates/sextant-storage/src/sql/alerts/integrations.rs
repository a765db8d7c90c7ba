//! Internal integrations (Sentry Apps with one installation each) and notification
//! channels.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::SqlStore;
use crate::alerts::*;
use crate::{Result, StoreError};

const APP_COLUMNS: &str = "id, org_id, slug, name, uuid, installation_uuid, webhook_url, events, \
     scopes, is_alertable, overview, client_id, client_secret, created_at";
const CHANNEL_COLUMNS: &str = "id, org_id, project_id, name, kind, config, created_at";

fn list(row: &AnyRow, col: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Backend(format!("stored {col}: {e}")))
}

fn app(row: &AnyRow) -> Result<SentryApp> {
    Ok(SentryApp {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        uuid: row.try_get("uuid")?,
        installation_uuid: row.try_get("installation_uuid")?,
        webhook_url: row.try_get("webhook_url")?,
        events: list(row, "events")?,
        scopes: list(row, "scopes")?,
        is_alertable: row.try_get::<i64, _>("is_alertable")? != 0,
        overview: row.try_get("overview")?,
        client_id: row.try_get("client_id")?,
        client_secret: row.try_get("client_secret")?,
        created_at: row.try_get("created_at")?,
    })
}

fn channel(row: &AnyRow) -> Result<Channel> {
    Ok(Channel {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        config: row.try_get("config")?,
        created_at: row.try_get("created_at")?,
    })
}

fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn to_json(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

impl SqlStore {
    pub(super) async fn insert_sentry_app(&self, new: &NewSentryApp) -> Result<SentryApp> {
        let taken = sqlx::query("SELECT 1 FROM sentry_apps WHERE slug = $1")
            .bind(&new.slug)
            .fetch_optional(&self.reader)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "an integration named {:?} exists",
                new.slug
            )));
        }
        // Sentry's client secrets are 64 hex digits.
        let secret = format!("{}{}", hex_id(), hex_id());
        let row = sqlx::query(
            "INSERT INTO sentry_apps (org_id, slug, name, uuid, installation_uuid, webhook_url, \
             events, scopes, is_alertable, overview, client_id, client_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(new.org_id)
        .bind(&new.slug)
        .bind(&new.name)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.webhook_url.as_deref())
        .bind(to_json(&new.events))
        .bind(to_json(&new.scopes))
        .bind(i64::from(new.is_alertable))
        .bind(new.overview.as_deref())
        .bind(format!("{}{}", hex_id(), hex_id()))
        .bind(secret)
        .bind(self.clock.now_ms())
        .fetch_one(&self.writer)
        .await?;
        self.sentry_app_by_id(row.try_get(0)?).await
    }

    pub(super) async fn change_sentry_app(&self, id: i64, new: &NewSentryApp) -> Result<SentryApp> {
        let done = sqlx::query(
            "UPDATE sentry_apps SET name = $2, webhook_url = $3, events = $4, scopes = $5, \
             is_alertable = $6, overview = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(&new.name)
        .bind(new.webhook_url.as_deref())
        .bind(to_json(&new.events))
        .bind(to_json(&new.scopes))
        .bind(i64::from(new.is_alertable))
        .bind(new.overview.as_deref())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.sentry_app_by_id(id).await
    }

    pub(super) async fn sentry_app_by_id(&self, id: i64) -> Result<SentryApp> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM sentry_apps WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        app(&row)
    }

    /// `column` is one of the unique text columns, named by the caller's code only.
    pub(super) async fn sentry_app_where(&self, column: &str, value: &str) -> Result<SentryApp> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM sentry_apps WHERE {column} = $1"
        )))
        .bind(value)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        app(&row)
    }

    pub(super) async fn sentry_apps_of(&self, org_id: i64) -> Result<Vec<SentryApp>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APP_COLUMNS} FROM sentry_apps WHERE org_id = $1 ORDER BY id"
        )))
        .bind(org_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(app).collect()
    }

    pub(super) async fn insert_channel(&self, new: &NewChannel) -> Result<Channel> {
        let row = sqlx::query(
            "INSERT INTO alert_channels (org_id, project_id, name, kind, config, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(new.org_id)
        .bind(new.project_id)
        .bind(&new.name)
        .bind(&new.kind)
        .bind(&new.config)
        .bind(self.clock.now_ms())
        .fetch_one(&self.writer)
        .await?;
        self.channel_by_id(row.try_get(0)?).await
    }

    pub(super) async fn change_channel(&self, id: i64, new: &NewChannel) -> Result<Channel> {
        let done = sqlx::query(
            "UPDATE alert_channels SET project_id = $2, name = $3, kind = $4, config = $5 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(new.project_id)
        .bind(&new.name)
        .bind(&new.kind)
        .bind(&new.config)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.channel_by_id(id).await
    }

    pub(super) async fn channel_by_id(&self, id: i64) -> Result<Channel> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        channel(&row)
    }

    pub(super) async fn channels_of(&self, org_id: i64) -> Result<Vec<Channel>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE org_id = $1 ORDER BY id"
        )))
        .bind(org_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(channel).collect()
    }
}
