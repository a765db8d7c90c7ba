//! An organization's delivery log (`/orgs/{org}/alerts/deliveries`): every message of the
//! outbox, newest first and filtered by state, and one delivery with each attempt and a
//! "Redeliver" button (admin or owner role), which sends it again now with its
//! `Request-ID`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sextant_storage::{Delivery, DeliveryFilter, DeliveryState, Organization, Role};

use super::alert_targets::Targets;
use super::error::{UiError, UiResult};
use super::format::ago;
use super::pages::{Nav, render};
use super::viewer::Viewer;
use crate::clock::format_ms;
use crate::state::AppState;

const PAGE: u32 = 50;
const STATES: [DeliveryState; 3] = [
    DeliveryState::Pending,
    DeliveryState::Delivered,
    DeliveryState::Failed,
];

pub struct DeliveryRow {
    pub url: String,
    pub what: String,
    pub target: String,
    pub state: &'static str,
    pub attempts: i64,
    pub created: String,
    pub created_at: String,
    /// Empty while pending.
    pub finished_at: String,
}

/// A link of the state filter.
pub struct StateLink {
    pub label: &'static str,
    pub url: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "alert_deliveries.html")]
struct DeliveriesPage {
    nav: Option<Nav>,
    title: String,
    org: Organization,
    settings_url: String,
    channels_url: String,
    filters: Vec<StateLink>,
    rows: Vec<DeliveryRow>,
    older_url: String,
}

pub struct AttemptRow {
    pub at: String,
    pub status: String,
    pub duration: String,
    pub response: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "alert_delivery.html")]
struct DeliveryPage {
    nav: Option<Nav>,
    title: String,
    list_url: String,
    row: DeliveryRow,
    request_id: String,
    next_attempt: String,
    issue_url: String,
    attempts: Vec<AttemptRow>,
    payload: String,
    redeliver_url: String,
    can_admin: bool,
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    state: Option<String>,
    cursor: Option<String>,
}

fn row(d: &Delivery, targets: &Targets, org_slug: &str, now: i64) -> DeliveryRow {
    DeliveryRow {
        url: format!("/orgs/{org_slug}/alerts/deliveries/{}", d.id),
        what: format!("{} / {}", d.resource, d.action),
        target: targets.delivery(&d.target),
        state: d.state.as_str(),
        attempts: d.attempts,
        created: ago(d.created_at, now),
        created_at: format_ms(d.created_at),
        finished_at: d.finished_at.map(format_ms).unwrap_or_default(),
    }
}

pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<LogQuery>,
) -> UiResult<Response> {
    viewer.role(&slug)?;
    let org = state.store.get_org(&slug).await?;
    let wanted = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            UiError::BadRequest("state: one of pending, delivered, failed".into())
        })?),
        None => None,
    };
    let before_id = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| UiError::BadRequest("invalid cursor".into()))?,
        ),
        None => None,
    };
    let page = state
        .store
        .list_deliveries(&DeliveryFilter {
            org_id: org.id,
            project_id: None,
            state: wanted,
            before_id,
            limit: PAGE,
        })
        .await?;
    let targets = Targets::load(&state, org.id).await?;
    let now = state.clock.now_ms();
    let base = format!("/orgs/{}/alerts/deliveries", org.slug);
    let with_state = |s: Option<DeliveryState>| match s {
        Some(s) => format!("{base}?state={}", s.as_str()),
        None => base.clone(),
    };
    let mut filters = vec![StateLink {
        label: "all",
        url: with_state(None),
        current: wanted.is_none(),
    }];
    filters.extend(STATES.iter().map(|s| StateLink {
        label: s.as_str(),
        url: with_state(Some(*s)),
        current: wanted == Some(*s),
    }));
    let older_url = match page.last().filter(|_| page.len() == PAGE as usize) {
        Some(last) => {
            let sep = if wanted.is_some() { '&' } else { '?' };
            format!("{}{sep}cursor={}", with_state(wanted), last.id)
        }
        None => String::new(),
    };
    render(&DeliveriesPage {
        nav: Some(Nav::build(&state, &viewer, None).await?),
        title: format!("{} delivery log", org.name),
        settings_url: format!("/orgs/{}/settings", org.slug),
        channels_url: format!("/orgs/{}/alerts/channels", org.slug),
        filters,
        rows: page
            .iter()
            .map(|d| row(d, &targets, &org.slug, now))
            .collect(),
        older_url,
        org,
    })
}

/// The payload as sent, indented when it is JSON.
fn pretty(payload: &str) -> String {
    serde_json::from_str::<serde_json::Value>(payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| payload.to_string())
}

async fn delivery_of(
    state: &AppState,
    slug: &str,
    raw_id: &str,
) -> UiResult<(Organization, Delivery)> {
    let org = state.store.get_org(slug).await?;
    let id: i64 = raw_id.parse().map_err(|_| UiError::NotFound)?;
    let delivery = state.store.get_delivery(org.id, id).await?;
    Ok((org, delivery))
}

pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((slug, raw_id)): Path<(String, String)>,
) -> UiResult<Response> {
    let role = viewer.role(&slug)?;
    let (org, d) = delivery_of(&state, &slug, &raw_id).await?;
    let targets = Targets::load(&state, org.id).await?;
    let attempts = state
        .store
        .delivery_attempts(d.id)
        .await?
        .into_iter()
        .map(|a| AttemptRow {
            at: format_ms(a.at),
            status: a.status.map(|s| s.to_string()).unwrap_or_default(),
            duration: format!("{} ms", a.duration_ms),
            response: a.response.unwrap_or_default(),
            error: a.error.unwrap_or_default(),
        })
        .collect();
    let issue_url = match (d.project_id, d.issue_id) {
        (Some(project_id), Some(issue_id)) => match state.store.get_project(project_id).await {
            Ok(p) => format!("/orgs/{}/{}/issues/{issue_id}/", p.org_slug, p.slug),
            Err(sextant_storage::StoreError::NotFound) => String::new(),
            Err(e) => return Err(e.into()),
        },
        _ => String::new(),
    };
    let base = format!("/orgs/{}/alerts/deliveries", org.slug);
    let now = state.clock.now_ms();
    render(&DeliveryPage {
        nav: Some(Nav::build(&state, &viewer, None).await?),
        title: format!("Delivery {}", d.id),
        list_url: base.clone(),
        row: row(&d, &targets, &org.slug, now),
        request_id: d.request_id.clone(),
        next_attempt: if d.state == DeliveryState::Pending {
            format_ms(d.next_at)
        } else {
            String::new()
        },
        issue_url,
        attempts,
        payload: pretty(&d.payload),
        redeliver_url: format!("{base}/{}/redeliver", d.id),
        can_admin: role >= Role::Admin,
        csrf: viewer.session.csrf_token.clone(),
    })
}

/// Makes the delivery pending again, due now, and wakes the delivery worker.
pub async fn redeliver(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((slug, raw_id)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    viewer.form(&body)?;
    viewer.require_admin(&slug)?;
    let (org, d) = delivery_of(&state, &slug, &raw_id).await?;
    let again = state.store.redeliver(org.id, d.id).await?;
    state.alert_deliveries.notify_one();
    Ok(Redirect::to(&format!("/orgs/{slug}/alerts/deliveries/{}", again.id)).into_response())
}
