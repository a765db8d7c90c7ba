//! Issue endpoints: search/list, bulk status update and delete, and single-issue
//! read/update/delete.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_storage::{
    Cmp, Cursor, Issue, IssueFilter, IssueQuery, IssueSort, IssueStatus, IssueUpdate, Project,
};

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::pagination::{Params, link_header};
use super::query::{DEFAULT_QUERY, parse_query, parse_stats_period};
use super::support::{
    PathParams, json_with_link, param, parse_body, resolve_issue, resolve_project,
};
use crate::serialize::{issue_json, status_response};
use crate::state::AppState;

/// Sentry applies query-selected bulk changes to at most this many issues per request.
const BULK_LIMIT: u32 = 1000;

/// The filters of a search request: `query` (Sentry's default when absent) and
/// `statsPeriod` (only issues seen within it).
fn issue_filters(params: &Params, now: i64) -> ApiResult<Vec<IssueFilter>> {
    let query = params.get("query").unwrap_or(DEFAULT_QUERY);
    let mut filters = parse_query(query, now)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    if let Some(raw) = params.get("statsPeriod")
        && let Some(period) = parse_stats_period(raw).map_err(ApiError::BadRequest)?
    {
        filters.push(IssueFilter::LastSeen {
            cmp: Cmp::Ge,
            at: now.saturating_sub(period),
        });
    }
    Ok(filters)
}

fn parse_sort(raw: Option<&str>) -> ApiResult<IssueSort> {
    Ok(match raw.unwrap_or("") {
        // Trends, priority and inbox are Sentry rankings we have no data for; recency is
        // the closest stand-in and keeps their clients working.
        "" | "date" | "trends" | "priority" | "inbox" => IssueSort::LastSeen,
        "new" => IssueSort::FirstSeen,
        "freq" => IssueSort::Events,
        "user" => IssueSort::Users,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid sort \"{other}\": expected date, new, freq, user, trends or priority"
            )));
        }
    })
}

/// The keyset value of `issue` under `sort`, as the store pages by it.
fn sort_value(issue: &Issue, sort: IssueSort) -> i64 {
    match sort {
        IssueSort::LastSeen => issue.last_seen,
        IssueSort::FirstSeen => issue.first_seen,
        IssueSort::Events => issue.times_seen,
        IssueSort::Users => issue.user_count,
    }
}

async fn list_in(
    state: &AppState,
    projects: Vec<Project>,
    raw_query: Option<String>,
    path: &str,
) -> ApiResult<Response> {
    let params = Params::parse(raw_query.as_deref());
    let filters = issue_filters(&params, state.clock.now_ms())?;
    let sort = parse_sort(params.get("sort"))?;
    let limit = params.limit(25, 100)?;
    let cursor = params.cursor()?;
    // An empty project list must not reach the store, where it could read as "any".
    let page = if projects.is_empty() {
        sextant_storage::Page {
            items: Vec::new(),
            next: None,
        }
    } else {
        let project_ids = projects.iter().map(|p| p.id).collect();
        state
            .store
            .list_issues(&IssueQuery {
                project_ids,
                filters,
                sort,
                cursor,
                limit,
            })
            .await?
    };
    let base = state.base_url();
    let by_id: HashMap<i64, &Project> = projects.iter().map(|p| (p.id, p)).collect();
    let body: Vec<Value> = page
        .items
        .iter()
        .filter_map(|i| by_id.get(&i.project_id).map(|p| issue_json(i, p, &base)))
        .collect();
    let exhausted = page
        .items
        .last()
        .map(|i| Cursor {
            sort_value: sort_value(i, sort),
            id: i.id,
        })
        .or(cursor)
        .unwrap_or(Cursor {
            sort_value: 0,
            id: 0,
        });
    let link = link_header(
        &format!("{base}{path}"),
        raw_query.as_deref(),
        page.next,
        exhausted,
    );
    Ok(json_with_link(Value::Array(body), &link))
}

