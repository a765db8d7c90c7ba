//! DSN key endpoints of a project, addressed by public key as Sentry does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sextant_storage::ProjectKey;

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::support::{PathParams, created, param, parse_body, path_project};
use crate::serialize::key_json;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Deserialize)]
struct RateLimitBody {
    count: i64,
    window: i64,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`): for
/// `rateLimit`, absent leaves the limit alone and `null` removes it.
fn explicit_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyBody {
    name: Option<String>,
    is_active: Option<bool>,
    #[serde(default, deserialize_with = "explicit_null")]
    rate_limit: Option<Option<RateLimitBody>>,
}

fn check_rate_limit(rl: RateLimitBody) -> ApiResult<RateLimitBody> {
    if rl.count < 0 || rl.window < 1 {
        return Err(ApiError::bad_request(
            "rateLimit needs count >= 0 and window >= 1 (seconds)",
        ));
    }
    Ok(rl)
}

async fn apply_rate_limit(
    state: &AppState,
    key: &ProjectKey,
    rl: Option<RateLimitBody>,
) -> ApiResult<ProjectKey> {
    let (count, window) = match rl {
        Some(rl) => {
            let rl = check_rate_limit(rl)?;
            (Some(rl.count), Some(rl.window))
        }
        None => (None, None),
    };
    Ok(state
        .store
        .set_key_rate_limit(key.project_id, &key.public_key, count, window)
        .await?)
}

/// The key named in the path, which must belong to the project in the path.
async fn key_of(state: &AppState, p: &PathParams) -> ApiResult<ProjectKey> {
    let project = path_project(state, p).await?;
    let key = state.store.find_key(param(p, "key_id")?).await?;
    key.filter(|k| k.project_id == project.id)
        .ok_or(ApiError::NotFound)
}

pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let base = state.base_url();
    let keys = state.store.list_keys(project.id).await?;
    Ok(Json(keys.iter().map(|k| key_json(k, &base)).collect()))
}

pub async fn create(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: KeyBody = parse_body(&body)?;
    let rate_limit = body
        .rate_limit
        .flatten()
        .map(check_rate_limit)
        .transpose()?;
    let project = path_project(&state, &p).await?;
    let label = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Default");
    let mut key = state.store.create_key(project.id, label).await?;
    if body.is_active == Some(false) {
        key = state
            .store
            .set_key_active(project.id, &key.public_key, false)
            .await?;
    }
    if rate_limit.is_some() {
        key = apply_rate_limit(&state, &key, rate_limit).await?;
    }
    Ok(created(key_json(&key, &state.base_url())))
}

pub async fn get(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let key = key_of(&state, &p).await?;
    Ok(Json(key_json(&key, &state.base_url())))
}

/// `isActive` and `rateLimit` can change. The store cannot rename keys, so a new name is
/// refused instead of silently dropped.
pub async fn update(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: KeyBody = parse_body(&body)?;
    let mut key = key_of(&state, &p).await?;
    if body.name.as_ref().is_some_and(|n| *n != key.label) {
        return Err(ApiError::bad_request("renaming a key is not supported"));
    }
    if let Some(active) = body.is_active {
        key = state
            .store
            .set_key_active(key.project_id, &key.public_key, active)
            .await?;
    }
    if let Some(rl) = body.rate_limit {
        key = apply_rate_limit(&state, &key, rl).await?;
    }
    Ok(Json(key_json(&key, &state.base_url())))
}

pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let key = key_of(&state, &p).await?;
    state
        .store
        .delete_key(key.project_id, &key.public_key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_absent_null_and_set() {
        let absent: KeyBody = parse_body(br#"{"isActive": false}"#).unwrap();
        assert!(absent.rate_limit.is_none());
        assert_eq!(absent.is_active, Some(false));
        let null: KeyBody = parse_body(br#"{"rateLimit": null}"#).unwrap();
        assert!(matches!(null.rate_limit, Some(None)));
        let set: KeyBody = parse_body(br#"{"rateLimit": {"count": 10, "window": 60}}"#).unwrap();
        assert!(matches!(
            set.rate_limit,
            Some(Some(RateLimitBody {
                count: 10,
                window: 60
            }))
        ));
        assert!(parse_body::<KeyBody>(br#"{"rateLimit": {"count": 10}}"#).is_err());
        assert!(
            check_rate_limit(RateLimitBody {
                count: 1,
                window: 0
            })
            .is_err()
        );
    }
}
