//! Tag endpoints of an issue: keys with their top values, one key, and a key's values.

use axum::Json;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::Response;
use serde_json::Value;
use sextant_storage::{Cursor, TagKeySummary};

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::pagination::{Params, link_header};
use super::support::{PathParams, json_with_link, param, resolve_issue};
use crate::serialize::{tag_key_json, tag_value_json};
use crate::state::AppState;

/// Sentry shows this many top values per key.
const TOP_VALUES: u32 = 9;

async fn issue_id(state: &AppState, p: &PathParams) -> ApiResult<i64> {
    Ok(
        resolve_issue(state, p.get("org").map(String::as_str), param(p, "id")?)
            .await?
            .0
            .id,
    )
}

async fn summary(state: &AppState, issue: i64, key: &str) -> ApiResult<TagKeySummary> {
    let keys = state.store.issue_tag_keys(issue).await?;
    keys.into_iter()
        .find(|k| k.key == key)
        .ok_or(ApiError::NotFound)
}

/// All tag keys, or only those named by `key` parameters (as Sentry allows).
pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(raw.as_deref());
    let wanted: Vec<&str> = params.all("key").collect();
    let issue = issue_id(&state, &p).await?;
    let mut out = Vec::new();
    for key in state.store.issue_tag_keys(issue).await? {
        if !wanted.is_empty() && !wanted.contains(&key.key.as_str()) {
            continue;
        }
        let top = state
            .store
            .issue_tag_values(issue, &key.key, TOP_VALUES)
            .await?;
        out.push(tag_key_json(&key, &top));
    }
    Ok(Json(Value::Array(out)))
}

pub async fn get(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let issue = issue_id(&state, &p).await?;
    let key = summary(&state, issue, param(&p, "key")?).await?;
    let top = state
        .store
        .issue_tag_values(issue, &key.key, TOP_VALUES)
        .await?;
    Ok(Json(tag_key_json(&key, &top)))
}

/// A key's values, most frequent first. One page only: the store has no cursor here,
/// so the `Link` header always reports no further results.
pub async fn values(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let params = Params::parse(raw.as_deref());
    let limit = params.limit(100, 1000)?;
    let issue = issue_id(&state, &p).await?;
    let key = summary(&state, issue, param(&p, "key")?).await?;
    let values = state.store.issue_tag_values(issue, &key.key, limit).await?;
    let body: Vec<Value> = values.iter().map(|v| tag_value_json(&key.key, v)).collect();
    let link = link_header(
        &format!("{}{}", state.base_url(), uri.path()),
        raw.as_deref(),
        None,
        Cursor {
            sort_value: 0,
            id: 0,
        },
    );
    Ok(json_with_link(Value::Array(body), &link))
}