/// The issues a bulk request acts on: the `id` parameters that belong to `projects`, or
/// else the first matches of the search query.
async fn select_issues(
    state: &AppState,
    projects: &[Project],
    params: &Params,
) -> ApiResult<Vec<i64>> {
    let allowed: HashSet<i64> = projects.iter().map(|p| p.id).collect();
    let raw_ids: Vec<&str> = params.all("id").collect();
    if !raw_ids.is_empty() {
        let mut ids = Vec::new();
        for raw in raw_ids {
            let id: i64 = raw
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid issue id \"{raw}\"")))?;
            if ids.contains(&id) {
                continue;
            }
            // Like Sentry, ids outside the project (or already gone) are skipped.
            match state.store.get_issue(id).await {
                Ok(issue) if allowed.contains(&issue.project_id) => ids.push(id),
                Ok(_) | Err(sextant_storage::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(ids);
    }
    if allowed.is_empty() {
        return Ok(Vec::new());
    }
    let query = IssueQuery {
        project_ids: projects.iter().map(|p| p.id).collect(),
        filters: issue_filters(params, state.clock.now_ms())?,
        sort: IssueSort::LastSeen,
        cursor: None,
        limit: BULK_LIMIT,
    };
    Ok(state
        .store
        .list_issues(&query)
        .await?
        .items
        .into_iter()
        .map(|i| i.id)
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusDetails {
    in_next_release: Option<bool>,
}

/// Sentry's issue update body. Other fields (`hasSeen`, `isBookmarked`, …) are accepted
/// and ignored: we do not track them, and rejecting them would break Sentry clients.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    status: Option<String>,
    #[serde(default)]
    status_details: Option<StatusDetails>,
}

fn parse_update(body: &[u8]) -> ApiResult<IssueUpdate> {
    let body: UpdateBody = parse_body(body)?;
    let next_release = body
        .status_details
        .and_then(|d| d.in_next_release)
        .unwrap_or(false);
    let status = match body.status.as_deref() {
        None => None,
        Some("resolved") if next_release => Some(IssueStatus::ResolvedInNextRelease),
        Some("resolved") => Some(IssueStatus::Resolved),
        Some("resolvedInNextRelease") => Some(IssueStatus::ResolvedInNextRelease),
        Some("unresolved") => Some(IssueStatus::Unresolved),
        Some("ignored" | "muted" | "archived") => Some(IssueStatus::Ignored),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid status \"{other}\": expected resolved, resolvedInNextRelease, unresolved or ignored"
            )));
        }
    };
    Ok(IssueUpdate { status })
}

async fn org_projects(state: &AppState, org: &str) -> ApiResult<Vec<Project>> {
    let org = state.store.get_org(org).await?;
    Ok(state.store.list_projects(Some(org.id)).await?)
}

/// `projects` narrowed by Sentry's `project=<id>` parameters (`-1` means all).
fn narrow_projects(projects: Vec<Project>, params: &Params) -> ApiResult<Vec<Project>> {
    let mut wanted = HashSet::new();
    for raw in params.all("project") {
        let id: i64 = raw
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid project id \"{raw}\"")))?;
        if id == -1 {
            return Ok(projects);
        }
        wanted.insert(id);
    }
    if wanted.is_empty() {
        return Ok(projects);
    }
    Ok(projects
        .into_iter()
        .filter(|p| wanted.contains(&p.id))
        .collect())
}

/// Scope of a bulk route: one project, or the (optionally narrowed) projects of an org.
async fn bulk_scope(state: &AppState, p: &PathParams, params: &Params) -> ApiResult<Vec<Project>> {
    let org = param(p, "org")?;
    match p.get("project") {
        Some(project) => Ok(vec![resolve_project(state, org, project).await?]),
        None => narrow_projects(org_projects(state, org).await?, params),
    }
}

pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let params = Params::parse(raw.as_deref());
    let projects = bulk_scope(&state, &p, &params).await?;
    list_in(&state, projects, raw, uri.path()).await
}

pub async fn bulk_update(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(raw.as_deref());
    let update = parse_update(&body)?;
    let projects = bulk_scope(&state, &p, &params).await?;
    let ids = select_issues(&state, &projects, &params).await?;
    if ids.is_empty() {
        // Sentry answers "nothing matched" with 204 rather than an error.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Some(status) = update.status else {
        return Ok(Json(json!({})).into_response());
    };
    state.store.update_issues(&ids, &update).await?;
    Ok(Json(status_response(status)).into_response())
}

pub async fn bulk_delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(raw.as_deref());
    let projects = bulk_scope(&state, &p, &params).await?;
    let ids = select_issues(&state, &projects, &params).await?;
    if !ids.is_empty() {
        state.store.delete_issues(&ids).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let (issue, project) =
        resolve_issue(&state, p.get("org").map(String::as_str), param(&p, "id")?).await?;
    let mut body = issue_json(&issue, &project, &state.base_url());
    crate::releases::root_cause::annotate(state.store.as_ref(), &issue, &mut body).await?;
    Ok(Json(body))
}

