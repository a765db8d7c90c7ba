//! The alerting endpoints: Sentry's issue alert rules, internal integrations
//! (`sentry-apps`) and the legacy webhooks plugin, with the same paths, bodies and
//! validation as Sentry; and Sextant's channels, delivery log and users' alert email
//! choice.

mod apps;
mod channels;
mod deliveries;
mod incidents;
mod metric_query;
pub(crate) mod metric_rules;
mod notification_options;
mod plugins;
mod rules;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    let rules = "/api/0/projects/{org}/{project}/rules";
    let org = "/api/0/organizations/{org}";
    Router::new()
        .route(&format!("{rules}/"), get(rules::list).post(rules::create))
        .route(
            &format!("{rules}/{{rule_id}}/"),
            get(rules::detail).put(rules::update).delete(rules::delete),
        )
        .route("/api/0/sentry-apps/", post(apps::create))
        .route(
            "/api/0/sentry-apps/{slug}/",
            get(apps::detail).put(apps::update).delete(apps::delete),
        )
        .route(&format!("{org}/sentry-apps/"), get(apps::list))
        .route(
            &format!("{org}/sentry-app-installations/"),
            get(apps::installations),
        )
        .route(
            "/api/0/projects/{org}/{project}/plugins/webhooks/",
            get(plugins::detail)
                .put(plugins::configure)
                .post(plugins::enable)
                .delete(plugins::disable),
        )
        .route(
            &format!("{org}/alert-channels/"),
            get(channels::list).post(channels::create),
        )
        .route(
            &format!("{org}/alert-channels/{{id}}/"),
            get(channels::detail)
                .put(channels::update)
                .delete(channels::delete),
        )
        .route(
            &format!("{org}/alert-channels/{{id}}/test/"),
            post(channels::send_test),
        )
        .route(
            &format!("{org}/alert-rules/"),
            get(metric_rules::list).post(metric_rules::create),
        )
        .route(
            &format!("{org}/alert-rules/{{rule_id}}/"),
            get(metric_rules::detail)
                .put(metric_rules::update)
                .delete(metric_rules::delete),
        )
        .route(&format!("{org}/incidents/"), get(incidents::list))
        .route(
            &format!("{org}/incidents/{{identifier}}/"),
            get(incidents::detail),
        )
        .route(
            "/api/0/users/me/notification-options/",
            get(notification_options::detail).put(notification_options::update),
        )
        .route(&format!("{org}/alert-deliveries/"), get(deliveries::list))
        .route(
            &format!("{org}/alert-deliveries/{{id}}/"),
            get(deliveries::detail),
        )
        .route(
            &format!("{org}/alert-deliveries/{{id}}/redeliver/"),
            post(deliveries::redeliver),
        )
}

/// A webhook URL as users give it: absolute http(s) with a host. Where it may connect is
/// decided when sending (the outbound policy), since DNS can change.
fn check_url(field: &str, raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("{field}: not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{field}: must be an http or https URL with a host"));
    }
    if raw.len() > 2048 {
        return Err(format!("{field}: at most 2048 characters"));
    }
    Ok(url.to_string())
}
