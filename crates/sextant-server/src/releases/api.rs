//! The release endpoints `sentry-cli` uses (organization-scoped, as in Sentry) and their
//! project-scoped twins: create, list, details, update (finalize, commits), delete,
//! deploys and commits.
//!
//! Releases are stored per project; an organization-level call applies to the projects
//! it names, or else to every project of the organization that has the release.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sextant_storage::{
    CommitFile, NewCommit, NewDeploy, Project, ReleasePatch, ReleaseRecord, StoreError,
};

use super::serialize::{ReleaseView, commit_json, deploy_json, release_json};
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::pagination::Params;
use crate::api::support::{
    PathParams, created, normalize_event_id, param, parse_body, path_project,
};
use crate::state::AppState;

/// An RFC 3339 date or Unix seconds, as clients send them.
fn parse_date(v: &Option<Value>) -> ApiResult<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => sextant_protocol::timestamp::parse_timestamp(v)
            .map(|s| Some((s * 1000.0) as i64))
            .ok_or_else(|| ApiError::bad_request(format!("invalid date {v}"))),
    }
}

#[derive(Debug, Deserialize)]
struct RawCommit {
    id: String,
    repository: Option<String>,
    message: Option<String>,
    author_name: Option<String>,
    author_email: Option<String>,
    timestamp: Option<Value>,
    #[serde(default)]
    patch_set: Vec<RawFile>,
}

