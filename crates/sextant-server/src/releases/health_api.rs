//! Release health endpoints: a release's page data (details, health over a period with
//! a series against the previous release, adoption), the deploy gate on demand, the
//! stored automatic verdicts, and the project's gate thresholds.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use sextant_storage::SessionBucket;

use super::config::GateSettings;
use super::gate::{self, Baseline, CheckRequest, GateError};
use super::health::{self, DAY_MS, HOUR_MS};
use super::serialize::health_json;
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::pagination::Params;
use crate::api::query::{check_period, parse_stats_period};
use crate::api::support::{PathParams, param, parse_body, path_project};
use crate::clock::format_ms;
use crate::state::AppState;

/// `statsPeriod` (default 24h) as `(from, to)`.
fn period(params: &Params, now: i64) -> ApiResult<(i64, i64)> {
    let len = match params.get("statsPeriod") {
        Some(raw) => parse_stats_period(raw)
            .map_err(ApiError::BadRequest)?
            .unwrap_or(DAY_MS),
        None => DAY_MS,
    };
    Ok((now - len, now + health::CLOCK_SLACK_MS))
}

/// Crash-free sessions per interval, as JSON.
fn series(buckets: &[SessionBucket], from: i64, to: i64, interval: i64) -> Vec<Value> {
    health::slots(buckets, from, to, interval)
        .iter()
        .map(|slot| {
            json!({
                "time": format_ms(slot.start),
                "sessions": slot.total,
                "crashed": slot.crashed,
                "errored": slot.errored,
                "crashFreeSessions": slot.crash_free(),
            })
        })
        .collect()
}

/// `GET /projects/{org}/{project}/releases/{version}/health/?environment=&statsPeriod=`.
pub async fn health(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let version = param(&p, "version")?;
    state.store.get_release(project.id, version).await?;
    let params = Params::parse(q.as_deref());
    let env = params.get("environment").map(str::to_string);
    let (from, to) = period(&params, state.clock.now_ms())?;
    let scope =
        |release: Option<&str>| health::scope(project.id, release, env.as_deref(), from, to);
    let totals = state.store.session_totals(&scope(Some(version))).await?;
    let all = state.store.session_totals(&scope(None)).await?;
    let events = state.store.event_counts(&scope(Some(version))).await?;
    let interval = if to - from <= 2 * DAY_MS {
        HOUR_MS
    } else {
        DAY_MS
    };
    let buckets = state.store.session_buckets(&scope(Some(version))).await?;
    let previous =
        health::previous_release(state.store.as_ref(), project.id, version, env.as_deref()).await?;
    let previous_series = match &previous {
        Some(prev) => {
            let b = state.store.session_buckets(&scope(Some(prev))).await?;
            Some(series(&b, from, to, interval))
        }
        None => None,
    };
    let mut body = health_json(&totals);
    body["release"] = json!(version);
    body["environment"] = json!(env);
    body["start"] = json!(format_ms(from));
    body["end"] = json!(format_ms(to));
    body["adoption"] = json!(health::share(totals.total, all.total));
    body["events"] = json!(events.events);
    body["unhandledEvents"] = json!(events.unhandled_events);
    body["eventsPerSession"] =
        json!((totals.total > 0).then(|| events.events as f64 / totals.total as f64));
    body["newIssues"] = json!(
        events
            .new_issues
            .iter()
            .map(|(id, n, users)| json!({ "id": id.to_string(), "events": n, "users": users }))
            .collect::<Vec<_>>()
    );
    body["series"] = json!(series(&buckets, from, to, interval));
    body["previousRelease"] = json!(previous);
    body["previousSeries"] = json!(previous_series);
    Ok(Json(body))
}

/// `GET /projects/{org}/{project}/releases/{version}/health-check/?environment=&baseline=&window=`:
/// the deploy gate. `window` is in seconds or with a unit (`30m`, `2h`).
pub async fn health_check(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let params = Params::parse(q.as_deref());
    let window_ms = match params.get("window") {
        None | Some("") => i64::try_from(state.config.releases.window_secs).unwrap_or(1800) * 1000,
        Some(raw) => parse_window(raw).map_err(ApiError::BadRequest)?,
    };
    let req = CheckRequest {
        release: param(&p, "version")?.to_string(),
        environment: params.get("environment").unwrap_or("").to_string(),
        baseline: Baseline::parse(params.get("baseline")),
        window_ms,
        now: state.clock.now_ms(),
    };
    let settings = gate::settings(state.store.as_ref(), project.id).await?;
    match gate::check(state.store.as_ref(), &project, &req, &settings).await {
        Ok(report) => Ok(Json(report)),
        Err(GateError::UnknownRelease(_)) => Err(ApiError::NotFound),
        Err(GateError::UnknownBaseline(v)) => Err(ApiError::bad_request(format!(
            "unknown baseline release {v:?}"
        ))),
        Err(GateError::Store(e)) => Err(e.into()),
    }
}

