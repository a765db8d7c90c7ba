//! The deploy gate against stored data: finds the candidate's window (from its deploy to
//! the environment), the baseline (the release deployed there before it, or one named),
//! collects both samples over matched windows and lets `verdict::decide` judge.

use serde_json::{Value, json};
use sextant_storage::{HealthScope, Millis, Project, Store, StoreError};

use super::config::GateSettings;
use super::verdict::{Sample, Verdict, decide};
use crate::clock::format_ms;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("unknown release {0:?}")]
    UnknownRelease(String),
    #[error("unknown baseline release {0:?}")]
    UnknownBaseline(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// The release deployed to the environment before the candidate.
    Auto,
    Version(String),
}

impl Baseline {
    pub fn parse(raw: Option<&str>) -> Baseline {
        match raw {
            None | Some("") | Some("auto") => Baseline::Auto,
            Some(v) => Baseline::Version(v.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub release: String,
    pub environment: String,
    pub baseline: Baseline,
    pub window_ms: Millis,
    pub now: Millis,
}

/// Loads the project's thresholds; a stored object that no longer parses means defaults.
pub async fn settings(store: &dyn Store, project_id: i64) -> Result<GateSettings, StoreError> {
    Ok(store
        .gate_settings(project_id)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// When `version` went live in `env` as of `before`: its latest deploy finished by then,
/// else its first deploy, else when it was finalized or first seen.
async fn went_live(
    store: &dyn Store,
    project_id: i64,
    version: &str,
    env: &str,
    before: Millis,
) -> Result<Option<Millis>, StoreError> {
    let deploys = store
        .list_deploys(project_id, Some(version), Some(env))
        .await?;
    if let Some(d) = deploys.iter().rev().find(|d| d.date_finished <= before) {
        return Ok(Some(d.date_finished));
    }
    if let Some(d) = deploys.first() {
        return Ok(Some(d.date_finished));
    }
    match store.get_release(project_id, version).await {
        Ok(r) => Ok(Some(r.date_released.unwrap_or(r.date_created))),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn sample(
    store: &dyn Store,
    project_id: i64,
    version: &str,
    env: &str,
    from: Millis,
    to: Millis,
) -> Result<Sample, StoreError> {
    let scope = HealthScope {
        project_id,
        release: Some(version.to_string()),
        environment: Some(env.to_string()),
        from,
        to,
    };
    let sessions = store.session_totals(&scope).await?;
    let events = store.event_counts(&scope).await?;
    Ok(Sample {
        sessions: sessions.total,
        crashed: sessions.crashed,
        errored: sessions.errored,
        events: events.events,
        unhandled_events: events.unhandled_events,
        new_issue_events: events.new_issues.iter().map(|(_, n, _)| n).sum(),
        new_issue_users: events.new_issues.iter().map(|(_, _, u)| u).sum(),
        new_issues: events.new_issues.len() as i64,
        minutes: (to - from).max(0) as f64 / 60_000.0,
    })
}

fn window_json(from: Millis, to: Millis) -> Value {
    json!({
        "start": format_ms(from),
        "end": format_ms(to),
        "seconds": (to - from).max(0) / 1000,
    })
}

/// Runs the gate; the report is what the API serves and the CLI prints.
pub async fn check(
    store: &dyn Store,
    project: &Project,
    req: &CheckRequest,
    settings: &GateSettings,
) -> Result<Value, GateError> {
    let env = req.environment.as_str();
    match store.get_release(project.id, &req.release).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(GateError::UnknownRelease(req.release.clone())),
        Err(e) => return Err(e.into()),
    }
    let live = went_live(store, project.id, &req.release, env, req.now)
        .await?
        .unwrap_or(req.now);
    let end = (live + req.window_ms).min(req.now).max(live);
    let complete = req.now >= live + req.window_ms;
    let candidate = sample(store, project.id, &req.release, env, live, end).await?;

    let baseline_version = match &req.baseline {
        Baseline::Version(v) => {
            if store.get_release(project.id, v).await.is_err() {
                return Err(GateError::UnknownBaseline(v.clone()));
            }
            Some(v.clone())
        }
        Baseline::Auto => store
            .list_deploys(project.id, None, Some(env))
            .await?
            .into_iter()
            .rev()
            .find(|d| d.date_finished < live && d.version != req.release)
            .map(|d| d.version),
    };
    let mut baseline = None;
    if let Some(version) = &baseline_version {
        let since = went_live(store, project.id, version, env, live)
            .await?
            .unwrap_or(live);
        // The baseline's last full window before the candidate went live; a baseline
        // that went live later (an explicit older one, redeployed) uses its own window.
        let (from, to) = if since < live {
            (since.max(live - req.window_ms), live)
        } else {
            (since, since + req.window_ms)
        };
        let s = sample(store, project.id, version, env, from, to).await?;
        baseline = Some((s, from, to));
    }

    let decision = decide(&candidate, baseline.as_ref().map(|(s, _, _)| s), settings);
    let mut reasons: Vec<String> = decision
        .signals
        .iter()
        .map(|s| format!("{}: {}", s.name, s.reason))
        .collect();
    if baseline_version.is_none() {
        reasons.insert(
            0,
            format!("no baseline: no other release was deployed to {env:?} before this one"),
        );
    }
    let headline = match decision.verdict {
        Verdict::Healthy => format!(
            "HEALTHY: {} in {env} is no worse than its baseline",
            req.release
        ),
        Verdict::Regressed => format!("REGRESSED: roll back {} in {env}", req.release),
        Verdict::Inconclusive => format!(
            "INCONCLUSIVE: not enough data yet for {} in {env}",
            req.release
        ),
    };
    Ok(json!({
        "verdict": decision.verdict.as_str(),
        "exitCode": decision.verdict.exit_code(),
        "summary": headline,
        "reasons": reasons,
        "project": project.slug,
        "release": req.release,
        "environment": env,
        "baseline": baseline_version,
        "window": window_json(live, end),
        "complete": complete,
        "baselineWindow": baseline.as_ref().map(|(_, from, to)| window_json(*from, *to)),
        "candidate": candidate,
        "baselineSample": baseline.as_ref().map(|(s, _, _)| s),
        "signals": decision.signals,
        "settings": settings,
        "checkedAt": format_ms(req.now),
    }))
}
