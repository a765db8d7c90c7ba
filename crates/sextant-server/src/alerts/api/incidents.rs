//! `/api/0/organizations/{org}/incidents/`: the incidents metric rules open, in Sentry's
//! shape, each with its rule; `?status=open|closed`, `?alertRule=<id>` and
//! `?expand=activities` (the history of status changes) as in Sentry.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::Value;
use sextant_storage::{Incident, IncidentFilter, Organization};

use super::super::metric::serialize::{activity_json, incident_json};
use super::metric_rules::{project_slugs, render};
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::pagination::Params;
use crate::api::support::{PathParams, param};
use crate::state::AppState;

async fn with_activities(
    state: &AppState,
    incident: &Incident,
    expand: bool,
) -> ApiResult<Option<Vec<Value>>> {
    if !expand {
        return Ok(None);
    }
    let activity = state.store.incident_activity(incident.id).await?;
    Ok(Some(
        activity
            .iter()
            .map(|a| activity_json(incident, a))
            .collect(),
    ))
}

/// The organization's rules as the API shows them, by id.
async fn rules_of(state: &AppState, org: &Organization) -> ApiResult<HashMap<i64, Value>> {
    let slugs = project_slugs(state, org).await?;
    let mut out = HashMap::new();
    for rule in state.store.list_metric_rules(org.id).await? {
        out.insert(rule.id, render(&rule, &slugs)?);
    }
    Ok(out)
}

pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let params = Params::parse(q.as_deref());
    // Sentry filters on these two words and ignores any other.
    let open = match params.get("status") {
        Some("open") => Some(true),
        Some("closed") => Some(false),
        _ => None,
    };
    let rule_id = match params.get("alertRule") {
        Some(raw) => Some(
            raw.parse()
                .map_err(|_| ApiError::bad_request(format!("alertRule: invalid id {raw:?}")))?,
        ),
        None => None,
    };
    let expand = params.all("expand").any(|e| e == "activities");
    let incidents = state
        .store
        .list_incidents(&IncidentFilter {
            org_id: org.id,
            open,
            rule_id,
            limit: params.limit(100, 1000)?,
        })
        .await?;
    let rules = rules_of(&state, &org).await?;
    let mut body = Vec::with_capacity(incidents.len());
    for incident in &incidents {
        let rule = rules.get(&incident.rule_id).cloned().unwrap_or(Value::Null);
        let activities = with_activities(&state, incident, expand).await?;
        body.push(incident_json(incident, rule, activities));
    }
    Ok(Json(Value::Array(body)))
}

/// One incident by its identifier in the organization, with Sentry's `discoverQuery`.
pub async fn detail(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let identifier: i64 = param(&p, "identifier")?
        .parse()
        .map_err(|_| ApiError::NotFound)?;
    let incident = state.store.get_incident(org.id, identifier).await?;
    let rule = state
        .store
        .get_metric_rule(org.id, incident.rule_id)
        .await?;
    let rule_value = render(&rule, &project_slugs(&state, &org).await?)?;
    let query = rule_value["query"].clone();
    let expand = Params::parse(q.as_deref())
        .all("expand")
        .any(|e| e == "activities");
    let activities = with_activities(&state, &incident, expand).await?;
    let mut body = incident_json(&incident, rule_value, activities);
    body["discoverQuery"] = query;
    Ok(Json(body))
}
