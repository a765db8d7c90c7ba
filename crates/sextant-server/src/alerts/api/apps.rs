//! Internal integrations, as Sentry's `/api/0/sentry-apps/`: an app with a webhook URL,
//! subscribed resources and a client secret that signs every delivery. Each is
//! installed in its organization at creation, as Sentry's internal integrations are.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_storage::{NewSentryApp, Organization, Role, SentryApp};

use super::check_url;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::support::{PathParams, param, parse_body};
use crate::clock::format_ms;
use crate::state::AppState;

/// The resources an integration can subscribe to.
const RESOURCES: [&str; 3] = ["issue", "error", "comment"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppBody {
    name: Option<String>,
    organization: Option<String>,
    is_internal: Option<bool>,
    webhook_url: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    is_alertable: bool,
    overview: Option<String>,
}

fn app_json(app: &SentryApp, org: &Organization, with_secret: bool) -> Value {
    json!({
        "uuid": app.uuid,
        "slug": app.slug,
        "name": app.name,
        "author": org.name,
        "status": "internal",
        "isInternal": true,
        "events": app.events,
        "scopes": app.scopes,
        "webhookUrl": app.webhook_url,
        "redirectUrl": null,
        "isAlertable": app.is_alertable,
        "verifyInstall": false,
        "overview": app.overview,
        "allowedOrigins": [],
        "schema": {},
        "owner": {"id": org.id, "slug": org.slug},
        "clientId": app.client_id,
        // Shown once, when the app is created; Sentry masks it the same way afterwards.
        "clientSecret": if with_secret { json!(app.client_secret) } else { json!("*************") },
        "dateCreated": format_ms(app.created_at),
    })
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').chars().take(64).collect()
}

/// Mutations need the admin or owner role in the app's organization (the route names
/// no organization, so the token check cannot tell).
fn require_admin(auth: &Auth, org_id: i64) -> ApiResult<()> {
    match auth.1.role_in(org_id) {
        Some(role) if role >= Role::Admin => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "You do not have permission to perform this action (needs the admin or owner role)."
                .into(),
        )),
        None => Err(ApiError::NotFound),
    }
}

fn validate(body: &AppBody, org_id: i64, slug: String) -> Result<NewSentryApp, ApiError> {
    let name = body.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() || name.len() > 57 {
        return Err(ApiError::bad_request(
            "name: 1 to 57 characters are required",
        ));
    }
    if body.is_internal == Some(false) {
        return Err(ApiError::bad_request(
            "isInternal: only internal integrations can be created on this server",
        ));
    }
    let webhook_url = match body.webhook_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => Some(check_url("webhookUrl", url).map_err(ApiError::BadRequest)?),
        None => None,
    };
    if let Some(bad) = body
        .events
        .iter()
        .find(|e| !RESOURCES.contains(&e.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "events: {bad:?} is not one of issue, error, comment"
        )));
    }
    if (!body.events.is_empty() || body.is_alertable) && webhook_url.is_none() {
        return Err(ApiError::bad_request(
            "webhookUrl: required when subscribing to events or alert rule actions",
        ));
    }
    Ok(NewSentryApp {
        org_id,
        slug,
        name: name.to_string(),
        webhook_url,
        events: body.events.clone(),
        scopes: body.scopes.clone(),
        is_alertable: body.is_alertable,
        overview: body.overview.clone(),
    })
}

/// `POST /api/0/sentry-apps/` with `isInternal: true`; returns the client secret.
pub async fn create(auth: Auth, State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let body: AppBody = parse_body(&body)?;
    let org_slug = body.organization.as_deref().ok_or_else(|| {
        ApiError::bad_request("organization: the organization's slug is required")
    })?;
    let org = state.store.get_org(org_slug).await?;
    require_admin(&auth, org.id)?;
    let slug = slugify(body.name.as_deref().unwrap_or_default());
    let new = validate(&body, org.id, slug)?;
    let app = state.store.create_sentry_app(&new).await?;
    Ok((StatusCode::CREATED, Json(app_json(&app, &org, true))).into_response())
}

async fn app_of(
    state: &AppState,
    auth: &Auth,
    p: &PathParams,
) -> ApiResult<(SentryApp, Organization)> {
    let app = state.store.get_sentry_app(param(p, "slug")?).await?;
    if !auth.1.sees_org(app.org_id) {
        return Err(ApiError::NotFound);
    }
    let org = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .find(|o| o.id == app.org_id)
        .ok_or(ApiError::NotFound)?;
    Ok((app, org))
}

pub async fn detail(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let (app, org) = app_of(&state, &auth, &p).await?;
    Ok(Json(app_json(&app, &org, false)))
}

pub async fn update(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let (app, org) = app_of(&state, &auth, &p).await?;
    require_admin(&auth, org.id)?;
    let body: AppBody = parse_body(&body)?;
    let body = AppBody {
        name: body.name.or(Some(app.name.clone())),
        webhook_url: body.webhook_url.or(app.webhook_url.clone()),
        ..body
    };
    let new = validate(&body, org.id, app.slug.clone())?;
    let updated = state.store.update_sentry_app(app.id, &new).await?;
    Ok(Json(app_json(&updated, &org, false)))
}

pub async fn delete(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let (app, org) = app_of(&state, &auth, &p).await?;
    require_admin(&auth, org.id)?;
    state.store.delete_sentry_app(app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/0/organizations/{org}/sentry-apps/`.
pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let apps = state.store.list_sentry_apps(org.id).await?;
    Ok(Json(
        apps.iter().map(|a| app_json(a, &org, false)).collect(),
    ))
}

/// `GET /api/0/organizations/{org}/sentry-app-installations/`: where rule actions find
/// `sentryAppInstallationUuid`.
pub async fn installations(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let apps = state.store.list_sentry_apps(org.id).await?;
    Ok(Json(
        apps.iter()
            .map(|a| {
                json!({
                    "uuid": a.installation_uuid,
                    "status": "installed",
                    "app": {"uuid": a.uuid, "slug": a.slug},
                    "organization": {"slug": org.slug},
                })
            })
            .collect(),
    ))
}
