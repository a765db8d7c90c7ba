//! The web console: server-rendered pages (askama templates, HTML-escaped by default),
//! session sign-in, and a live stream of processed events. Everything it serves is in the
//! binary: templates are compiled in and `assets/` is embedded with `include_str!`.
//!
//! Security rules that hold for every page: a strict Content-Security-Policy (scripts and
//! styles only from `/static/`, nothing inline), every state-changing request is a POST
//! that passes the cross-site check and carries the session's CSRF token, and every
//! organization-scoped route answers 404 to non-members.

mod account;
mod alert_channels;
mod alert_deliveries;
mod alert_metric;
mod alert_rules;
mod alert_targets;
mod error;
mod event_view;
mod format;
mod invite;
mod issue;
mod issues;
mod live;
mod pages;
mod release_rows;
mod releases;
mod settings;
mod setup;
mod snippets;
mod viewer;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::AppState;

pub use error::UiError;
pub use live::RECHECK_INTERVAL as LIVE_RECHECK_INTERVAL;

/// No inline script or style anywhere, no framing, forms only to ourselves.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    let project = "/orgs/{org}/{project}";
    Router::new()
        .route("/", get(pages::home))
        .route("/setup", get(setup::setup_form).post(setup::setup))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route(
            "/invite/{token}",
            get(invite::invite_form).post(invite::invite_accept),
        )
        .route("/account", get(account::account))
        .route("/account/password", post(account::change_password))
        .route("/account/tokens", post(account::create_token))
        .route("/account/alert-email", post(account::set_alert_email))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/orgs/{org}/settings", get(settings::org))
        .route("/orgs/{org}/members", post(settings::member_action))
        .route("/orgs/{org}/invites", post(settings::invite_action))
        .route("/orgs/{org}/projects", post(settings::create_project))
        .route(
            "/orgs/{org}/alerts/channels",
            get(alert_channels::list).post(alert_channels::create),
        )
        .route(
            "/orgs/{org}/alerts/channels/{id}/delete",
            post(alert_channels::delete),
        )
        .route(
            "/orgs/{org}/alerts/channels/{id}/test",
            post(alert_channels::send_test),
        )
        .route("/orgs/{org}/alerts/deliveries", get(alert_deliveries::list))
        .route(
            "/orgs/{org}/alerts/deliveries/{id}",
            get(alert_deliveries::detail),
        )
        .route(
            "/orgs/{org}/alerts/deliveries/{id}/redeliver",
            post(alert_deliveries::redeliver),
        )
        .route(&format!("{project}/"), get(issues::list))
        .route(&format!("{project}/bulk"), post(issues::bulk))
        .route(&format!("{project}/live"), get(live::stream))
        .route(&format!("{project}/issues/{{id}}/"), get(issue::detail))
        .route("/organizations/{org}/issues/{id}/", get(issue::permalink))
        .route(
            &format!("{project}/issues/{{id}}/action"),
            post(issue::action),
        )
        .route(
            &format!("{project}/events/{{event_id}}/json"),
            get(issue::raw_json),
        )
        .route(
            &format!("{project}/events/{{event_id}}/attachments/{{attachment_id}}"),
            get(issue::attachment),
        )
        .route(&format!("{project}/releases/"), get(releases::list))
        .route(
            &format!("{project}/releases/{{version}}/"),
            get(releases::detail),
        )
        .route(&format!("{project}/alerts/"), get(alert_rules::list))
        .route(
            &format!("{project}/alerts/rules"),
            post(alert_rules::create),
        )
        .route(
            &format!("{project}/alerts/rules/{{id}}/delete"),
            post(alert_rules::delete),
        )
        .route(&format!("{project}/settings"), get(settings::project))
        .route(&format!("{project}/keys"), post(settings::key_action))
        .route(&format!("{project}/origins"), post(settings::set_origins))
        .route("/static/{name}", get(asset))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show private data; only the static assets may be cached.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The embedded static files.
fn asset_bytes(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "app.css" => ("text/css; charset=utf-8", include_str!("assets/app.css")),
        "app.js" => (
            "text/javascript; charset=utf-8",
            include_str!("assets/app.js"),
        ),
        "favicon.svg" => ("image/svg+xml", include_str!("assets/favicon.svg")),
        _ => return None,
    })
}

async fn asset(Path(name): Path<String>) -> Response {
    match asset_bytes(&name) {
        Some((mime, body)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
