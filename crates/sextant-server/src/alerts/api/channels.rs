//! Notification channels (`/api/0/organizations/{org}/alert-channels/`): Slack, Discord,
//! Teams, Google Chat, Mattermost, Telegram, ntfy and PagerDuty, by incoming webhook or
//! API key. Secrets are stored and never shown again; responses carry them redacted.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_storage::{Channel, NewChannel, Organization};

use super::super::channel_store::{self, ChannelSaveError};
use super::super::channels::ChannelConfig;
use super::deliveries::delivery_json;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::support::{PathParams, param, parse_body, resolve_project};
use crate::clock::format_ms;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct ChannelBody {
    name: Option<String>,
    /// A project slug: the channel belongs to that project; else to the organization.
    project: Option<String>,
    config: Option<Value>,
}

fn channel_json(channel: &Channel) -> Value {
    let config = serde_json::from_str::<ChannelConfig>(&channel.config)
        .map(|c| c.redacted())
        .unwrap_or(Value::Null);
    json!({
        "id": channel.id.to_string(),
        "name": channel.name,
        "kind": channel.kind,
        "projectId": channel.project_id.map(|p| p.to_string()),
        "config": config,
        "dateCreated": format_ms(channel.created_at),
    })
}

async fn org_and_channel(state: &AppState, p: &PathParams) -> ApiResult<(Organization, Channel)> {
    let org = state.store.get_org(param(p, "org")?).await?;
    let id: i64 = param(p, "id")?.parse().map_err(|_| ApiError::NotFound)?;
    let channel = state.store.get_channel(id).await?;
    if channel.org_id != org.id {
        return Err(ApiError::NotFound);
    }
    Ok((org, channel))
}

async fn new_channel(
    state: &AppState,
    org: &Organization,
    body: ChannelBody,
    current: Option<&Channel>,
) -> ApiResult<NewChannel> {
    let config = match (body.config, current) {
        (Some(raw), _) => serde_json::from_value(raw)
            .map_err(|e| ApiError::bad_request(format!("config: {e}")))?,
        (None, Some(channel)) => serde_json::from_str(&channel.config)
            .map_err(|e| ApiError::Internal(format!("stored channel config: {e}")))?,
        (None, None) => return Err(ApiError::bad_request("config: required")),
    };
    let name = body.name.or_else(|| current.map(|c| c.name.clone()));
    let project_id = match body.project.as_deref() {
        Some(slug) => Some(resolve_project(state, &org.slug, slug).await?.id),
        None => current.and_then(|c| c.project_id),
    };
    channel_store::new_channel(org.id, project_id, name.as_deref(), &config).map_err(api_error)
}

fn api_error(err: ChannelSaveError) -> ApiError {
    match err {
        ChannelSaveError::Config(_) | ChannelSaveError::Name => {
            ApiError::bad_request(err.to_string())
        }
        ChannelSaveError::Encode(e) => ApiError::Internal(format!("channel: {e}")),
        ChannelSaveError::Store(e) => e.into(),
    }
}

pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let channels = state.store.list_channels(org.id).await?;
    Ok(Json(channels.iter().map(channel_json).collect()))
}

pub async fn create(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let body: ChannelBody = parse_body(&body)?;
    let new = new_channel(&state, &org, body, None).await?;
    let channel = state.store.create_channel(&new).await?;
    Ok((StatusCode::CREATED, Json(channel_json(&channel))).into_response())
}

pub async fn detail(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let (_, channel) = org_and_channel(&state, &p).await?;
    Ok(Json(channel_json(&channel)))
}

pub async fn update(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (org, channel) = org_and_channel(&state, &p).await?;
    let body: ChannelBody = parse_body(&body)?;
    let new = new_channel(&state, &org, body, Some(&channel)).await?;
    Ok(Json(channel_json(
        &state.store.update_channel(channel.id, &new).await?,
    )))
}

pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let (_, channel) = org_and_channel(&state, &p).await?;
    state.store.delete_channel(channel.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "Send test": a test notice through the outbox, shown in the delivery log.
pub async fn send_test(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Response> {
    let (org, channel) = org_and_channel(&state, &p).await?;
    let now = state.clock.now_ms();
    let written =
        channel_store::send_test(state.store.as_ref(), &org, &channel, &state.base_url(), now)
            .await
            .map_err(api_error)?;
    state.alert_deliveries.notify_one();
    let body = written.as_ref().map(delivery_json).unwrap_or(Value::Null);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
