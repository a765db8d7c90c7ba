//! Parsing metric rule bodies: Sentry's defaults, every refusal naming its field, and the
//! stored form read back.

use serde_json::{Value, json};
use sextant_storage::{MetricRule, MetricTrigger};

use super::*;
use crate::alerts::metric::triggers::ActionKind;

fn crash_free() -> Value {
    json!({
        "name": "Crash-free sessions",
        "projects": ["web"],
        "aggregate": "percentage(sessions_crashed, sessions) AS _crash_rate_alert_aggregate",
        "query": "",
        "timeWindow": 60,
        "thresholdType": 1,
        "resolveThreshold": 95,
        "triggers": [{
            "label": "critical",
            "alertThreshold": 90,
            "actions": [{"type": "sentry_app", "targetType": "sentry_app",
                         "targetIdentifier": 12, "sentryAppId": 12}],
        }],
    })
}

fn errors() -> Value {
    json!({
        "name": "Too many errors",
        "projects": ["web"],
        "dataset": "events",
        "aggregate": "count()",
        "query": "level:error",
        "timeWindow": "10",
        "thresholdType": 0,
        "thresholdPeriod": 2,
        "environment": "production",
        "owner": "team:3",
        "triggers": [
            {"label": "critical", "alertThreshold": 100,
             "actions": [{"type": "email", "targetType": "user", "targetIdentifier": "5"}]},
            {"label": "warning", "alertThreshold": "50.5",
             "actions": [{"type": "sextant_channel", "targetType": "specific",
                          "targetIdentifier": "4"}]},
        ],
    })
}

#[test]
fn a_crash_free_rule_takes_sentrys_defaults() {
    let spec = parse(&crash_free()).unwrap();
    assert_eq!(spec.aggregate, Aggregate::CrashFreeSessions);
    assert_eq!(spec.dataset, "metrics");
    assert_eq!(spec.direction, Direction::Below);
    assert_eq!(spec.resolve_threshold, Some(95.0));
    assert_eq!(spec.threshold_period, 1);
    assert!(spec.event_types.is_empty());
    assert_eq!(spec.projects, ["web"]);
    assert_eq!(spec.window_ms(), 3_600_000);
    let t = spec.thresholds();
    assert_eq!(
        (t.critical, t.warning, t.resolve),
        (Some(90.0), None, Some(95.0))
    );
    assert_eq!(
        spec.triggers[0].actions[0].kind,
        ActionKind::SentryApp {
            app_id: Some(12),
            installation_uuid: None
        }
    );
    // The alias may be left out, spaces do not matter.
    let mut body = crash_free();
    body["aggregate"] = json!("percentage( users_crashed,users )");
    assert_eq!(parse(&body).unwrap().aggregate, Aggregate::CrashFreeUsers);
}

#[test]
fn an_error_count_rule_reads_numbers_given_as_strings() {
    let spec = parse(&errors()).unwrap();
    assert_eq!(spec.aggregate, Aggregate::Count);
    assert_eq!(spec.time_window, 10);
    assert_eq!(spec.threshold_period, 2);
    assert_eq!(spec.event_types, ["default", "error"]);
    assert_eq!(spec.triggers[1].alert_threshold, 50.5);
    assert_eq!(spec.owner.as_deref(), Some("team:3"));
    assert_eq!(
        spec.triggers[1].actions[0].kind,
        ActionKind::Channel { channel_id: 4 }
    );
    let mut body = errors();
    body["aggregate"] = json!("count_unique(tags[sentry:user])");
    body["eventTypes"] = json!(["error"]);
    let spec = parse(&body).unwrap();
    assert_eq!(spec.aggregate, Aggregate::UniqueUsers);
    assert_eq!(spec.aggregate.as_sentry(), "count_unique(user)");
    assert_eq!(spec.event_types, ["error"]);
}

/// Applies `change` to a valid body and returns the 400 body its refusal gives.
fn refusal(base: Value, change: impl FnOnce(&mut Value)) -> RuleError {
    let mut body = base;
    change(&mut body);
    parse(&body).expect_err("refused")
}

/// A valid body, a change that spoils it, the field the refusal names, words it says.
type Case = (
    Value,
    Box<dyn FnOnce(&mut Value)>,
    &'static str,
    &'static str,
);

