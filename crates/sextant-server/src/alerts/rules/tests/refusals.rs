//! Refused bodies: each refusal names its culprit, and renders as Sentry's 400 body.

use serde_json::{Value, json};

use super::refusal;
use crate::alerts::rules::{RuleError, ids, parse};

/// A valid body's top-level keys set (`Some`) or removed (`None`).
type Change = Vec<(&'static str, Option<Value>)>;

fn apply(change: Change) -> RuleError {
    refusal(|b| {
        for (key, value) in change {
            match value {
                Some(v) => b.insert(key.into(), v),
                None => b.remove(key),
            };
        }
    })
}

fn only(list: &'static str, item: Value) -> Change {
    vec![(list, Some(json!([item])))]
}

fn set(key: &'static str, value: Value) -> Change {
    vec![(key, Some(value))]
}

#[test]
fn each_refusal_names_its_culprit() {
    let freq = |extra: Value| {
        let mut item = json!({"id": ids::EVENT_FREQUENCY, "value": 1, "interval": "1h"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            item[k] = v.clone();
        }
        only("conditions", item)
    };
    let cases: Vec<(Change, &str)> = vec![
        (
            only("conditions", json!({"id": "sentry.rules.conditions.x.X"})),
            "conditions[0].id",
        ),
        (
            only("conditions", json!({"interval": "1h"})),
            "conditions[0].id",
        ),
        (only("conditions", json!("first seen")), "conditions[0]"),
        (
            only(
                "conditions",
                json!({"id": ids::LEVEL_FILTER, "match": "eq", "level": "40"}),
            ),
            "conditions[0].id",
        ),
        (vec![("actionMatch", None)], "actionMatch"),
        (set("actionMatch", json!("most")), "actionMatch"),
        (set("frequency", json!(4)), "frequency"),
        (set("frequency", json!(43201)), "frequency"),
        (set("frequency", json!("often")), "frequency"),
        (freq(json!({"interval": "2m"})), "conditions[0].interval"),
        (freq(json!({"value": 1.5})), "conditions[0].value"),
        (freq(json!({"value": -1})), "conditions[0].value"),
        (freq(json!({"value": null})), "conditions[0].value"),
        (
            freq(json!({"comparisonType": "percent"})),
            "conditions[0].comparisonInterval",
        ),
        (
            freq(json!({"comparisonType": "ratio"})),
            "conditions[0].comparisonType",
        ),
        (
            freq(json!({"comparisonType": "percent", "comparisonInterval": "1m"})),
            "conditions[0].comparisonInterval",
        ),
        (
            only(
                "conditions",
                json!({"id": ids::SESSION_PERCENT, "value": 101, "interval": "1h"}),
            ),
            "conditions[0].value",
        ),
        (
            only(
                "conditions",
                json!({"id": ids::SESSION_PERCENT, "value": 1, "interval": "15m"}),
            ),
            "conditions[0].interval",
        ),
        (
            only(
                "filters",
                json!({"id": ids::LEVEL_FILTER, "match": "eq", "level": "60"}),
            ),
            "filters[0].level",
        ),
        (
            only(
                "filters",
                json!({"id": ids::TAGGED_FILTER, "key": "k", "match": "like", "value": "v"}),
            ),
            "filters[0].match",
        ),
        (
            only(
                "filters",
                json!({"id": ids::TAGGED_FILTER, "key": "k", "match": "eq"}),
            ),
            "filters[0].value",
        ),
        (
            only("filters", json!({"id": ids::TAGGED_FILTER, "match": "is"})),
            "filters[0].key",
        ),
        (
            only(
                "filters",
                json!({"id": ids::ATTRIBUTE_FILTER, "attribute": "extra.foo", "match": "is"}),
            ),
            "filters[0].attribute",
        ),
        (
            only(
                "filters",
                json!({"id": ids::AGE_FILTER, "comparison_type": "older", "value": 1, "time": "month"}),
            ),
            "filters[0].time",
        ),
        (
            only("filters", json!({"id": ids::CATEGORY_FILTER, "value": 20})),
            "filters[0].value",
        ),
        (
            only(
                "filters",
                json!({"id": ids::ASSIGNED_TO_FILTER, "targetType": "Team"}),
            ),
            "filters[0].targetIdentifier",
        ),
        (
            only(
                "actions",
                json!({"id": ids::SERVICE_ACTION, "service": "slack"}),
            ),
            "actions[0].service",
        ),
        (
            only(
                "actions",
                json!({"id": ids::EMAIL_ACTION, "targetType": "Team"}),
            ),
            "actions[0].targetIdentifier",
        ),
        (
            only(
                "actions",
                json!({"id": ids::EMAIL_ACTION, "targetType": "Member", "targetIdentifier": "jane"}),
            ),
            "actions[0].targetIdentifier",
        ),
        (
            only(
                "actions",
                json!({"id": ids::EMAIL_ACTION, "targetType": "IssueOwners", "fallthroughType": "Everyone"}),
            ),
            "actions[0].fallthroughType",
        ),
        (
            only("actions", json!({"id": ids::SENTRY_APP_ACTION})),
            "actions[0].sentryAppInstallationUuid",
        ),
        (
            only(
                "actions",
                json!({"id": ids::SENTRY_APP_ACTION, "sentryAppInstallationUuid": "u", "settings": "x"}),
            ),
            "actions[0].settings",
        ),
        (
            only(
                "actions",
                json!({"id": ids::CHANNEL_ACTION, "channel": "slack"}),
            ),
            "actions[0].channel",
        ),
        (set("actions", json!([])), "actions"),
        (vec![("actions", None)], "actions"),
        (set("name", json!("x".repeat(257))), "name"),
        (set("name", json!("   ")), "name"),
        (vec![("name", None)], "name"),
        (set("owner", json!("org:1")), "owner"),
        (set("environment", json!("")), "environment"),
        (set("conditions", json!("all")), "conditions"),
        (
            vec![
                ("filterMatch", None),
                ("filters", Some(json!([{"id": ids::LATEST_RELEASE_FILTER}]))),
            ],
            "filterMatch",
        ),
    ];
    for (change, field) in cases {
        let err = apply(change);
        assert_eq!(err.field, field, "{err}");
        assert!(!err.message.is_empty());
    }
    let err = parse(&json!(["not", "an", "object"])).unwrap_err();
    assert_eq!(err.field, "non_field_errors");
}

#[test]
fn refusals_render_as_sentrys_400_body() {
    let err = apply(set("frequency", json!(4)));
    assert_eq!(
        err.to_sentry_body(),
        json!({"frequency": ["Ensure this value is greater than or equal to 5."]})
    );
    let item = json!({"id": ids::EVENT_FREQUENCY, "value": 1, "interval": "2m"});
    assert_eq!(
        apply(only("conditions", item)).to_sentry_body(),
        json!({"conditions": ["conditions[0]: interval must be one of 1m, 5m, 15m, 1h, 1d, 1w, 30d"]})
    );
    assert_eq!(
        apply(set("actions", json!([]))).to_sentry_body(),
        json!({"actions": ["You must add an action for this alert to fire."]})
    );
    assert_eq!(
        apply(vec![("actionMatch", None)]).to_sentry_body(),
        json!({"actionMatch": ["This field is required."]})
    );
    assert_eq!(
        RuleError::new("conditions[2]", "Incorrect type.").to_sentry_body(),
        json!({"conditions": ["conditions[2]: Incorrect type."]})
    );
}
