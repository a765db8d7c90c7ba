//! Releases and release health: session rollups turned into crash-free rates, the
//! `sentry-cli`-compatible release, deploy and commit endpoints, root cause (first
//! release and deploy, regressions, suspect commits), and the post-deploy gate, on demand
//! (`health-check/`, `sextant release check`) and automatically after each deploy.
//!
//! Sessions are reduced to rollups in the pipeline (`pipeline::sessions`); everything
//! here reads them through `ReleaseStore`.

pub mod api;
pub mod config;
pub mod gate;
pub mod health;
pub mod health_api;
pub mod root_cause;
pub mod scheduler;
pub mod serialize;
pub mod stats;
pub mod verdict;

use axum::Router;
use axum::routing::{MethodRouter, get};

pub use config::{GateSettings, ReleasesConfig};

use crate::state::AppState;

/// Adds `path` (ending in `/`) and the same path without its trailing slash.
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    let router = router.route(path, handler.clone());
    match path.strip_suffix('/') {
        Some(bare) if !bare.is_empty() => router.route(bare, handler),
        _ => router,
    }
}

pub fn router() -> Router<AppState> {
    let org = "/api/0/organizations/{org}/releases";
    let project = "/api/0/projects/{org}/{project}/releases";
    let routes: Vec<(String, MethodRouter<AppState>)> = vec![
        (format!("{org}/"), get(api::org_list).post(api::org_create)),
        (
            format!("{org}/{{version}}/"),
            get(api::org_get)
                .put(api::org_update)
                .delete(api::org_delete),
        ),
        (
            format!("{org}/{{version}}/deploys/"),
            get(api::deploy_list).post(api::deploy_create),
        ),
        (format!("{org}/{{version}}/commits/"), get(api::commit_list)),
        (
            format!("{org}/{{version}}/previous-with-commits/"),
            get(api::previous_with_commits),
        ),
        ("/api/0/organizations/{org}/repos/".into(), get(api::repos)),
        (
            format!("{project}/"),
            get(api::project_list).post(api::project_create),
        ),
        (
            format!("{project}/{{version}}/"),
            get(health_api::details).delete(health_api::delete),
        ),
        (
            format!("{project}/{{version}}/health/"),
            get(health_api::health),
        ),
        (
            format!("{project}/{{version}}/health-check/"),
            get(health_api::health_check),
        ),
        (
            format!("{project}/{{version}}/checks/"),
            get(health_api::checks),
        ),
        (
            "/api/0/projects/{org}/{project}/release-gate/".into(),
            get(health_api::get_settings).put(health_api::put_settings),
        ),
        (
            "/api/0/projects/{org}/{project}/events/{event_id}/committers/".into(),
            get(api::committers),
        ),
    ];
    let mut r = Router::new();
    for (path, handler) in routes {
        r = both(r, &path, handler);
    }
    r
}