#[test]
fn each_refusal_names_its_field() {
    let cases: Vec<Case> = vec![
        (
            errors(),
            Box::new(|b| b["name"] = json!("")),
            "name",
            "required",
        ),
        (
            errors(),
            Box::new(|b| b["aggregate"] = json!("p95(transaction.duration)")),
            "aggregate",
            "p95",
        ),
        (
            errors(),
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("aggregate");
            }),
            "aggregate",
            "required",
        ),
        (
            errors(),
            Box::new(|b| b["dataset"] = json!("transactions")),
            "dataset",
            "transactions",
        ),
        (
            errors(),
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("query");
            }),
            "query",
            "required",
        ),
        (
            errors(),
            Box::new(|b| b["query"] = json!("release:latest")),
            "query",
            "release:latest",
        ),
        (
            crash_free(),
            Box::new(|b| b["query"] = json!("level:error")),
            "query",
            "crash-free",
        ),
        (
            errors(),
            Box::new(|b| b["timeWindow"] = json!(7)),
            "timeWindow",
            "Time Window",
        ),
        (
            crash_free(),
            Box::new(|b| b["timeWindow"] = json!(5)),
            "timeWindow",
            "[30, 60, 120, 240, 720, 1440]",
        ),
        (
            errors(),
            Box::new(|b| b["thresholdType"] = json!(2)),
            "thresholdType",
            "valid values",
        ),
        (
            errors(),
            Box::new(|b| b["thresholdPeriod"] = json!(21)),
            "thresholdPeriod",
            "20",
        ),
        (
            errors(),
            Box::new(|b| b["comparisonDelta"] = json!(60)),
            "comparisonDelta",
            "not supported",
        ),
        (
            errors(),
            Box::new(|b| b["eventTypes"] = json!(["transaction"])),
            "eventTypes",
            "transaction",
        ),
        (
            errors(),
            Box::new(|b| b["owner"] = json!("squad:1")),
            "owner",
            "team",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"] = json!([])),
            "triggers",
            "at least one",
        ),
        (
            errors(),
            Box::new(|b| {
                let t = b["triggers"][0].clone();
                b["triggers"].as_array_mut().unwrap().push(t);
            }),
            "triggers",
            "1 or 2",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][0]["label"] = json!("warning")),
            "triggers[0]",
            "labeled \"critical\"",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][1]["alertThreshold"] = json!(150)),
            "triggers",
            "above warning",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][0]["alertThreshold"] = json!(null)),
            "triggers[0].alertThreshold",
            "required",
        ),
        (
            crash_free(),
            Box::new(|b| b["resolveThreshold"] = json!(85)),
            "resolveThreshold",
            "below resolution",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][0]["actions"][0]["type"] = json!("slack")),
            "triggers[0].actions[0].type",
            "sextant_channel",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][0]["actions"][0]["type"] = json!("carrier_pigeon")),
            "triggers[0].actions[0].type",
            "valid values",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][0]["actions"][0]["targetType"] = json!("specific")),
            "triggers[0].actions[0].targetType",
            "user,team",
        ),
        (
            errors(),
            Box::new(|b| {
                b["triggers"][0]["actions"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("targetType");
            }),
            "triggers[0].actions[0]",
            "together",
        ),
        (
            errors(),
            Box::new(|b| b["triggers"][1]["actions"][0]["targetIdentifier"] = json!("x")),
            "triggers[1].actions[0].targetIdentifier",
            "channel",
        ),
        (
            crash_free(),
            Box::new(|b| {
                let a = &mut b["triggers"][0]["actions"][0];
                a.as_object_mut().unwrap().remove("sentryAppId");
                a["targetIdentifier"] = json!("app");
            }),
            "triggers[0].actions[0].sentryApp",
            "must be provided",
        ),
    ];
    for (base, change, field, words) in cases {
        let err = refusal(base, change);
        assert_eq!(err.field, field, "{err}");
        assert!(err.message.contains(words), "{field}: {err}");
    }
}

#[test]
fn resolve_thresholds_get_a_unit_of_room_with_whole_numbers() {
    // Sentry's example: alert above 0, resolve below 1 is valid.
    let mut body = errors();
    body["triggers"] = json!([{"label": "critical", "alertThreshold": 0, "actions": []}]);
    body["resolveThreshold"] = json!(1);
    assert!(parse(&body).is_ok());
    body["resolveThreshold"] = json!(2);
    assert_eq!(parse(&body).unwrap_err().field, "resolveThreshold");
    body["resolveThreshold"] = json!(0.5);
    assert_eq!(parse(&body).unwrap_err().field, "resolveThreshold");
}

#[test]
fn the_stored_form_reads_back_as_the_same_spec() {
    let mut spec = parse(&errors()).unwrap();
    spec.event_query.conditions = vec![sextant_storage::EventCondition::Tag {
        key: "level".into(),
        value: "error".into(),
        negate: false,
    }];
    let rule = MetricRule {
        id: 1,
        org_id: 1,
        name: spec.name.clone(),
        spec: spec.stored(),
        project_ids: vec![1],
        triggers: spec
            .stored_triggers()
            .into_iter()
            .enumerate()
            .map(|(i, t)| MetricTrigger {
                id: i as i64 + 1,
                label: t.label,
                spec: t.spec,
                created_at: 0,
            })
            .collect(),
        status: "active".into(),
        created_by: None,
        created_at: 0,
        updated_at: 0,
        state: json!({}),
        claimed_until: 0,
    };
    let back = MetricSpec::from_rule(&rule).unwrap();
    // Projects are stored apart, as ids.
    spec.projects.clear();
    assert_eq!(back, spec);
}
