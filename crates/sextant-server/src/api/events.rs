//! Event endpoints: an issue's events (list, latest, oldest, by id) and a project's
//! event by id, in Sentry's JSON or as the normalized event JSON.

use axum::Json;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sextant_storage::{Cursor, EventRecord, Issue, StoreError};

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::pagination::{Params, link_header};
use super::support::{
    PathParams, json_with_link, normalize_event_id, param, resolve_issue, resolve_project,
};
use crate::serialize::{event_json, event_list_item};
use crate::state::AppState;
use crate::stored_event;

fn full(rec: &EventRecord, issue: Option<&Issue>) -> Value {
    let fingerprints: Vec<String> = issue
        .map(|i| vec![i.primary_hash.clone()])
        .unwrap_or_default();
    event_json(rec, &stored_event::read(rec), &fingerprints)
}

async fn issue_of(state: &AppState, p: &PathParams) -> ApiResult<Issue> {
    Ok(
        resolve_issue(state, p.get("org").map(String::as_str), param(p, "id")?)
            .await?
            .0,
    )
}

pub async fn list_for_issue(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let params = Params::parse(raw.as_deref());
    let limit = params.limit(50, 100)?;
    let cursor = params.cursor()?;
    let with_body = params.flag("full");
    let issue = issue_of(&state, &p).await?;
    let page = state
        .store
        .list_issue_events(issue.id, cursor, limit)
        .await?;
    let mut body = Vec::with_capacity(page.items.len());
    for rec in &page.items {
        body.push(if with_body {
            full(rec, Some(&issue))
        } else {
            event_list_item(rec, &stored_event::read_summary(rec))
        });
    }
    // Events are listed newest first, so the last one's (timestamp, id) is the position
    // after which nothing remains.
    let exhausted = page
        .items
        .last()
        .map(|e| Cursor {
            sort_value: e.timestamp,
            id: e.id,
        })
        .or(cursor)
        .unwrap_or(Cursor {
            sort_value: 0,
            id: 0,
        });
    let link = link_header(
        &format!("{}{}", state.base_url(), uri.path()),
        raw.as_deref(),
        page.next,
        exhausted,
    );
    Ok(json_with_link(Value::Array(body), &link))
}

pub async fn latest_for_issue(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let issue = issue_of(&state, &p).await?;
    let rec = state.store.latest_issue_event(issue.id).await?;
    Ok(Json(full(&rec, Some(&issue))))
}

pub async fn oldest_for_issue(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let issue = issue_of(&state, &p).await?;
    let rec = state.store.oldest_issue_event(issue.id).await?;
    Ok(Json(full(&rec, Some(&issue))))
}

pub async fn get_for_issue(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let issue = issue_of(&state, &p).await?;
    let event_id = normalize_event_id(param(&p, "event_id")?).ok_or(ApiError::NotFound)?;
    let rec = state.store.get_event(issue.project_id, &event_id).await?;
    if rec.issue_id != Some(issue.id) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(full(&rec, Some(&issue))))
}

async fn project_event(state: &AppState, p: &PathParams) -> ApiResult<EventRecord> {
    let project = resolve_project(state, param(p, "org")?, param(p, "project")?).await?;
    let event_id = normalize_event_id(param(p, "event_id")?).ok_or(ApiError::NotFound)?;
    Ok(state.store.get_event(project.id, &event_id).await?)
}

pub async fn get_for_project(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let rec = project_event(&state, &p).await?;
    let issue = match rec.issue_id {
        Some(id) => match state.store.get_issue(id).await {
            Ok(issue) => Some(issue),
            // The issue may have been deleted since; the event is still worth showing.
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    Ok(Json(full(&rec, issue.as_ref())))
}

/// The normalized event as JSON.
pub async fn raw_for_project(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Response> {
    let rec = project_event(&state, &p).await?;
    let bytes = stored_event::read_json(&rec);
    let mut resp = bytes.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
