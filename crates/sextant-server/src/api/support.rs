//! Helpers shared by the handlers: resolving path parameters to records, reading JSON
//! bodies and building JSON responses with a `Link` header.

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sextant_storage::{Issue, Project};

use super::error::{ApiError, ApiResult};
use crate::serialize::{parse_short_id, short_id_slug};
use crate::state::AppState;

/// Path parameters by name; one handler can then serve routes that differ only in
/// whether `{org}` is present (`/organizations/{org}/issues/{id}/` vs `/issues/{id}/`).
pub type PathParams = HashMap<String, String>;

/// A path parameter the route is known to have.
pub fn param<'a>(p: &'a PathParams, name: &str) -> ApiResult<&'a str> {
    p.get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiError::Internal(format!("route has no {{{name}}} parameter")))
}

/// Parses a JSON request body; an empty body counts as `{}` so that bodies made only of
/// optional fields may be left out.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// `200` with a JSON body and a `Link` header.
pub fn json_with_link(body: Value, link: &str) -> Response {
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(link) {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

pub fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// Event ids are stored as 32 lowercase hex characters; clients also send UUIDs with
/// dashes or in upper case.
pub fn normalize_event_id(raw: &str) -> Option<String> {
    let id: String = raw
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

pub async fn resolve_project(state: &AppState, org: &str, project: &str) -> ApiResult<Project> {
    Ok(state.store.get_project_by_slug(org, project).await?)
}

/// The project named by the `{org}` and `{project}` path segments.
pub async fn path_project(state: &AppState, p: &PathParams) -> ApiResult<Project> {
    resolve_project(state, param(p, "org")?, param(p, "project")?).await
}

/// The issue named by `raw_id` (numeric id or short id like `WEB-1F`) and its project.
/// With `org`, the issue must belong to one of that organization's projects.
pub async fn resolve_issue(
    state: &AppState,
    org: Option<&str>,
    raw_id: &str,
) -> ApiResult<(Issue, Project)> {
    let issue = match raw_id.parse::<i64>() {
        Ok(id) => state.store.get_issue(id).await?,
        Err(_) => {
            let slug = short_id_slug(raw_id).ok_or(ApiError::NotFound)?;
            let id = parse_short_id(raw_id, &slug).ok_or(ApiError::NotFound)?;
            let issue = state.store.get_issue(id).await?;
            let owner = state.store.get_project(issue.project_id).await?;
            if owner.slug != slug {
                return Err(ApiError::NotFound);
            }
            issue
        }
    };
    let project = state.store.get_project(issue.project_id).await?;
    if let Some(org) = org
        && project.org_slug != org
    {
        return Err(ApiError::NotFound);
    }
    Ok((issue, project))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids() {
        let plain = "9ec79c33ec9942ab8353589fcb2e04dc";
        assert_eq!(normalize_event_id(plain).as_deref(), Some(plain));
        assert_eq!(
            normalize_event_id("9EC79C33-EC99-42AB-8353-589FCB2E04DC").as_deref(),
            Some(plain)
        );
        assert_eq!(normalize_event_id("9ec79c33"), None);
        assert_eq!(normalize_event_id("zec79c33ec9942ab8353589fcb2e04dc"), None);
    }

    #[test]
    fn bodies() {
        let v: Value = parse_body(b"").unwrap();
        assert_eq!(v, serde_json::json!({}));
        let err = parse_body::<Value>(b"{nope").unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(m) if m.starts_with("invalid JSON body")));
    }
}
