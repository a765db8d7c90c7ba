//! The console's metric alerts on a project's alert page: the crash-free template, which
//! builds Sentry's metric alert body and saves it through the API's own checks, and the
//! list of the project's metric rules with their open incident.

use serde_json::{Value, json};
use sextant_storage::{Organization, Project, StoreError, incident_status};

use super::viewer::Form;
use crate::alerts::api::metric_rules::new_metric_rule;
use crate::state::AppState;

/// Sentry's alias for a crash-free sessions alert.
const CRASH_FREE_SESSIONS: &str =
    "percentage(sessions_crashed, sessions) AS _crash_rate_alert_aggregate";

/// A project's metric rule as the alert page shows it.
pub struct MetricRow {
    pub name: String,
    pub condition: String,
    /// `critical`, `warning`, or empty when no incident is open.
    pub incident: String,
}

/// The metric action for a form's `action` choice; the legacy plugin has none.
fn metric_action(choice: &str) -> Result<Value, String> {
    if let Some(uuid) = choice.strip_prefix("app:") {
        return Ok(json!({
            "type": "sentry_app", "targetType": "sentry_app", "targetIdentifier": null,
            "sentryAppInstallationUuid": uuid,
        }));
    }
    if let Some(id) = choice.strip_prefix("channel:") {
        return Ok(
            json!({"type": "sextant_channel", "targetType": "specific", "targetIdentifier": id}),
        );
    }
    Err("A crash-free alert goes to an integration or a channel, not the webhooks plugin.".into())
}

/// Sentry's metric alert body of the crash-free template: critical when crash-free
/// sessions fall below the threshold over an hour, resolved a point above it.
pub fn crash_free_body(form: &Form, project: &Project) -> Result<Value, String> {
    let threshold: f64 = form
        .text("threshold")
        .parse()
        .map_err(|_| "The crash-free threshold is a percentage, such as 99.5.".to_string())?;
    let action = metric_action(form.text("action"))?;
    let name = match form.text("name") {
        "" => format!("Crash-free sessions below {threshold}%"),
        name => name.to_string(),
    };
    Ok(json!({
        "name": name,
        "projects": [project.slug],
        "dataset": "metrics",
        "aggregate": CRASH_FREE_SESSIONS,
        "query": "",
        "timeWindow": 60,
        "thresholdType": 1,
        "resolveThreshold": (threshold + 1.0).min(100.0),
        "triggers": [{"label": "critical", "alertThreshold": threshold, "actions": [action]}],
    }))
}

/// Saves the crash-free template's rule; `Err` says why it was refused.
pub async fn create_crash_free(
    state: &AppState,
    org: &Organization,
    project: &Project,
    form: &Form,
    created_by: String,
) -> Result<Result<(), String>, StoreError> {
    let body = match crash_free_body(form, project) {
        Ok(body) => body,
        Err(why) => return Ok(Err(why)),
    };
    let new = match new_metric_rule(state, org, Some(created_by), body).await {
        Ok(Ok(new)) => new,
        Ok(Err(err)) => return Ok(Err(format!("Not saved: {err}"))),
        Err(err) => return Ok(Err(format!("Not saved: {err}"))),
    };
    state.store.create_metric_rule(&new).await?;
    Ok(Ok(()))
}

/// The organization's metric rules that watch the project.
pub async fn rows(state: &AppState, project: &Project) -> Result<Vec<MetricRow>, StoreError> {
    let mut out = Vec::new();
    for rule in state.store.list_metric_rules(project.org_id).await? {
        if !rule.project_ids.contains(&project.id) {
            continue;
        }
        let aggregate = rule.spec["aggregate"].as_str().unwrap_or_default();
        let what = if aggregate.contains("_crash_rate_alert_aggregate") {
            "crash-free rate"
        } else {
            aggregate
        };
        let below = rule.spec["thresholdType"] == json!(1);
        let side = if below { "below" } else { "above" };
        let condition = rule
            .triggers
            .iter()
            .map(|t| {
                let threshold = &t.spec["alertThreshold"];
                format!("{}: {what} {side} {threshold}", t.label)
            })
            .collect::<Vec<_>>()
            .join("; ");
        let incident = state
            .store
            .open_incident(rule.id)
            .await?
            .map(|i| match i.status {
                incident_status::CRITICAL => "critical".to_string(),
                incident_status::WARNING => "warning".to_string(),
                _ => "open".to_string(),
            })
            .unwrap_or_default();
        out.push(MetricRow {
            name: rule.name,
            condition,
            incident,
        });
    }
    Ok(out)
}
