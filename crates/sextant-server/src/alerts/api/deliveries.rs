//! The delivery log (`/api/0/organizations/{org}/alert-deliveries/`): every message of the
//! outbox with each attempt's time, status, response excerpt and error, and redelivery.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_storage::{Delivery, DeliveryAttempt, DeliveryFilter, DeliveryState, DeliveryTarget};

use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::pagination::Params;
use crate::api::support::{PathParams, param, resolve_project};
use crate::clock::format_ms;
use crate::state::AppState;

const PAGE: u32 = 100;

fn target_json(target: &DeliveryTarget) -> Value {
    match target {
        DeliveryTarget::SentryApp { app_id } => json!({"type": "sentry_app", "id": app_id}),
        DeliveryTarget::Channel { channel_id } => json!({"type": "channel", "id": channel_id}),
        // The plugin's URL may carry a secret in its path or query.
        DeliveryTarget::Webhook { url } => {
            json!({"type": "webhook", "url": sextant_storage::redact_url(url)})
        }
        DeliveryTarget::Email { address } => json!({"type": "email", "address": address}),
        DeliveryTarget::Digest { user_id, .. } => json!({"type": "digest", "userId": user_id}),
    }
}

fn attempt_json(a: &DeliveryAttempt) -> Value {
    json!({
        "date": format_ms(a.at),
        "statusCode": a.status,
        "durationMs": a.duration_ms,
        "response": a.response,
        "error": a.error,
    })
}

pub(super) fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id.to_string(),
        "requestId": d.request_id,
        "resource": d.resource,
        "action": d.action,
        "target": target_json(&d.target),
        "projectId": d.project_id.map(|p| p.to_string()),
        "issueId": d.issue_id.map(|i| i.to_string()),
        "ruleId": d.rule_id.map(|r| r.to_string()),
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "nextAttempt": (d.state == DeliveryState::Pending).then(|| format_ms(d.next_at)),
        "dateCreated": format_ms(d.created_at),
        "dateFinished": d.finished_at.map(format_ms),
    })
}

fn delivery_id(p: &PathParams) -> ApiResult<i64> {
    param(p, "id")?.parse().map_err(|_| ApiError::NotFound)
}

/// `?project=<slug>&state=pending|delivered|failed&cursor=<id>`, newest first.
pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let org_slug = param(&p, "org")?;
    let org = state.store.get_org(org_slug).await?;
    let params = Params::parse(q.as_deref());
    let project_id = match params.get("project") {
        Some(slug) => Some(resolve_project(&state, org_slug, slug).await?.id),
        None => None,
    };
    let wanted_state = match params.get("state") {
        Some(s) => Some(
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::bad_request("state: one of pending, delivered, failed"))?,
        ),
        None => None,
    };
    let before_id = match params.get("cursor") {
        Some(c) => Some(
            c.parse()
                .map_err(|_| ApiError::bad_request("cursor: invalid"))?,
        ),
        None => None,
    };
    let page = state
        .store
        .list_deliveries(&DeliveryFilter {
            org_id: org.id,
            project_id,
            state: wanted_state,
            before_id,
            limit: PAGE,
        })
        .await?;
    let body: Vec<Value> = page.iter().map(delivery_json).collect();
    let mut response = Json(Value::Array(body)).into_response();
    if let Some(last) = page.last().filter(|_| page.len() == PAGE as usize)
        && let Ok(link) = next_link(params.get("project"), params.get("state"), last.id).parse()
    {
        response.headers_mut().insert("Link", link);
    }
    Ok(response)
}

/// The next page's link keeps the page's filters.
fn next_link(project: Option<&str>, state: Option<&str>, last_id: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(project) = project {
        query.append_pair("project", project);
    }
    if let Some(state) = state {
        query.append_pair("state", state);
    }
    query.append_pair("cursor", &last_id.to_string());
    format!("<?{}>; rel=\"next\"; results=\"true\"", query.finish())
}

/// One delivery with its attempts and the body it sends.
pub async fn detail(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let delivery = state.store.get_delivery(org.id, delivery_id(&p)?).await?;
    let attempts = state.store.delivery_attempts(delivery.id).await?;
    let mut body = delivery_json(&delivery);
    body["attemptLog"] = attempts.iter().map(attempt_json).collect();
    body["payload"] = serde_json::from_str(&delivery.payload).unwrap_or(Value::Null);
    Ok(Json(body))
}

/// Sends the delivery again now, with its `Request-ID`, whatever its state.
pub async fn redeliver(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Response> {
    let org = state.store.get_org(param(&p, "org")?).await?;
    let delivery = state.store.redeliver(org.id, delivery_id(&p)?).await?;
    state.alert_deliveries.notify_one();
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&delivery))).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_page_keeps_the_filters() {
        assert_eq!(
            super::next_link(Some("web app"), Some("failed"), 41),
            "<?project=web+app&state=failed&cursor=41>; rel=\"next\"; results=\"true\""
        );
        assert_eq!(
            super::next_link(None, None, 7),
            "<?cursor=7>; rel=\"next\"; results=\"true\""
        );
    }
}