/// `30m`, `2h`, `1d`, `90s` or plain seconds, in milliseconds, at most [`MAX_PERIOD`].
pub fn parse_window(raw: &str) -> Result<i64, String> {
    let bad = || format!("invalid window {raw:?}: expected e.g. 1800, 30m or 2h");
    let raw = raw.trim();
    let (num, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => raw.split_at(i),
        None => (raw, "s"),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(unit_secs * 1000)
        .filter(|ms| *ms > 0)
        .ok_or_else(bad)?;
    check_period("window", raw, ms)
}

/// `GET /projects/{org}/{project}/releases/{version}/`: the release page's data.
pub async fn details(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let version = param(&p, "version")?;
    let release = state.store.get_release(project.id, version).await?;
    let mut body = super::api::view(&state, &release, std::slice::from_ref(&project)).await?;
    let deploys = state
        .store
        .list_deploys(project.id, Some(version), None)
        .await?;
    let mut by_env: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in &deploys {
        by_env
            .entry(d.environment.clone())
            .or_default()
            .push(super::serialize::deploy_json(d));
    }
    let commits = state
        .store
        .list_release_commits(project.id, version)
        .await?;
    let now = state.clock.now_ms();
    let totals = health::totals(state.store.as_ref(), project.id, version, now).await?;
    body["deploysByEnvironment"] = json!(by_env);
    body["commits"] = json!(
        commits
            .iter()
            .map(super::serialize::commit_json)
            .collect::<Vec<_>>()
    );
    body["healthData"] = health_json(&totals);
    body["gateChecks"] = checks_json(&state, project.id, version).await?;
    Ok(Json(body))
}

async fn checks_json(state: &AppState, project_id: i64, version: &str) -> ApiResult<Value> {
    let checks = state.store.list_checks(project_id, version).await?;
    Ok(json!(
        checks
            .iter()
            .map(|c| json!({
                "id": c.id.to_string(),
                "environment": c.environment,
                "deployId": c.deploy_id.map(|d| d.to_string()),
                "dueAt": format_ms(c.due_at),
                "ranAt": c.run_at.map(format_ms),
                "verdict": c.verdict,
                "report": c.report.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
            }))
            .collect::<Vec<_>>()
    ))
}

/// `GET /projects/{org}/{project}/releases/{version}/checks/`: automatic verdicts.
pub async fn checks(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let version = param(&p, "version")?;
    state.store.get_release(project.id, version).await?;
    Ok(Json(checks_json(&state, project.id, version).await?))
}

/// `DELETE /projects/{org}/{project}/releases/{version}/`.
pub async fn delete(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<StatusCode> {
    let project = path_project(&state, &p).await?;
    state
        .store
        .delete_release(project.id, param(&p, "version")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /projects/{org}/{project}/release-gate/`: thresholds in effect.
pub async fn get_settings(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let s = gate::settings(state.store.as_ref(), project.id).await?;
    Ok(Json(json!(s)))
}

/// `PUT /projects/{org}/{project}/release-gate/`: fields left out keep their defaults.
pub async fn put_settings(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let project = path_project(&state, &p).await?;
    let s: GateSettings = parse_body(&body)?;
    let text = serde_json::to_string(&s).map_err(|e| ApiError::Internal(e.to_string()))?;
    state.store.set_gate_settings(project.id, &text).await?;
    Ok(Json(json!(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::query::MAX_PERIOD;

    #[test]
    fn windows_are_bounded() {
        assert_eq!(parse_window("1800"), Ok(1_800_000));
        assert_eq!(parse_window("30m"), Ok(1_800_000));
        assert_eq!(parse_window("90d"), Ok(MAX_PERIOD));
        for bad in ["", "0", "-5m", "2y", "m", "99999999999999999999"] {
            assert!(
                parse_window(bad).unwrap_err().contains("invalid window"),
                "{bad}"
            );
        }
        for long in ["91d", "9999999999d", "3000h"] {
            assert!(
                parse_window(long).unwrap_err().contains("maximum is 90d"),
                "{long}"
            );
        }
    }
}
