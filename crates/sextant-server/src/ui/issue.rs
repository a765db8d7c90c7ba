//! The issue page: summary, events-over-time charts, tag distributions, one event in
//! full with older/newer navigation, and the triage actions. Also the raw JSON and
//! attachment downloads of an event.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sextant_storage::{Issue, IssueStatus, IssueUpdate, Project};

use super::error::{UiError, UiResult};
use super::event_view::{EventView, event_view};
use super::format::{DAY_MS, HOUR_MS, ago, bars_svg, count, series, share_svg};
use super::pages::{Nav, render};
use super::viewer::Viewer;
use crate::clock::format_ms;
use crate::serialize::short_id;
use crate::state::AppState;
use crate::stored_event;

/// Tag keys shown with their value distribution, and values per key.
const TAG_KEYS: usize = 10;
const TAG_VALUES: u32 = 5;

pub struct TagValue {
    pub value: String,
    pub count: String,
    pub percent: i64,
    pub bar: String,
}

pub struct TagDist {
    pub key: String,
    pub values: Vec<TagValue>,
}

/// A rule that fired for the issue.
pub struct FireRow {
    pub rule: String,
    pub last: String,
    pub last_at: String,
    pub times: i64,
}

pub struct Attachment {
    pub name: String,
    pub size: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "issue.html")]
struct IssuePage {
    nav: Option<Nav>,
    title: String,
    issue: Issue,
    short_id: String,
    status: String,
    list_url: String,
    first_seen: String,
    last_seen: String,
    first_seen_at: String,
    last_seen_at: String,
    events: String,
    users: String,
    chart_day: String,
    chart_two_weeks: String,
    tags: Vec<TagDist>,
    event: EventView,
    event_id: String,
    event_time: String,
    event_release: String,
    event_environment: String,
    older_url: String,
    newer_url: String,
    raw_url: String,
    attachments: Vec<Attachment>,
    fires: Vec<FireRow>,
    alerts_url: String,
    action_url: String,
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    event: Option<String>,
}

/// The issue in the path, which must belong to the project in the path.
async fn issue_of(state: &AppState, project: &Project, raw_id: &str) -> UiResult<Issue> {
    let id: i64 = raw_id.parse().map_err(|_| UiError::NotFound)?;
    let issue = state.store.get_issue(id).await?;
    if issue.project_id != project.id {
        return Err(UiError::NotFound);
    }
    Ok(issue)
}

fn status_text(issue: &Issue) -> String {
    match issue.status {
        IssueStatus::Unresolved => "unresolved".into(),
        IssueStatus::Resolved => "resolved".into(),
        IssueStatus::ResolvedInNextRelease => match &issue.resolved_in_release {
            Some(r) => format!("resolved in the release after {r}"),
            None => "resolved in next release".into(),
        },
        IssueStatus::Ignored => "ignored".into(),
    }
}

async fn tag_distributions(state: &AppState, issue: &Issue) -> UiResult<Vec<TagDist>> {
    let mut out = Vec::new();
    for key in state
        .store
        .issue_tag_keys(issue.id)
        .await?
        .into_iter()
        .take(TAG_KEYS)
    {
        let total = key.total_values.max(1);
        let values = state
            .store
            .issue_tag_values(issue.id, &key.key, TAG_VALUES)
            .await?
            .into_iter()
            .map(|v| {
                let percent = v.count * 100 / total;
                TagValue {
                    value: v.value,
                    count: count(v.count),
                    percent,
                    bar: share_svg(percent),
                }
            })
            .collect();
        out.push(TagDist {
            key: key.key,
            values,
        });
    }
    Ok(out)
}

/// Sentry's issue permalink (`/organizations/{org}/issues/{id}/`, which the API and
/// webhooks hand out), answered with the console's page for the issue.
pub async fn permalink(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, id)): Path<(String, i64)>,
) -> UiResult<Response> {
    let issue = state.store.get_issue(id).await?;
    let owner = state.store.get_project(issue.project_id).await?;
    let project = viewer.project(&state, &org, &owner.slug).await?;
    if project.id != owner.id {
        return Err(UiError::NotFound);
    }
    Ok(Redirect::to(&format!("/orgs/{org}/{}/issues/{id}/", project.slug)).into_response())
}

pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug, raw_id)): Path<(String, String, String)>,
    Query(q): Query<DetailQuery>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let issue = issue_of(&state, &project, &raw_id).await?;
    let record = match q.event.as_deref() {
        Some(id) => {
            let ev = state.store.get_event(project.id, id).await?;
            if ev.issue_id != Some(issue.id) {
                return Err(UiError::NotFound);
            }
            ev
        }
        None => state.store.latest_issue_event(issue.id).await?,
    };
    let payload = stored_event::read(&record);
    let base = format!("/orgs/{}/{}", project.org_slug, project.slug);
    let issue_url = format!("{base}/issues/{}/", issue.id);
    let neighbour = |older: bool| {
        let state = state.clone();
        let issue_url = issue_url.clone();
        async move {
            let id = state
                .store
                .adjacent_issue_event(issue.id, record.timestamp, record.id, older)
                .await?;
            Ok::<_, UiError>(
                id.map(|id| format!("{issue_url}?event={id}"))
                    .unwrap_or_default(),
            )
        }
    };
    let older_url = neighbour(true).await?;
    let newer_url = neighbour(false).await?;

    let now = state.clock.now_ms();
    let day_start = (now / HOUR_MS) * HOUR_MS - 23 * HOUR_MS;
    let day = state
        .store
        .issue_event_buckets(&[issue.id], day_start, HOUR_MS)
        .await?;
    let weeks_start = (now / DAY_MS) * DAY_MS - 13 * DAY_MS;
    let weeks = state
        .store
        .issue_event_buckets(&[issue.id], weeks_start, DAY_MS)
        .await?;
    let attachments = state
        .store
        .list_attachments(project.id, &record.event_id)
        .await?
        .into_iter()
        .map(|a| Attachment {
            url: format!("{base}/events/{}/attachments/{}", record.event_id, a.id),
            size: format!("{} bytes", a.size),
            name: a.name,
        })
        .collect();
    let fires = state
        .store
        .issue_rule_fires(issue.id)
        .await?
        .into_iter()
        .map(|f| FireRow {
            rule: f.rule_name,
            last: ago(f.last_fired, now),
            last_at: format_ms(f.last_fired),
            times: f.times,
        })
        .collect();
    let mut nav = Nav::build(&state, &viewer, Some(&project)).await?;
    nav.live_url = format!("{base}/live");
    render(&IssuePage {
        title: issue.title.clone(),
        short_id: short_id(&project.slug, issue.id),
        status: status_text(&issue),
        list_url: format!("{base}/"),
        first_seen: ago(issue.first_seen, now),
        last_seen: ago(issue.last_seen, now),
        first_seen_at: format_ms(issue.first_seen),
        last_seen_at: format_ms(issue.last_seen),
        events: count(issue.times_seen),
        users: count(issue.user_count),
        chart_day: bars_svg(&series(&day, issue.id, now, HOUR_MS, 24), 480, 60, "chart"),
        chart_two_weeks: bars_svg(&series(&weeks, issue.id, now, DAY_MS, 14), 480, 60, "chart"),
        tags: tag_distributions(&state, &issue).await?,
        event: event_view(&payload),
        event_id: record.event_id.clone(),
        event_time: format_ms(record.timestamp),
        event_release: record.release.clone().unwrap_or_default(),
        event_environment: record.environment.clone().unwrap_or_default(),
        older_url,
        newer_url,
        raw_url: format!("{base}/events/{}/json", record.event_id),
        attachments,
        fires,
        alerts_url: format!("{base}/alerts/"),
        action_url: format!("{issue_url}action"),
        csrf: viewer.session.csrf_token.clone(),
        issue,
        nav: Some(nav),
    })
}

pub async fn action(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug, raw_id)): Path<(String, String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let project = viewer.project(&state, &org, &slug).await?;
    let issue = issue_of(&state, &project, &raw_id).await?;
    let status = match form.text("action") {
        "resolve" => IssueStatus::Resolved,
        "resolve_next" => IssueStatus::ResolvedInNextRelease,
        "ignore" => IssueStatus::Ignored,
        "unresolve" => IssueStatus::Unresolved,
        "delete" => {
            state.store.delete_issues(&[issue.id]).await?;
            return Ok(Redirect::to(&format!("/orgs/{org}/{slug}/")).into_response());
        }
        other => return Err(UiError::BadRequest(format!("unknown action {other:?}"))),
    };
    state
        .store
        .update_issues(
            &[issue.id],
            &IssueUpdate {
                status: Some(status),
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/orgs/{org}/{slug}/issues/{}/", issue.id)).into_response())
}

/// The normalized event, as JSON (served with `nosniff`, so never as a page).
pub async fn raw_json(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug, event_id)): Path<(String, String, String)>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let record = state.store.get_event(project.id, &event_id).await?;
    let json = stored_event::read_json(&record);
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// An attachment, always as a download so its bytes never render as one of our pages.
pub async fn attachment(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug, event_id, attachment_id)): Path<(String, String, String, String)>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let id: i64 = attachment_id.parse().map_err(|_| UiError::NotFound)?;
    let (record, data) = state.store.get_attachment(project.id, id).await?;
    if record.event_id != event_id {
        return Err(UiError::NotFound);
    }
    let safe_name: String = record
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe_name}\""),
            ),
        ],
        Bytes::from(data),
    )
        .into_response())
}
