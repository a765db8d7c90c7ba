//! The release pages of a project: the list (health, adoption, deploys, new issues and the
//! latest gate verdict of each release) and one release in full (crash-free rates over
//! time against the previous release, deploys per environment, commits, new and regressed
//! issues, the automatic gate verdicts). Everything is read through `ReleaseStore`.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::error::UiResult;
use super::format::{Chart, DAY_MS, HOUR_MS, Series, ago, count};
use super::pages::{Nav, render};
use super::release_rows::{
    CheckRow, CommitRow, DeployRow, EnvDeploys, IssueRow, ReleaseRow, check_row, commit_row,
    crash_free_slots, deploy_row, issue_rows, percent, release_url, releases_url,
};
use super::viewer::Viewer;
use crate::clock::format_ms;
use crate::releases::health::{self, Summary};
use crate::state::AppState;
/// Each listed release costs a handful of queries, so the list shows the newest ones only.
const LIST_LIMIT: usize = 100;
/// Issues and checks shown per section of a release page.
const SECTION_LIMIT: u32 = 50;
const CHECKS_SHOWN: usize = 10;

#[derive(Template)]
#[template(path = "releases.html")]
struct ListPage {
    nav: Option<Nav>,
    title: String,
    project_name: String,
    issues_url: String,
    releases: Vec<ReleaseRow>,
    truncated: bool,
}

#[derive(Template)]
#[template(path = "release.html")]
struct ReleasePage {
    nav: Option<Nav>,
    title: String,
    version: String,
    list_url: String,
    created: String,
    created_at: String,
    released_at: String,
    sessions: String,
    users: String,
    crash_free_sessions: String,
    crash_free_users: String,
    adoption: String,
    previous: String,
    previous_url: String,
    previous_crash_free_sessions: String,
    previous_crash_free_users: String,
    chart: String,
    chart_caption: String,
    environments: Vec<EnvDeploys>,
    commits: Vec<CommitRow>,
    new_issues: Vec<IssueRow>,
    regressed_issues: Vec<IssueRow>,
    checks: Vec<CheckRow>,
}

pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let store = &state.store;
    let now = state.clock.now_ms();
    let mut releases = store.list_releases(project.id).await?;
    let truncated = releases.len() > LIST_LIMIT;
    releases.truncate(LIST_LIMIT);
    let recent_all = health::recent_sessions(store.as_ref(), project.id, now).await?;
    let new_issues: HashMap<String, i64> = store
        .count_new_issues_by_release(project.id)
        .await?
        .into_iter()
        .collect();
    let mut rows = Vec::with_capacity(releases.len());
    for r in &releases {
        let summary =
            health::summary(store.as_ref(), project.id, &r.version, recent_all, now).await?;
        let deploys = store
            .list_deploys(project.id, Some(&r.version), None)
            .await?;
        let checks = store.list_checks(project.id, &r.version).await?;
        rows.push(ReleaseRow {
            version: r.version.clone(),
            url: release_url(&project, &r.version),
            first_seen: ago(r.date_created, now),
            first_seen_at: format_ms(r.date_created),
            // Newest deploy first, like the releases themselves.
            deploys: deploys.iter().rev().map(|d| deploy_row(d, now)).collect(),
            crash_free_sessions: percent(summary.crash_free_sessions()),
            crash_free_users: percent(summary.crash_free_users()),
            adoption: percent(summary.adoption),
            sessions: count(summary.totals.total),
            new_issues: count(new_issues.get(&r.version).copied().unwrap_or(0)),
            verdict: checks.iter().find(|c| c.verdict.is_some()).map(check_row),
        });
    }
    let nav = Nav::build(&state, &viewer, Some(&project)).await?;
    render(&ListPage {
        nav: Some(nav),
        title: format!("Releases · {}", project.name),
        issues_url: format!("/orgs/{}/{}/", project.org_slug, project.slug),
        project_name: project.name,
        releases: rows,
        truncated,
    })
}

pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug, version)): Path<(String, String, String)>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let store = &state.store;
    let release = store.get_release(project.id, &version).await?;
    let now = state.clock.now_ms();
    let to = now + health::CLOCK_SLACK_MS;
    let deploys = store.list_deploys(project.id, Some(&version), None).await?;
    let previous = health::previous_release(
        store.as_ref(),
        release.project_id,
        &release.version,
        deploys.last().map(|d| d.environment.as_str()),
    )
    .await?;
    let prev = previous.as_deref();
    let recent_all = health::recent_sessions(store.as_ref(), project.id, now).await?;
    let current = health::summary(store.as_ref(), project.id, &version, recent_all, now).await?;
    // Only the previous release's rates are shown, not its adoption.
    let before = match prev {
        Some(p) => Summary {
            totals: health::totals(store.as_ref(), project.id, p, now).await?,
            adoption: None,
        },
        None => Summary::default(),
    };

    // Hourly over a day for a young release, daily over two weeks once it is older.
    let (interval, slots, caption) = if now - release.date_created <= 2 * DAY_MS {
        (HOUR_MS, 24, "last 24 hours, hourly")
    } else {
        (DAY_MS, 14, "last 14 days, daily")
    };
    let from = (now / interval) * interval - interval * (slots as i64 - 1);
    let mut series = vec![Series {
        class: "bar",
        values: crash_free_slots(
            &store
                .session_buckets(&health::scope(project.id, Some(&version), None, from, to))
                .await?,
            from,
            interval,
            slots,
        ),
    }];
    if let Some(p) = prev {
        let buckets = store
            .session_buckets(&health::scope(project.id, Some(p), None, from, to))
            .await?;
        series.push(Series {
            class: "prev",
            values: crash_free_slots(&buckets, from, interval, slots),
        });
    }
    let chart = Chart {
        width: 560,
        height: 80,
        class: "chart",
        aria: "crash-free sessions over time",
        max: Some(1000),
    }
    .svg(&series, &|v| format!("{:.1}% crash-free", v as f64 / 10.0));

    let mut by_env: BTreeMap<String, Vec<DeployRow>> = BTreeMap::new();
    for d in deploys.iter().rev() {
        by_env
            .entry(d.environment.clone())
            .or_default()
            .push(deploy_row(d, now));
    }
    let commits = store.list_release_commits(project.id, &version).await?;
    let new_issues = store
        .list_release_issues(project.id, &version, false, SECTION_LIMIT)
        .await?;
    let regressed = store
        .list_release_issues(project.id, &version, true, SECTION_LIMIT)
        .await?;
    let checks = store.list_checks(project.id, &version).await?;
    let nav = Nav::build(&state, &viewer, Some(&project)).await?;
    render(&ReleasePage {
        nav: Some(nav),
        title: format!("Release {version}"),
        list_url: releases_url(&project),
        created: ago(release.date_created, now),
        created_at: format_ms(release.date_created),
        released_at: release.date_released.map(format_ms).unwrap_or_default(),
        sessions: count(current.totals.total),
        users: count(current.totals.users),
        crash_free_sessions: percent(current.crash_free_sessions()),
        crash_free_users: percent(current.crash_free_users()),
        adoption: percent(current.adoption),
        previous_url: prev.map(|p| release_url(&project, p)).unwrap_or_default(),
        previous_crash_free_sessions: percent(before.crash_free_sessions()),
        previous_crash_free_users: percent(before.crash_free_users()),
        previous: previous.clone().unwrap_or_default(),
        chart,
        chart_caption: caption.to_string(),
        environments: by_env
            .into_iter()
            .map(|(environment, deploys)| EnvDeploys {
                environment,
                deploys,
            })
            .collect(),
        commits: commits.into_iter().map(commit_row).collect(),
        new_issues: issue_rows(&project, new_issues),
        regressed_issues: issue_rows(&project, regressed),
        checks: checks.iter().take(CHECKS_SHOWN).map(check_row).collect(),
        version,
    })
}