#[derive(Debug, Deserialize)]
struct RawFile {
    path: String,
    #[serde(rename = "type", default)]
    change_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawRef {
    repository: String,
    commit: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseBody {
    version: Option<String>,
    projects: Option<Vec<String>>,
    url: Option<String>,
    date_started: Option<Value>,
    date_released: Option<Value>,
    commits: Option<Vec<RawCommit>>,
    refs: Option<Vec<RawRef>>,
}

impl ReleaseBody {
    fn patch(&self) -> ApiResult<ReleasePatch> {
        Ok(ReleasePatch {
            date_started: parse_date(&self.date_started)?,
            date_released: parse_date(&self.date_released)?,
            url: self.url.clone(),
        })
    }

    /// Commits sent in full (`set-commits --local`), or the head of each ref
    /// (`--commit repo@from..to`) when no file lists are known.
    fn commits(&self) -> ApiResult<Option<Vec<NewCommit>>> {
        if let Some(commits) = &self.commits {
            let mut out = Vec::with_capacity(commits.len());
            for c in commits {
                out.push(NewCommit {
                    sha: c.id.clone(),
                    repository: c.repository.clone(),
                    author_name: c.author_name.clone(),
                    author_email: c.author_email.clone(),
                    message: c.message.clone(),
                    committed_at: parse_date(&c.timestamp)?,
                    files: c
                        .patch_set
                        .iter()
                        .map(|f| CommitFile {
                            path: f.path.clone(),
                            change_type: f.change_type.clone().unwrap_or_else(|| "M".into()),
                        })
                        .collect(),
                });
            }
            return Ok(Some(out));
        }
        Ok(self.refs.as_ref().map(|refs| {
            refs.iter()
                .map(|r| NewCommit {
                    sha: r.commit.clone(),
                    repository: Some(r.repository.clone()),
                    author_name: None,
                    author_email: None,
                    message: None,
                    committed_at: None,
                    files: vec![],
                })
                .collect()
        }))
    }
}

/// The organization's projects named by slug (or id), or all of them.
async fn org_projects(
    state: &AppState,
    org: &str,
    named: Option<&[String]>,
) -> ApiResult<Vec<Project>> {
    let org = state.store.get_org(org).await?;
    let all = state.store.list_projects(Some(org.id)).await?;
    match named {
        None => Ok(all),
        Some(names) => names
            .iter()
            .map(|n| {
                all.iter()
                    .find(|p| &p.slug == n || p.id.to_string() == *n)
                    .cloned()
                    .ok_or_else(|| ApiError::bad_request(format!("unknown project {n:?}")))
            })
            .collect(),
    }
}

/// The organization's projects that have `version` (all of `named` must).
async fn projects_with(
    state: &AppState,
    org: &str,
    version: &str,
    named: Option<&[String]>,
) -> ApiResult<Vec<(Project, ReleaseRecord)>> {
    let mut out = Vec::new();
    for p in org_projects(state, org, named).await? {
        match state.store.get_release(p.id, version).await {
            Ok(r) => out.push((p, r)),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if out.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(out)
}

pub(super) async fn view(
    state: &AppState,
    release: &ReleaseRecord,
    projects: &[Project],
) -> ApiResult<Value> {
    let deploys = state
        .store
        .list_deploys(release.project_id, Some(&release.version), None)
        .await?;
    let commits = state
        .store
        .list_release_commits(release.project_id, &release.version)
        .await?;
    let scope = sextant_storage::HealthScope {
        project_id: release.project_id,
        release: Some(release.version.clone()),
        environment: None,
        from: 0,
        to: i64::MAX,
    };
    let new_groups = state.store.event_counts(&scope).await?.new_issues.len();
    Ok(release_json(&ReleaseView {
        release,
        projects,
        deploys: &deploys,
        commits: &commits,
        new_groups,
    }))
}

async fn apply(
    state: &AppState,
    project: &Project,
    version: &str,
    body: &ReleaseBody,
) -> ApiResult<ReleaseRecord> {
    let release = state
        .store
        .upsert_release(project.id, version, &body.patch()?)
        .await?;
    if let Some(commits) = body.commits()? {
        state
            .store
            .set_release_commits(project.id, version, &commits)
            .await?;
    }
    Ok(release)
}

fn version_of(body: &ReleaseBody) -> ApiResult<String> {
    match body.version.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() && !v.contains(['/', '\n']) => Ok(v.to_string()),
        _ => Err(ApiError::bad_request(
            "version: a non-empty release name is required",
        )),
    }
}

/// `POST /organizations/{org}/releases/` (`sentry-cli releases new`).
pub async fn org_create(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: ReleaseBody = parse_body(&body)?;
    let version = version_of(&body)?;
    let projects = org_projects(&state, param(&p, "org")?, body.projects.as_deref()).await?;
    if body.projects.as_ref().is_none_or(Vec::is_empty) {
        return Err(ApiError::bad_request(
            "projects: at least one project is required",
        ));
    }
    let mut release = None;
    for project in &projects {
        release = Some(apply(&state, project, &version, &body).await?);
    }
    let release = release.ok_or(ApiError::NotFound)?;
    Ok(created(view(&state, &release, &projects).await?))
}

/// `GET /organizations/{org}/releases/` (optionally `?project=ID`).
pub async fn org_list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(q.as_deref());
    let wanted: Vec<String> = params.all("project").map(str::to_string).collect();
    let named = (!wanted.is_empty()).then_some(wanted.as_slice());
    let mut out = Vec::new();
    for project in org_projects(&state, param(&p, "org")?, named).await? {
        for r in state.store.list_releases(project.id).await? {
            out.push(view(&state, &r, std::slice::from_ref(&project)).await?);
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /organizations/{org}/releases/{version}/`.
pub async fn org_get(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let found = projects_with(&state, param(&p, "org")?, param(&p, "version")?, None).await?;
    let projects: Vec<Project> = found.iter().map(|(p, _)| p.clone()).collect();
    Ok(Json(view(&state, &found[0].1, &projects).await?))
}

/// `PUT /organizations/{org}/releases/{version}/` (finalize, set-commits).
pub async fn org_update(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: ReleaseBody = parse_body(&body)?;
    let version = param(&p, "version")?;
    let org = param(&p, "org")?;
    // Naming projects creates the release there, as Sentry does; otherwise it must exist.
    let projects = match &body.projects {
        Some(named) if !named.is_empty() => org_projects(&state, org, Some(named)).await?,
        _ => projects_with(&state, org, version, None)
            .await?
            .into_iter()
            .map(|(p, _)| p)
            .collect(),
    };
    let mut release = None;
    for project in &projects {
        release = Some(apply(&state, project, version, &body).await?);
    }
    let release = release.ok_or(ApiError::NotFound)?;
    Ok(Json(view(&state, &release, &projects).await?))
}

/// `DELETE /organizations/{org}/releases/{version}/`.
pub async fn org_delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let version = param(&p, "version")?;
    for (project, _) in projects_with(&state, param(&p, "org")?, version, None).await? {
        state.store.delete_release(project.id, version).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeployBody {
    environment: String,
    name: Option<String>,
    url: Option<String>,
    date_started: Option<Value>,
    date_finished: Option<Value>,
    projects: Option<Vec<String>>,
}

/// `POST /organizations/{org}/releases/{version}/deploys/`: records the deploy and
/// schedules the automatic gate checks after it.
pub async fn deploy_create(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: DeployBody = parse_body(&body)?;
    if body.environment.trim().is_empty() {
        return Err(ApiError::bad_request("environment is required"));
    }
    let version = param(&p, "version")?;
    let found = projects_with(&state, param(&p, "org")?, version, body.projects.as_deref()).await?;
    let finished = parse_date(&body.date_finished)?.unwrap_or_else(|| state.clock.now_ms());
    let mut last = None;
    for (project, _) in &found {
        let deploy = state
            .store
            .create_deploy(&NewDeploy {
                project_id: project.id,
                version: version.to_string(),
                environment: body.environment.clone(),
                name: body.name.clone(),
                url: body.url.clone(),
                date_started: parse_date(&body.date_started)?,
                date_finished: finished,
            })
            .await?;
        super::scheduler::schedule(state.store.as_ref(), &state.config.releases, &deploy).await?;
        last = Some(deploy);
    }
    let deploy = last.ok_or(ApiError::NotFound)?;
    Ok(created(deploy_json(&deploy)))
}

/// `GET /organizations/{org}/releases/{version}/deploys/`.
pub async fn deploy_list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let version = param(&p, "version")?;
    let mut out = Vec::new();
    for (project, _) in projects_with(&state, param(&p, "org")?, version, None).await? {
        for d in state
            .store
            .list_deploys(project.id, Some(version), None)
            .await?
        {
            out.push(deploy_json(&d));
        }
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /organizations/{org}/releases/{version}/commits/`.
pub async fn commit_list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let version = param(&p, "version")?;
    let found = projects_with(&state, param(&p, "org")?, version, None).await?;
    let commits = state
        .store
        .list_release_commits(found[0].0.id, version)
        .await?;
    Ok(Json(Value::Array(
        commits.iter().map(commit_json).collect(),
    )))
}

/// `GET /organizations/{org}/releases/{version}/previous-with-commits/`: `{}` tells
/// `sentry-cli` there is no earlier commit to start from, so it sends recent history.
pub async fn previous_with_commits(_auth: Auth) -> Json<Value> {
    Json(json!({}))
}

/// `GET /organizations/{org}/repos/`: Sextant has no source-host integration; commits
/// are sent in full by `set-commits --local` or the API.
pub async fn repos(_auth: Auth) -> Json<Value> {
    Json(json!([]))
}

/// `GET /projects/{org}/{project}/releases/` (`sentry-cli releases list`).
pub async fn project_list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let mut out = Vec::new();
    for r in state.store.list_releases(project.id).await? {
        out.push(view(&state, &r, std::slice::from_ref(&project)).await?);
    }
    Ok(Json(Value::Array(out)))
}

/// `POST /projects/{org}/{project}/releases/`.
pub async fn project_create(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let body: ReleaseBody = parse_body(&body)?;
    let version = version_of(&body)?;
    let project = path_project(&state, &p).await?;
    let release = apply(&state, &project, &version, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &release, std::slice::from_ref(&project)).await?),
    )
        .into_response())
}

/// `GET /projects/{org}/{project}/events/{event_id}/committers/`, shaped like Sentry's:
/// `{"committers": [{"author": …, "commits": [...]}]}`, best suspect first.
pub async fn committers(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let event_id = normalize_event_id(param(&p, "event_id")?).ok_or(ApiError::NotFound)?;
    let event = state.store.get_event(project.id, &event_id).await?;
    let issue_id = event.issue_id.ok_or(ApiError::NotFound)?;
    let issue = state.store.get_issue(issue_id).await?;
    let mut committers: Vec<Value> = Vec::new();
    for s in super::root_cause::suspect_commits(state.store.as_ref(), &issue, Some(&event)).await? {
        match committers.iter_mut().find(|c| c["author"] == s["author"]) {
            Some(c) => c["commits"]
                .as_array_mut()
                .into_iter()
                .for_each(|a| a.push(s["commit"].clone())),
            None => committers.push(json!({ "author": s["author"], "commits": [s["commit"]] })),
        }
    }
    Ok(Json(json!({ "committers": committers })))
}
