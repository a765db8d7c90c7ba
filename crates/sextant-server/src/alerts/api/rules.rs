//! `/api/0/projects/{org}/{project}/rules/`: Sentry's issue alert rules. PUT replaces
//! the whole rule, as Sentry's does; a refused body answers Sentry's
//! `{"<field>": ["<message>"]}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_storage::{AlertRule, NewRule, Project, StoreError, needs};

use super::super::rules::{self, ActionKind, ConditionKind, Match, RuleSpec};
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

/// What the batch writer must record for a rule (bits of `needs`).
fn needs_of(spec: &RuleSpec) -> i64 {
    let wanted = spec.needs();
    let mut bits = 0;
    if !wanted.event_windows.is_empty() {
        bits |= needs::EVENT_COUNTS;
    }
    if !wanted.user_windows.is_empty() {
        bits |= needs::USER_COUNTS;
    }
    // New issues and regressions are always signalled; any other condition (or none,
    // or "none of") can pass on an ordinary event.
    let only_transitions = !spec.conditions.is_empty()
        && spec.action_match != Match::None
        && spec
            .conditions
            .iter()
            .all(|c| matches!(c.kind, ConditionKind::FirstSeen | ConditionKind::Regression));
    if !only_transitions {
        bits |= needs::SIGNALS;
    }
    bits
}

fn refused(field: &str, message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ field: [message] }))).into_response()
}

/// The validated rule, or the 400 response naming what is wrong.
async fn validated(
    state: &AppState,
    project: &Project,
    body: &[u8],
) -> ApiResult<Result<RuleSpec, Response>> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Ok(Err(refused("detail", format!("invalid JSON: {e}")))),
    };
    let spec = match rules::parse(&value) {
        Ok(spec) => spec,
        Err(err) => {
            return Ok(Err(
                (StatusCode::BAD_REQUEST, Json(err.to_sentry_body())).into_response()
            ));
        }
    };
    for (index, action) in spec.actions.iter().enumerate() {
        match &action.kind {
            ActionKind::SentryApp {
                installation_uuid, ..
            } => match state.store.find_installation(installation_uuid).await {
                Ok(app) if app.org_id == project.org_id => {}
                Ok(_) | Err(StoreError::NotFound) => {
                    return Ok(Err(refused(
                        "actions",
                        format!(
                            "actions[{index}]: no installation {installation_uuid:?} in this organization"
                        ),
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            ActionKind::Channel { channel } => match state.store.get_channel(*channel).await {
                Ok(c) if c.org_id == project.org_id => {}
                Ok(_) | Err(StoreError::NotFound) => {
                    return Ok(Err(refused(
                        "actions",
                        format!("actions[{index}]: no channel {channel} in this organization"),
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            _ => {}
        }
    }
    Ok(Ok(spec))
}

fn new_rule(project: &Project, spec: &RuleSpec, auth: &Auth) -> NewRule {
    NewRule {
        project_id: project.id,
        name: spec.name.clone(),
        spec: spec.to_stored(),
        needs: needs_of(spec),
        created_by: auth.1.user().map(|u| u.email.clone()),
    }
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
    let spec = match validated(&state, &project, &body).await? {
        Ok(spec) => spec,
        Err(response) => return Ok(response),
    };
    let rule = state
        .store
        .create_rule(&new_rule(&project, &spec, &auth))
        .await?;
    Ok((StatusCode::CREATED, Json(rule_json(&rule, &project))).into_response())
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
    state.store.get_rule(project.id, id).await?;
    let spec = match validated(&state, &project, &body).await? {
        Ok(spec) => spec,
        Err(response) => return Ok(response),
    };
    let rule = state
        .store
        .update_rule(id, &new_rule(&project, &spec, &auth))
        .await?;
    Ok(Json(rule_json(&rule, &project)).into_response())
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
