//! `/api/0/projects/{org}/{project}/rules/`: Sentry's issue alert rules. PUT replaces
//! the whole rule, as Sentry's does; a refused body answers Sentry's
//! `{"<field>": ["<message>"]}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_storage::{AlertRule, Project};

use super::super::rule_store::{self, RuleSaveError};
use super::super::rules::{self, RuleSpec};
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::support::{PathParams, param, path_project};
use crate::clock::format_ms;
use crate::state::AppState;

fn rule_json(rule: &AlertRule, project: &Project) -> Value {
    let spec = rules::parse(&rule.spec).ok();
    let field = |f: fn(&RuleSpec) -> Value| spec.as_ref().map(f).unwrap_or_else(|| json!([]));
    json!({
        "id": rule.id.to_string(),
        "name": rule.name,
        "conditions": field(RuleSpec::conditions_json),
        "filters": field(RuleSpec::filters_json),
        "actions": field(RuleSpec::actions_json),
        "actionMatch": spec.as_ref().map(|s| s.action_match.as_str()).unwrap_or("all"),
        "filterMatch": spec.as_ref().map(|s| s.filter_match.as_str()).unwrap_or("all"),
        "frequency": spec.as_ref().map(|s| s.frequency_minutes).unwrap_or(30),
        "environment": spec.as_ref().and_then(|s| s.environment.clone()),
        "owner": spec.as_ref().and_then(|s| s.owner.clone()),
        "projects": [project.slug],
        "status": rule.status,
        "snooze": false,
        "dateCreated": format_ms(rule.created_at),
        "createdBy": rule.created_by.as_ref().map(|email| json!({"email": email, "name": email})),
    })
}

fn refused(field: &str, message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ field: [message] }))).into_response()
}

fn invalid_json(e: &serde_json::Error) -> Response {
    refused("detail", format!("invalid JSON: {e}"))
}

/// The saved rule as Sentry answers it, or the 400 naming what is wrong.
fn saved(
    saved: Result<AlertRule, RuleSaveError>,
    project: &Project,
    status: StatusCode,
) -> ApiResult<Response> {
    match saved {
        Ok(rule) => Ok((status, Json(rule_json(&rule, project))).into_response()),
        Err(RuleSaveError::Invalid(err)) => {
            Ok((StatusCode::BAD_REQUEST, Json(err.to_sentry_body())).into_response())
        }
        Err(RuleSaveError::Store(err)) => Err(err.into()),
    }
}

fn created_by(auth: &Auth) -> Option<String> {
    auth.1.user().map(|u| u.email.clone())
}

fn rule_id(p: &PathParams) -> ApiResult<i64> {
    param(p, "rule_id")?.parse().map_err(|_| ApiError::NotFound)
}

pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let rules = state.store.list_rules(project.id).await?;
    Ok(Json(rules.iter().map(|r| rule_json(r, &project)).collect()))
}

pub async fn create(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let project = path_project(&state, &p).await?;
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return Ok(invalid_json(&e)),
    };
    let rule = rule_store::create(state.store.as_ref(), &project, &body, created_by(&auth)).await;
    saved(rule, &project, StatusCode::CREATED)
}

pub async fn detail(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let rule = state.store.get_rule(project.id, rule_id(&p)?).await?;
    Ok(Json(rule_json(&rule, &project)))
}

pub async fn update(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let project = path_project(&state, &p).await?;
    let id = rule_id(&p)?;
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return Ok(invalid_json(&e)),
    };
    let by = created_by(&auth);
    let rule = rule_store::replace(state.store.as_ref(), &project, id, &body, by).await;
    saved(rule, &project, StatusCode::OK)
}

pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let project = path_project(&state, &p).await?;
    state.store.delete_rule(project.id, rule_id(&p)?).await?;
    Ok(StatusCode::ACCEPTED)
}
