//! Organization and project endpoints: listing, creation (also through Sentry's team
//! route), rename, alert digest delays and deletion.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use sextant_storage::Organization;

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::support::{PathParams, created, param, parse_body, resolve_project};
use crate::alerts::email::options::DigestDelays;
use crate::serialize::{org_json, project_json};
use crate::state::AppState;

use crate::projects::{MAX_SLUG_LEN, slugify};

/// A slug from a display name: lower case, runs of anything but ASCII letters and
/// digits become one `-`, no leading or trailing `-`.
/// Slugs appear in URLs and short ids; an all-digit slug would read as a project id.
fn validate_slug(slug: &str) -> ApiResult<()> {
    let ok_chars = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if slug.is_empty()
        || slug.len() > MAX_SLUG_LEN
        || !ok_chars
        || slug.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::bad_request(format!(
            "invalid slug \"{slug}\": use 1-{MAX_SLUG_LEN} lowercase letters, digits, '-' or '_', not only digits"
        )));
    }
    Ok(())
}

pub async fn list_orgs(auth: Auth, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let orgs = state.store.list_orgs().await?;
    Ok(Json(
        orgs.iter()
            .filter(|o| auth.1.sees_org(o.id))
            .map(org_json)
            .collect(),
    ))
}

pub async fn get_org(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    Ok(Json(org_json(&org)))
}

pub async fn list_all(auth: Auth, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let orgs: HashMap<i64, Organization> = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let projects = state.store.list_projects(None).await?;
    Ok(Json(
        projects
            .iter()
            .filter(|p| auth.1.sees_project(p))
            .map(|p| project_json(p, orgs.get(&p.org_id)))
            .collect(),
    ))
}

pub async fn list_for_org(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let projects = state.store.list_projects(Some(org.id)).await?;
    Ok(Json(
        projects
            .iter()
            .map(|p| project_json(p, Some(&org)))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: Option<String>,
    slug: Option<String>,
    platform: Option<String>,
}

/// `POST /organizations/{org}/projects/` and `/teams/{org}/{team}/projects/`: we have
/// no teams, so the team segment is accepted and ignored.
pub async fn create(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: CreateBody = parse_body(&body)?;
    let name = body.name.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::bad_request("name is required"));
    }
    let slug = match body.slug.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => slugify(name),
    };
    validate_slug(&slug)?;
    let platform = body
        .platform
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let org = state.store.get_org(param(&p, "org")?).await?;
    let (project, _) =
        crate::projects::create_with_key(state.store.as_ref(), org.id, &slug, name, platform)
            .await?;
    Ok(created(project_json(&project, Some(&org))))
}

pub async fn get(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = resolve_project(&state, param(&p, "org")?, param(&p, "project")?).await?;
    let org = state.store.get_org(&project.org_slug).await?;
    let mut body = project_json(&project, Some(&org));
    DigestDelays::of_project(state.store.as_ref(), project.id)
        .await?
        .write_json(&mut body);
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
struct UpdateBody {
    name: Option<String>,
    slug: Option<String>,
    platform: Option<String>,
    #[serde(rename = "digestsMinDelay")]
    digests_min_delay: Option<Value>,
    #[serde(rename = "digestsMaxDelay")]
    digests_max_delay: Option<Value>,
}

/// The name and the alert digest delays can change. A slug or platform change is
/// refused rather than dropped, so a client does not believe it happened; a bad delay is
/// refused naming its field, as Sentry does, before anything changes.
pub async fn update(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: UpdateBody = parse_body(&body)?;
    let mut project = resolve_project(&state, param(&p, "org")?, param(&p, "project")?).await?;
    if body.slug.as_ref().is_some_and(|s| *s != project.slug) {
        return Err(ApiError::bad_request(
            "changing a project's slug is not supported",
        ));
    }
    if body.platform.is_some() && body.platform != project.platform {
        return Err(ApiError::bad_request(
            "changing a project's platform is not supported",
        ));
    }
    let current = DigestDelays::of_project(state.store.as_ref(), project.id).await?;
    let (min, max) = (
        body.digests_min_delay.as_ref(),
        body.digests_max_delay.as_ref(),
    );
    let delays = match current.updated(min, max) {
        Ok(delays) => delays,
        Err((field, message)) => {
            let refusal = serde_json::json!({ field: [message] });
            return Ok((StatusCode::BAD_REQUEST, Json(refusal)).into_response());
        }
    };
    if let Some(name) = body.name.as_deref().map(str::trim) {
        if name.is_empty() {
            return Err(ApiError::bad_request("name must not be empty"));
        }
        project = state.store.rename_project(project.id, name).await?;
    }
    if delays != current {
        delays.save(state.store.as_ref(), project.id).await?;
    }
    let org = state.store.get_org(&project.org_slug).await?;
    let mut json = project_json(&project, Some(&org));
    delays.write_json(&mut json);
    Ok(Json(json).into_response())
}

pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let project = resolve_project(&state, param(&p, "org")?, param(&p, "project")?).await?;
    state.store.delete_project(project.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_names() {
        assert_eq!(slugify("My Web App"), "my-web-app");
        assert_eq!(slugify("  --Hello,   World!! "), "hello-world");
        assert_eq!(slugify("Café Backend"), "caf-backend");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(slugify(&"a ".repeat(40)).len(), 49);
    }

    #[test]
    fn slug_validation() {
        assert!(validate_slug("web-app_2").is_ok());
        for bad in ["", "Web", "a b", "123", &"a".repeat(51)] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}
