//! The legacy webhooks plugin (`/api/0/projects/{org}/{project}/plugins/webhooks/`):
//! its URLs, one per line as in Sentry, receive the unsigned legacy payload when a rule
//! names the plugin.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::evaluate::{WEBHOOK_URLS, webhook_urls};
use super::check_url;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::support::{PathParams, parse_body, path_project};
use crate::state::AppState;

/// URLs one project may list.
const MAX_URLS: usize = 20;

#[derive(Debug, Deserialize)]
struct PluginBody {
    urls: Option<String>,
}

fn plugin_json(urls: &[String], enabled: bool) -> Value {
    json!({
        "id": "webhooks",
        "slug": "webhooks",
        "name": "WebHooks",
        "enabled": enabled,
        "isHidden": false,
        "type": "notification",
        "canDisable": true,
        "config": [{
            "name": "urls",
            "label": "Callback URLs",
            "type": "textarea",
            "help": "Enter callback URLs to POST new events to (one per line).",
            "value": urls.join("\n"),
        }],
    })
}

pub async fn detail(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let option = state.store.project_option(project.id, WEBHOOK_URLS).await?;
    let urls = webhook_urls(option.as_ref());
    Ok(Json(plugin_json(&urls, option.is_some())))
}

/// `PUT`: sets the URLs (and enables the plugin).
pub async fn configure(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let body: PluginBody = parse_body(&body)?;
    let lines = webhook_urls(body.urls.map(Value::String).as_ref());
    if lines.len() > MAX_URLS {
        return Err(ApiError::bad_request(format!(
            "urls: at most {MAX_URLS} URLs"
        )));
    }
    let urls = lines
        .iter()
        .map(|u| check_url("urls", u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::BadRequest)?;
    state
        .store
        .set_project_option(project.id, WEBHOOK_URLS, Some(&json!(urls)))
        .await?;
    Ok(Json(plugin_json(&urls, true)))
}

/// `POST`: enables the plugin, keeping its URLs.
pub async fn enable(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let project = path_project(&state, &p).await?;
    if state
        .store
        .project_option(project.id, WEBHOOK_URLS)
        .await?
        .is_none()
    {
        state
            .store
            .set_project_option(project.id, WEBHOOK_URLS, Some(&json!([])))
            .await?;
    }
    Ok(StatusCode::CREATED)
}

/// `DELETE`: disables the plugin and forgets its URLs.
pub async fn disable(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let project = path_project(&state, &p).await?;
    state
        .store
        .set_project_option(project.id, WEBHOOK_URLS, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
