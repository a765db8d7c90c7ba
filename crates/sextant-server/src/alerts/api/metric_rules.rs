//! `/api/0/organizations/{org}/alert-rules/`: Sentry's metric alert rules, with its
//! bodies, defaults and validation, so scripts and Terraform's `sentry_metric_alert` work
//! unchanged. PUT replaces the whole rule, as Sentry's does; a refused body answers
//! Sentry's `{"<field>": ["<message>"]}`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_storage::{MetricRule, NewMetricRule, Organization, StoreError};

use super::super::metric::serialize::rule_json;
use super::super::metric::spec::{self, MetricSpec};
use super::super::metric::triggers::{Action, ActionKind};
use super::super::rules::RuleError;
use super::metric_query::event_query;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::support::{PathParams, param};
use crate::state::AppState;

fn refused(field: &str, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (StatusCode::BAD_REQUEST, Json(json!({ field: [message] }))).into_response()
}

/// Under the top-level field, as Sentry reports; the message names the exact item and
/// parameter (`triggers[0].actions[1].targetType: …`).
fn refused_by(err: &RuleError) -> Response {
    let key = &err.field[..err.field.find(['[', '.']).unwrap_or(err.field.len())];
    if key == err.field {
        refused(key, err.message.clone())
    } else {
        refused(key, err.to_string())
    }
}

/// The organization's project slugs by id.
pub(super) async fn project_slugs(
    state: &AppState,
    org: &Organization,
) -> ApiResult<HashMap<i64, String>> {
    Ok(state
        .store
        .list_projects(Some(org.id))
        .await?
        .into_iter()
        .map(|p| (p.id, p.slug))
        .collect())
}

/// A stored rule as the API shows it.
pub(super) fn render(rule: &MetricRule, slugs: &HashMap<i64, String>) -> ApiResult<Value> {
    let spec = MetricSpec::from_rule(rule)
        .map_err(|e| ApiError::Internal(format!("stored metric rule {}: {e}", rule.id)))?;
    let projects: Vec<String> = rule
        .project_ids
        .iter()
        .filter_map(|id| slugs.get(id).cloned())
        .collect();
    Ok(rule_json(rule, &spec, &projects))
}

/// The rule to store, or the 400 response naming what is wrong.
async fn validated(
    state: &AppState,
    org: &Organization,
    auth: &Auth,
    body: &[u8],
) -> ApiResult<Result<NewMetricRule, Response>> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Ok(Err(refused("detail", format!("invalid JSON: {e}")))),
    };
    let created_by = auth.1.user().map(|u| u.email.clone());
    Ok(new_metric_rule(state, org, created_by, value)
        .await?
        .map_err(|err| refused_by(&err)))
}

/// A metric rule body checked as the API checks it (also for the console's templates),
/// or what is wrong with it, naming the field.
pub(crate) async fn new_metric_rule(
    state: &AppState,
    org: &Organization,
    created_by: Option<String>,
    mut value: Value,
) -> ApiResult<Result<NewMetricRule, RuleError>> {
    // Worked out here from the query, never taken from the client.
    if let Some(obj) = value.as_object_mut() {
        obj.remove("eventQuery");
    }
    let mut spec = match spec::parse(&value) {
        Ok(spec) => spec,
        Err(err) => return Ok(Err(err)),
    };
    if spec.projects.is_empty() {
        return Ok(Err(RuleError::new("projects", "This field is required.")));
    }
    let mut project_ids = Vec::new();
    for slug in &spec.projects {
        match state.store.get_project_by_slug(&org.slug, slug).await {
            Ok(p) => project_ids.push(p.id),
            Err(StoreError::NotFound) => {
                return Ok(Err(RuleError::new(
                    "projects",
                    format!("Invalid project: {slug:?}"),
                )));
            }
            Err(err) => return Err(err.into()),
        }
    }
    if !spec.aggregate.is_crash_rate() {
        match event_query(&spec.query, &spec.event_types) {
            Ok(q) => spec.event_query = q,
            Err(why) => {
                return Ok(Err(RuleError::new(
                    "query",
                    format!("Unsupported query for a metric alert: {why}"),
                )));
            }
        }
    }
    for (t, trigger) in spec.triggers.iter_mut().enumerate() {
        for (a, action) in trigger.actions.iter_mut().enumerate() {
            let path = format!("triggers[{t}].actions[{a}]");
            if let Err(why) = resolve_action(state, org, action).await? {
                return Ok(Err(RuleError::new(path, why)));
            }
        }
    }
    Ok(Ok(NewMetricRule {
        org_id: org.id,
        name: spec.name.clone(),
        spec: spec.stored(),
        project_ids,
        triggers: spec.stored_triggers(),
        created_by,
    }))
}

/// Checks that what an action names exists in the organization, and pins an integration
/// named by its installation to its app id (its `targetIdentifier`, as in Sentry).
async fn resolve_action(
    state: &AppState,
    org: &Organization,
    action: &mut Action,
) -> ApiResult<Result<(), String>> {
    match &mut action.kind {
        ActionKind::SentryApp {
            app_id,
            installation_uuid,
        } => {
            let found = match (*app_id, installation_uuid.as_deref()) {
                (Some(id), _) => state.store.get_sentry_app_by_id(id).await,
                (None, Some(uuid)) => state.store.find_installation(uuid).await,
                (None, None) => Err(StoreError::NotFound),
            };
            match found {
                Ok(app) if app.org_id == org.id => {
                    *app_id = Some(app.id);
                    *installation_uuid = Some(app.installation_uuid);
                    action.target_identifier = app.id.to_string();
                    Ok(Ok(()))
                }
                Ok(_) | Err(StoreError::NotFound) => Ok(Err(
                    "sentryApp: no such integration is installed in this organization".into(),
                )),
                Err(err) => Err(err.into()),
            }
        }
        ActionKind::Channel { channel_id } => match state.store.get_channel(*channel_id).await {
            Ok(c) if c.org_id == org.id => Ok(Ok(())),
            Ok(_) | Err(StoreError::NotFound) => Ok(Err(format!(
                "targetIdentifier: no channel {channel_id} in this organization"
            ))),
            Err(err) => Err(err.into()),
        },
        ActionKind::Email => Ok(Ok(())),
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
    let org = state.store.get_org(param(&p, "org")?).await?;
    let slugs = project_slugs(&state, &org).await?;
    let rules = state.store.list_metric_rules(org.id).await?;
    let body = rules
        .iter()
        .map(|r| render(r, &slugs))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Value::Array(body)))
}

pub async fn create(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let new = match validated(&state, &org, &auth, &body).await? {
        Ok(new) => new,
        Err(response) => return Ok(response),
    };
    let rule = state.store.create_metric_rule(&new).await?;
    let slugs = project_slugs(&state, &org).await?;
    Ok((StatusCode::CREATED, Json(render(&rule, &slugs)?)).into_response())
}

pub async fn detail(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let rule = state.store.get_metric_rule(org.id, rule_id(&p)?).await?;
    Ok(Json(render(&rule, &project_slugs(&state, &org).await?)?))
}

pub async fn update(
    auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let id = rule_id(&p)?;
    state.store.get_metric_rule(org.id, id).await?;
    let new = match validated(&state, &org, &auth, &body).await? {
        Ok(new) => new,
        Err(response) => return Ok(response),
    };
    let rule = state.store.update_metric_rule(id, &new).await?;
    let slugs = project_slugs(&state, &org).await?;
    Ok(Json(render(&rule, &slugs)?).into_response())
}

pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    state.store.delete_metric_rule(org.id, rule_id(&p)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
