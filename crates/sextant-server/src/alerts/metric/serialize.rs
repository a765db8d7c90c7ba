//! Metric rules and incidents in Sentry's shapes: the API's camelCase
//! (`DetailedAlertRuleSerializer`, `IncidentSerializer`) and the snake_case the
//! `metric_alert` webhook carries.

use serde_json::{Map, Value, json};
use sextant_storage::{Incident, IncidentActivity, MetricRule};

use super::spec::MetricSpec;
use super::triggers::actions_json;
use crate::clock::format_ms;

/// Sentry's `AlertRuleStatus.PENDING`, which is what an active rule shows.
const ACTIVE: i64 = 0;
/// Sentry's `IncidentType.ALERT_TRIGGERED`.
const ALERT_TRIGGERED: i64 = 2;

/// A rule as the API shows it. `projects` are the slugs of its projects.
pub fn rule_json(rule: &MetricRule, spec: &MetricSpec, projects: &[String]) -> Value {
    let created = format_ms(rule.created_at);
    let triggers: Vec<Value> = rule
        .triggers
        .iter()
        .filter_map(|stored| {
            let trigger = spec
                .triggers
                .iter()
                .find(|t| t.label.as_str() == stored.label)?;
            let created = format_ms(stored.created_at);
            Some(json!({
                "id": stored.id.to_string(),
                "alertRuleId": rule.id.to_string(),
                "label": stored.label,
                "thresholdType": spec.direction.as_sentry(),
                "alertThreshold": trigger.alert_threshold,
                "resolveThreshold": spec.resolve_threshold,
                "dateCreated": created,
                "actions": actions_json(stored.id, &trigger.actions, &created),
            }))
        })
        .collect();
    let mut projects = projects.to_vec();
    projects.sort();
    json!({
        "id": rule.id.to_string(),
        "name": rule.name,
        "organizationId": rule.org_id.to_string(),
        "status": ACTIVE,
        "queryType": spec.aggregate.query_type(),
        "dataset": spec.dataset,
        "query": spec.query,
        "aggregate": spec.aggregate.as_sentry(),
        "thresholdType": spec.direction.as_sentry(),
        "resolveThreshold": spec.resolve_threshold,
        "timeWindow": spec.time_window as f64,
        "environment": spec.environment,
        "resolution": 1.0,
        "thresholdPeriod": spec.threshold_period,
        "triggers": triggers,
        "projects": projects,
        "owner": spec.owner,
        "originalAlertRuleId": Value::Null,
        "comparisonDelta": Value::Null,
        "dateModified": format_ms(rule.updated_at),
        "dateCreated": created,
        "createdBy": rule.created_by.as_ref().map(|email| json!({"email": email, "name": email})),
        "description": spec.description,
        "sensitivity": Value::Null,
        "seasonality": Value::Null,
        "detectionType": "static",
        "eventTypes": spec.event_types,
        "snooze": false,
    })
}

pub fn activity_json(incident: &Incident, activity: &IncidentActivity) -> Value {
    json!({
        "id": activity.id.to_string(),
        "incidentIdentifier": incident.identifier.to_string(),
        "user": Value::Null,
        "type": activity.kind,
        "value": activity.value,
        "previousValue": activity.previous_value,
        "comment": Value::Null,
        "dateCreated": format_ms(activity.date_added),
    })
}

/// An incident as the API shows it, with its rule's [`rule_json`]; `activities` only
/// when asked for (`?expand=activities`), as Sentry does.
pub fn incident_json(incident: &Incident, rule: Value, activities: Option<Vec<Value>>) -> Value {
    json!({
        "id": incident.id.to_string(),
        "identifier": incident.identifier.to_string(),
        "organizationId": incident.org_id.to_string(),
        "projects": incident.projects,
        "alertRule": rule,
        "activities": activities,
        "status": incident.status,
        "statusMethod": incident.status_method,
        "type": ALERT_TRIGGERED,
        "title": incident.title,
        "dateStarted": format_ms(incident.date_started),
        "dateDetected": format_ms(incident.date_detected),
        "dateCreated": format_ms(incident.date_created),
        "dateClosed": incident.date_closed.map(format_ms),
        "activation": [],
    })
}

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The keys of every object in snake_case, as webhooks carry Sentry's records.
pub fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (snake(&k), snake_keys(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_turn_snake_case_all_the_way_down() {
        let camel = json!({"alertRule": {"timeWindow": 60, "triggers": [{"alertThreshold": 1}]}});
        assert_eq!(
            snake_keys(camel),
            json!({"alert_rule": {"time_window": 60, "triggers": [{"alert_threshold": 1}]}})
        );
    }
}
