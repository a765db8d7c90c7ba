//! The REST API under `/api/0/`, shaped like Sentry's so existing scripts and SDK
//! tooling work against it. Every route needs a bearer token (see [`auth`]).
//!
//! Routes are absolute, so the router can be merged into the app as is. Each is served
//! with and without its trailing slash (Sentry's canonical form has one).

mod attachments;
pub mod auth;
pub mod error;
mod events;
mod issues;
mod keys;
pub mod pagination;
mod projects;
pub mod query;
pub mod serialize;
pub mod support;
mod tags;

use axum::Router;
use axum::routing::{MethodRouter, get, post};

use crate::state::AppState;
use error::ApiError;

/// Adds `path` (which ends in `/`) and the same path without the trailing slash. Other
/// methods on the path get a JSON 405 instead of axum's empty one.
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    let handler = handler.fallback(method_not_allowed);
    let router = router.route(path, handler.clone());
    match path.strip_suffix('/') {
        Some(bare) if !bare.is_empty() => router.route(bare, handler),
        _ => router,
    }
}

/// Issue routes, mounted under `/organizations/{org}/issues/{id}` and its `/issues/{id}`
/// alias; handlers read `{org}` when present.
fn issue_routes(mut r: Router<AppState>, prefix: &str) -> Router<AppState> {
    let routes: [(&str, MethodRouter<AppState>); 9] = [
        (
            "/",
            get(issues::get).put(issues::update).delete(issues::delete),
        ),
        ("/events/", get(events::list_for_issue)),
        ("/events/latest/", get(events::latest_for_issue)),
        // Sentry's "recommended" event picks a representative one; the latest is ours.
        ("/events/recommended/", get(events::latest_for_issue)),
        ("/events/oldest/", get(events::oldest_for_issue)),
        ("/events/{event_id}/", get(events::get_for_issue)),
        ("/tags/", get(tags::list)),
        ("/tags/{key}/", get(tags::get)),
        ("/tags/{key}/values/", get(tags::values)),
    ];
    for (suffix, handler) in routes {
        r = both(r, &format!("{prefix}{suffix}"), handler);
    }
    r
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

pub fn router() -> Router<AppState> {
    let project = "/api/0/projects/{org}/{project}";
    let event = "/api/0/projects/{org}/{project}/events/{event_id}";
    let mut r = Router::new();
    r = both(r, "/api/0/organizations/", get(projects::list_orgs));
    r = both(r, "/api/0/organizations/{org}/", get(projects::get_org));
    r = both(
        r,
        "/api/0/organizations/{org}/projects/",
        get(projects::list_for_org).post(projects::create),
    );
    r = both(
        r,
        "/api/0/teams/{org}/{team}/projects/",
        post(projects::create),
    );
    r = both(
        r,
        "/api/0/organizations/{org}/issues/",
        get(issues::list)
            .put(issues::bulk_update)
            .delete(issues::bulk_delete),
    );
    r = issue_routes(r, "/api/0/organizations/{org}/issues/{id}");
    r = issue_routes(r, "/api/0/issues/{id}");

    r = both(r, "/api/0/projects/", get(projects::list_all));
    r = both(
        r,
        &format!("{project}/"),
        get(projects::get)
            .put(projects::update)
            .delete(projects::delete),
    );
    r = both(
        r,
        &format!("{project}/issues/"),
        get(issues::list)
            .put(issues::bulk_update)
            .delete(issues::bulk_delete),
    );
    r = both(
        r,
        &format!("{project}/keys/"),
        get(keys::list).post(keys::create),
    );
    r = both(
        r,
        &format!("{project}/keys/{{key_id}}/"),
        get(keys::get).put(keys::update).delete(keys::delete),
    );
    r = both(r, &format!("{event}/"), get(events::get_for_project));
    r = both(r, &format!("{event}/json/"), get(events::raw_for_project));
    r = both(r, &format!("{event}/attachments/"), get(attachments::list));
    r = both(
        r,
        &format!("{event}/attachments/{{attachment_id}}/"),
        get(attachments::get),
    );

    r.route("/api/0", any_not_found())
        .route("/api/0/", any_not_found())
        .route("/api/0/{*rest}", any_not_found())
}

fn any_not_found() -> MethodRouter<AppState> {
    axum::routing::any(not_found)
}

#[cfg(test)]
mod tests;
