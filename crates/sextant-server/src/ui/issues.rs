//! The issues list: search (the API's query language plus filter fields), sorts, counts,
//! sparklines, pagination and bulk status changes. `?fragment=1` returns only the list,
//! which the page script swaps in when the live stream reports new events.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sextant_storage::{Cursor, IssueQuery, IssueSort, IssueStatus, IssueUpdate, Project};

use super::error::{UiError, UiResult};
use super::format::{DAY_MS, HOUR_MS, ago, bars_svg, count, series};
use super::pages::{Nav, render};
use super::snippets::{Snippets, first_dsn};
use super::viewer::{Viewer, local_path};
use crate::api::query::parse_query;
use crate::serialize::short_id;
use crate::state::AppState;

const PAGE_SIZE: u32 = 25;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    query: String,
    status: Option<String>,
    #[serde(default)]
    level: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    release: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    period: String,
    cursor: Option<String>,
    fragment: Option<String>,
}

impl ListQuery {
    fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("unresolved")
    }

    /// The search the store runs: filter fields as query terms, then the typed query.
    fn full_query(&self) -> String {
        let mut terms = Vec::new();
        if self.status() != "all" && !self.query.contains("is:") {
            terms.push(format!("is:{}", self.status()));
        }
        for (key, value) in [
            ("level", &self.level),
            ("environment", &self.environment),
            ("release", &self.release),
        ] {
            let value = value.trim().replace('"', "");
            if !value.is_empty() {
                terms.push(format!("{key}:\"{value}\""));
            }
        }
        terms.push(self.query.trim().to_string());
        terms.join(" ").trim().to_string()
    }

    fn sort(&self) -> IssueSort {
        match self.sort.as_str() {
            "new" => IssueSort::FirstSeen,
            "freq" => IssueSort::Events,
            "user" => IssueSort::Users,
            _ => IssueSort::LastSeen,
        }
    }

    fn cursor(&self) -> Option<Cursor> {
        let (v, id) = self.cursor.as_deref()?.split_once(':')?;
        Some(Cursor {
            sort_value: v.parse().ok()?,
            id: id.parse().ok()?,
        })
    }

    fn two_weeks(&self) -> bool {
        self.period == "14d"
    }
}

pub struct IssueRow {
    pub id: i64,
    pub url: String,
    pub short_id: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub status: String,
    pub events: String,
    pub users: String,
    pub last_seen: String,
    pub first_seen: String,
    pub spark: String,
    pub regression: bool,
    pub unhandled: bool,
    pub is_new: bool,
}

#[derive(Template)]
#[template(path = "issue_list.html")]
pub struct IssueList {
    rows: Vec<IssueRow>,
    error: String,
    next_url: String,
    first_url: String,
    period_label: String,
}

#[derive(Template)]
#[template(path = "issues.html")]
struct IssuesPage {
    nav: Option<Nav>,
    title: String,
    project_name: String,
    settings_url: String,
    releases_url: String,
    list_html: String,
    q: ListQuery,
    bulk_url: String,
    back: String,
    csrf: String,
    first_event: Option<Snippets>,
}

fn status_label(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Unresolved => "unresolved",
        IssueStatus::Resolved | IssueStatus::ResolvedInNextRelease => "resolved",
        IssueStatus::Ignored => "ignored",
    }
}

fn sort_value(issue: &sextant_storage::Issue, sort: IssueSort) -> i64 {
    match sort {
        IssueSort::LastSeen => issue.last_seen,
        IssueSort::FirstSeen => issue.first_seen,
        IssueSort::Events => issue.times_seen,
        IssueSort::Users => issue.user_count,
    }
}

/// `uri`'s path and query with `cursor` replaced (or removed when `None`).
fn with_cursor(uri: &Uri, cursor: Option<String>) -> String {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "cursor" && k != "fragment")
                .collect()
        })
        .unwrap_or_default();
    if let Some(c) = cursor {
        pairs.push(("cursor".into(), c));
    }
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if query.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{query}", uri.path())
    }
}