pub async fn update(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let update = parse_update(&body)?;
    let (issue, project) =
        resolve_issue(&state, p.get("org").map(String::as_str), param(&p, "id")?).await?;
    let issue = if update.status.is_some() {
        let updated = state.store.update_issues(&[issue.id], &update).await?;
        match updated.into_iter().find(|i| i.id == issue.id) {
            Some(i) => i,
            None => state.store.get_issue(issue.id).await?,
        }
    } else {
        issue
    };
    Ok(Json(issue_json(&issue, &project, &state.base_url())))
}

pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let (issue, _) =
        resolve_issue(&state, p.get("org").map(String::as_str), param(&p, "id")?).await?;
    state.store.delete_issues(&[issue.id]).await?;
    // Sentry deletes asynchronously and answers 202; clients check for it.
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_bodies() {
        let status = |b: &str| parse_update(b.as_bytes()).map(|u| u.status);
        assert_eq!(
            status(r#"{"status":"resolved"}"#).unwrap(),
            Some(IssueStatus::Resolved)
        );
        assert_eq!(
            status(r#"{"status":"resolved","statusDetails":{"inNextRelease":true}}"#).unwrap(),
            Some(IssueStatus::ResolvedInNextRelease)
        );
        assert_eq!(
            status(r#"{"status":"resolvedInNextRelease"}"#).unwrap(),
            Some(IssueStatus::ResolvedInNextRelease)
        );
        assert_eq!(
            status(r#"{"status":"unresolved","statusDetails":{}}"#).unwrap(),
            Some(IssueStatus::Unresolved)
        );
        assert_eq!(
            status(r#"{"status":"ignored","statusDetails":{"ignoreDuration":30}}"#).unwrap(),
            Some(IssueStatus::Ignored)
        );
        assert_eq!(status(r#"{"hasSeen":true}"#).unwrap(), None);
        assert_eq!(status("").unwrap(), None);
        assert!(matches!(
            status(r#"{"status":"fixed"}"#),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(status("[1]"), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn sorts() {
        assert_eq!(parse_sort(None).unwrap(), IssueSort::LastSeen);
        assert_eq!(parse_sort(Some("date")).unwrap(), IssueSort::LastSeen);
        assert_eq!(parse_sort(Some("trends")).unwrap(), IssueSort::LastSeen);
        assert_eq!(parse_sort(Some("new")).unwrap(), IssueSort::FirstSeen);
        assert_eq!(parse_sort(Some("freq")).unwrap(), IssueSort::Events);
        assert_eq!(parse_sort(Some("user")).unwrap(), IssueSort::Users);
        assert!(parse_sort(Some("random")).is_err());
    }

    #[test]
    fn filters_from_params() {
        let now = 1_000_000_000;
        let f = issue_filters(&Params::parse(None), now).unwrap();
        assert_eq!(
            f,
            vec![IssueFilter::Status {
                statuses: vec![IssueStatus::Unresolved],
                negate: false
            }]
        );
        // Present but empty means "no filter", unlike absent.
        assert_eq!(
            issue_filters(&Params::parse(Some("query=")), now).unwrap(),
            vec![]
        );
        let f = issue_filters(&Params::parse(Some("query=&statsPeriod=1h")), now).unwrap();
        assert_eq!(
            f,
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Ge,
                at: now - 3_600_000
            }]
        );
        assert_eq!(
            issue_filters(&Params::parse(Some("query=&statsPeriod=")), now).unwrap(),
            vec![]
        );
        let err = issue_filters(&Params::parse(Some("query=level%3A")), now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid query: empty value for key \"level\" at position 0"
        );
        assert!(issue_filters(&Params::parse(Some("statsPeriod=soon")), now).is_err());
    }

    #[test]
    fn project_narrowing() {
        let p = |id| Project {
            id,
            org_id: 1,
            org_slug: "o".into(),
            slug: format!("p{id}"),
            name: String::new(),
            platform: None,
            created_at: 0,
        };
        let all = vec![p(1), p(2), p(3)];
        let ids = |v: Vec<Project>| v.iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(
            ids(narrow_projects(all.clone(), &Params::parse(None)).unwrap()),
            [1, 2, 3]
        );
        assert_eq!(
            ids(narrow_projects(all.clone(), &Params::parse(Some("project=2&project=3"))).unwrap()),
            [2, 3]
        );
        assert_eq!(
            ids(narrow_projects(all.clone(), &Params::parse(Some("project=-1"))).unwrap()),
            [1, 2, 3]
        );
        assert!(narrow_projects(all, &Params::parse(Some("project=web"))).is_err());
    }
}
