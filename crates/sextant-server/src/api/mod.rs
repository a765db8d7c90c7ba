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
mod tests {
    //! The router as the server mounts it: routes answer with and without their trailing
    //! slash, other paths and methods get JSON errors, and the ingest routes merge in.

    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use sextant_storage::TokenScope;
    use tower::ServiceExt;

    use super::router;
    use crate::config::Config;
    use crate::pipeline::{Pipeline, Progress};
    use crate::state::AppState;

    /// A state on an in-memory store with the default project, and an admin token.
    async fn state() -> (AppState, String) {
        let store = sextant_storage::open("sqlite::memory:")
            .await
            .expect("store");
        store.bootstrap_default().await.expect("bootstrap");
        let token = crate::accounts::token::generate_token();
        let hash = crate::accounts::token::hash_token(&token);
        store
            .create_token(&hash, TokenScope::Admin, "test")
            .await
            .expect("token");
        let config = Config::default();
        let metrics = crate::metrics::Metrics::new();
        let live = crate::pipeline::notice::live_channel();
        let (_, pipeline) = Pipeline::start(
            store.clone(),
            &config.pipeline,
            metrics.clone(),
            live.clone(),
            crate::disk::DiskGuard::new(None, 0),
            Progress::new(),
        );
        let state = AppState {
            config: Arc::new(config),
            clock: store.clock(),
            store,
            pipeline,
            metrics,
            rate_limiter: Arc::new(crate::rate_limit::RateLimiter::new()),
            decode_budget: crate::memory_budget::MemoryBudget::new(1 << 20),
            bound: "127.0.0.1:9000".parse().unwrap(),
            live,
            login_throttle: Arc::new(crate::accounts::throttle::LoginThrottle::new()),
            alert_deliveries: Arc::new(tokio::sync::Notify::new()),
        };
        (state, format!("Bearer {token}"))
    }

    /// Sends a request; returns the status and the body as JSON (`Null` if it is not).
    async fn call(app: &Router, method: &str, path: &str, auth: &str) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if !auth.is_empty() {
            request = request.header("Authorization", auth);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn routes_answer_with_and_without_the_trailing_slash() {
        let (state, bearer) = state().await;
        let app = router().with_state(state);
        for path in ["/api/0/projects/", "/api/0/projects"] {
            let (status, body) = call(&app, "GET", path, &bearer).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            assert_eq!(body[0]["slug"], "default", "GET {path}: {body}");
            let (status, body) = call(&app, "GET", path, "").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "GET {path}: {body}");
        }
        let (status, body) = call(&app, "GET", "/api/0/no-such-route/", &bearer).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(body["detail"].is_string(), "a JSON error: {body}");
        let (status, body) = call(&app, "PATCH", "/api/0/projects/", &bearer).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(body["detail"].is_string(), "a JSON error: {body}");
    }

    #[tokio::test]
    async fn the_ingest_routes_merge_in_and_keep_their_handlers() {
        let (state, bearer) = state().await;
        let ingest: Router<AppState> = Router::new()
            .route("/api/{project_id}/envelope/", post(|| async { "envelope" }))
            .route("/api/{project_id}/store/", post(|| async { "store" }));
        let app = router().merge(ingest).with_state(state);
        for (path, answer) in [("/api/1/envelope/", "envelope"), ("/api/1/store/", "store")] {
            let response = app
                .clone()
                .oneshot(Request::post(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "POST {path}");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, answer.as_bytes(), "POST {path}");
        }
        let (status, body) = call(&app, "GET", "/api/0/projects/", &bearer).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