async fn issue_list(
    state: &AppState,
    project: &Project,
    q: &ListQuery,
    uri: &Uri,
) -> UiResult<IssueList> {
    let now = state.clock.now_ms();
    let (bucket, slots, period_label) = if q.two_weeks() {
        (DAY_MS, 14, "14 days")
    } else {
        (HOUR_MS, 24, "24 hours")
    };
    let mut list = IssueList {
        rows: Vec::new(),
        error: String::new(),
        next_url: String::new(),
        first_url: String::new(),
        period_label: period_label.into(),
    };
    let filters = match parse_query(&q.full_query(), now) {
        Ok(f) => f,
        Err(e) => {
            list.error = format!("Invalid search: {e}");
            return Ok(list);
        }
    };
    let sort = q.sort();
    let page = state
        .store
        .list_issues(&IssueQuery {
            project_ids: vec![project.id],
            filters,
            sort,
            cursor: q.cursor(),
            limit: PAGE_SIZE,
        })
        .await?;
    let ids: Vec<i64> = page.items.iter().map(|i| i.id).collect();
    let since = (now / bucket) * bucket - bucket * (slots as i64 - 1);
    let buckets = state.store.issue_event_buckets(&ids, since, bucket).await?;
    for issue in &page.items {
        let values = series(&buckets, issue.id, now, bucket, slots);
        list.rows.push(IssueRow {
            id: issue.id,
            url: format!(
                "/orgs/{}/{}/issues/{}/",
                project.org_slug, project.slug, issue.id
            ),
            short_id: short_id(&project.slug, issue.id),
            title: issue.title.clone(),
            culprit: issue.culprit.clone(),
            level: issue.level.clone(),
            status: status_label(issue.status).into(),
            events: count(issue.times_seen),
            users: count(issue.user_count),
            last_seen: ago(issue.last_seen, now),
            first_seen: ago(issue.first_seen, now),
            spark: bars_svg(&values, 96, 24, "spark"),
            regression: issue.is_regression,
            unhandled: issue.unhandled,
            is_new: now - issue.first_seen < DAY_MS,
        });
    }
    if let (Some(_), Some(last)) = (page.next, page.items.last()) {
        list.next_url = with_cursor(uri, Some(format!("{}:{}", sort_value(last, sort), last.id)));
    }
    if q.cursor.is_some() {
        list.first_url = with_cursor(uri, None);
    }
    Ok(list)
}

pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    uri: Uri,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let list = issue_list(&state, &project, &q, &uri).await?;
    if q.fragment.is_some() {
        return Ok(Html(list.render()?).into_response());
    }
    let first_event = if state.store.count_events(project.id).await? == 0 {
        let dsn = first_dsn(&state, &project).await?;
        Some(Snippets::new(&dsn))
    } else {
        None
    };
    let mut nav = Nav::build(&state, &viewer, Some(&project)).await?;
    nav.live_url = format!("/orgs/{}/{}/live", project.org_slug, project.slug);
    render(&IssuesPage {
        title: format!("Issues · {}", project.name),
        project_name: project.name.clone(),
        settings_url: format!("/orgs/{}/{}/settings", project.org_slug, project.slug),
        releases_url: format!("/orgs/{}/{}/releases/", project.org_slug, project.slug),
        list_html: list.render()?,
        bulk_url: format!("/orgs/{}/{}/bulk", project.org_slug, project.slug),
        back: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        csrf: viewer.session.csrf_token.clone(),
        first_event,
        q,
        nav: Some(nav),
    })
}

/// Bulk resolve / ignore / reopen of the checked issues of this project.
pub async fn bulk(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let project = viewer.project(&state, &org, &slug).await?;
    let status = match form.text("action") {
        "resolve" => IssueStatus::Resolved,
        "ignore" => IssueStatus::Ignored,
        "unresolve" => IssueStatus::Unresolved,
        other => return Err(UiError::BadRequest(format!("unknown action {other:?}"))),
    };
    let mut ids = Vec::new();
    for raw in form.all("id") {
        let id: i64 = raw
            .parse()
            .map_err(|_| UiError::BadRequest(format!("invalid issue id {raw:?}")))?;
        // Only issues of this project: ids from elsewhere are ignored, not acted on.
        match state.store.get_issue(id).await {
            Ok(issue) if issue.project_id == project.id => ids.push(id),
            Ok(_) | Err(sextant_storage::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !ids.is_empty() {
        state
            .store
            .update_issues(
                &ids,
                &IssueUpdate {
                    status: Some(status),
                },
            )
            .await?;
    }
    Ok(Redirect::to(&local_path(form.text("back"))).into_response())
}
