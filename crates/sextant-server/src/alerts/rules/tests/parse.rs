//! Parsing, validation, stored form and names of every condition, filter and action.

use serde_json::{Value, json};

use super::{body, rule};
use crate::alerts::rules::{ActionKind, ConditionKind, EmailTarget, Match, RuleSpec, ids, parse};

/// (list, item, Sentry's name for it).
fn cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "conditions",
            json!({"id": ids::FIRST_SEEN}),
            "A new issue is created",
        ),
        (
            "conditions",
            json!({"id": ids::REGRESSION}),
            "The issue changes state from resolved to unresolved",
        ),
        (
            "conditions",
            json!({"id": ids::REAPPEARED}),
            "An issue escalates",
        ),
        (
            "conditions",
            json!({"id": ids::EVERY_EVENT}),
            "The event occurs",
        ),
        (
            "conditions",
            json!({"id": ids::EVENT_FREQUENCY, "value": "100", "interval": "1h"}),
            "The issue is seen more than 100 times in 1h",
        ),
        (
            "conditions",
            json!({"id": ids::EVENT_FREQUENCY, "value": 50, "interval": "1d",
                   "comparisonType": "percent", "comparisonInterval": "1w"}),
            "The issue is seen more than 50 times in 1d",
        ),
        (
            "conditions",
            json!({"id": ids::USER_FREQUENCY, "value": 1000, "interval": "15m"}),
            "The issue is seen by more than 1000 users in 15m",
        ),
        (
            "conditions",
            json!({"id": ids::SESSION_PERCENT, "value": 50.0, "interval": "10m"}),
            "The issue affects more than 50 percent of sessions in 10m",
        ),
        (
            "conditions",
            json!({"id": ids::SESSION_PERCENT, "value": "2.5", "interval": "1h",
                   "comparisonType": "count"}),
            "The issue affects more than 2.5 percent of sessions in 1h",
        ),
        (
            "conditions",
            json!({"id": ids::LEVEL_CONDITION, "match": "gte", "level": "40"}),
            "The event's level is greater than or equal to error",
        ),
        (
            "conditions",
            json!({"id": ids::TAGGED_CONDITION, "key": "tenant", "match": "sw", "value": "ac"}),
            "The event's tags match tenant starts with ac",
        ),
        (
            "filters",
            json!({"id": ids::LEVEL_FILTER, "match": "eq", "level": 50}),
            "The event's level is equal to fatal",
        ),
        (
            "filters",
            json!({"id": ids::TAGGED_FILTER, "key": "environment", "match": "eq", "value": "production"}),
            "The event's tags match environment equals production",
        ),
        (
            "filters",
            json!({"id": ids::TAGGED_FILTER, "key": "foo", "match": "is"}),
            "The event's tags match foo is set ",
        ),
        (
            "filters",
            json!({"id": ids::ATTRIBUTE_CONDITION, "attribute": "http.url", "match": "nc", "value": "localhost"}),
            "The event's http.url value does not contain localhost",
        ),
        (
            "filters",
            json!({"id": ids::ATTRIBUTE_FILTER, "attribute": "exception.type", "match": "in",
                   "value": "ValueError, KeyError"}),
            "The event's exception.type value is in (comma separated) ValueError, KeyError",
        ),
        (
            "filters",
            json!({"id": ids::AGE_FILTER, "comparison_type": "older", "value": 3, "time": "week"}),
            "The issue is older than 3 week",
        ),
        (
            "filters",
            json!({"id": ids::OCCURRENCES_FILTER, "value": "120"}),
            "The issue has happened at least 120 times",
        ),
        (
            "filters",
            json!({"id": ids::LATEST_RELEASE_FILTER}),
            "The event is from the latest release",
        ),
        (
            "filters",
            json!({"id": ids::CATEGORY_FILTER, "value": 6}),
            "The issue's category is equal to Feedback",
        ),
        (
            "filters",
            json!({"id": ids::CATEGORY_FILTER, "value": "8", "include": "false"}),
            "The issue's category is not equal to Metric_Alert",
        ),
        (
            "filters",
            json!({"id": ids::ASSIGNED_TO_FILTER, "targetType": "Unassigned"}),
            "The issue is assigned to Unassigned",
        ),
        (
            "filters",
            json!({"id": ids::ASSIGNED_TO_FILTER, "targetType": "Member", "targetIdentifier": "895329789"}),
            "The issue is assigned to Member",
        ),
        (
            "actions",
            json!({"id": ids::EMAIL_ACTION, "targetType": "IssueOwners",
                   "fallthroughType": "ActiveMembers", "targetIdentifier": ""}),
            "Send a notification to IssueOwners and if none can be found then send a notification to ActiveMembers",
        ),
        (
            "actions",
            json!({"id": ids::EMAIL_ACTION, "targetType": "Team", "targetIdentifier": 4524986223_i64,
                   "fallthroughType": "AllMembers", "uuid": "5b0f6a6e-8c2b-4a51-9f0e-2f6c1a2b3c4d"}),
            "Send a notification to Team and if none can be found then send a notification to AllMembers",
        ),
        (
            "actions",
            json!({"id": ids::SERVICE_ACTION, "service": "webhooks"}),
            "Send a notification via webhooks",
        ),
        (
            "actions",
            json!({"id": ids::SENTRY_APP_ACTION, "sentryAppInstallationUuid": "a1b2c3",
                   "settings": [{"name": "title", "value": "Team Rocket"}],
                   "hasSchemaFormConfig": true}),
            "",
        ),
        (
            "actions",
            json!({"id": ids::LEGACY_ACTION}),
            "Send a notification (for all legacy integrations)",
        ),
        (
            "actions",
            json!({"id": ids::CHANNEL_ACTION, "channel": "7"}),
            "Send a notification to channel 7",
        ),
    ]
}

fn items_json(spec: &RuleSpec, list: &str) -> Value {
    match list {
        "conditions" => spec.conditions_json(),
        "filters" => spec.filters_json(),
        _ => spec.actions_json(),
    }
}

#[test]
fn every_item_parses_round_trips_and_has_sentrys_name() {
    for (list, item, name) in cases() {
        let mut b = body(json!([]), json!([]));
        b[list] = json!([item.clone()]);
        let spec = parse(&b).unwrap_or_else(|e| panic!("{item}: {e}"));
        let again = parse(&spec.to_stored()).unwrap_or_else(|e| panic!("{item}: {e}"));
        assert_eq!(again, spec, "{item} round trip");
        let rendered = items_json(&spec, list);
        assert_eq!(rendered[0]["name"], name, "{item}");
        assert_eq!(rendered[0]["id"], item["id"], "{item}");
        assert!(spec.to_stored()[list][0].get("name").is_none());
    }
}

#[test]
fn params_come_back_in_sentrys_types() {
    let spec = parse(&json!({
        "name": "  Payments  ",
        "actionMatch": "any",
        "conditions": [
            {"id": ids::EVENT_FREQUENCY, "value": "100.0", "interval": "1h", "comparisonInterval": "",
             "name": "ignored", "uuid": "kept"},
            {"id": ids::SESSION_PERCENT, "value": 50, "interval": "30m"},
        ],
        "filters": [
            {"id": ids::LEVEL_FILTER, "match": "gte", "level": 40},
            {"id": ids::CATEGORY_FILTER, "value": 1},
            {"id": ids::TAGGED_FILTER, "key": " foo ", "match": "ns"},
        ],
        "filterMatch": "any",
        "actions": [{"id": ids::EMAIL_ACTION, "targetType": "Member", "targetIdentifier": "42"}],
    }))
    .unwrap();
    assert_eq!(spec.name, "Payments");
    let stored = spec.to_stored();
    assert_eq!(
        stored["conditions"][0],
        json!({"id": ids::EVENT_FREQUENCY, "value": 100, "interval": "1h",
               "comparisonType": "count", "uuid": "kept"})
    );
    assert_eq!(stored["conditions"][1]["value"], json!(50.0));
    assert_eq!(spec.conditions_json()[1]["value"], json!(50));
    assert_eq!(stored["filters"][0]["level"], "40");
    assert_eq!(stored["filters"][1]["value"], "1");
    assert_eq!(
        stored["filters"][2],
        json!({"id": ids::TAGGED_FILTER, "key": "foo", "match": "ns", "value": ""})
    );
    assert_eq!(stored["actions"][0]["targetIdentifier"], json!(42));
    let api = &spec.actions_json()[0];
    assert_eq!(api["targetIdentifier"], "42");
    assert_eq!(api["fallthroughType"], "ActiveMembers");
    assert_eq!(
        spec.actions[0].kind,
        ActionKind::Email {
            target: EmailTarget::Member(42),
            fallthrough: None
        }
    );
}

#[test]
fn defaults_and_top_level_fields() {
    let spec = parse(&json!({
        "name": "n",
        "actionMatch": "none",
        "environment": null,
        "owner": "12",
        "conditions": [{"id": ids::FIRST_SEEN}],
        "actions": [{"id": ids::LEGACY_ACTION}],
    }))
    .unwrap();
    assert_eq!(spec.frequency_minutes, 30);
    assert_eq!(spec.frequency_ms(), 30 * 60_000);
    assert_eq!(spec.action_match, Match::None);
    assert_eq!(spec.filter_match, Match::All);
    assert_eq!(spec.environment, None);
    assert_eq!(spec.owner.as_deref(), Some("user:12"));

    let mut b = body(json!([]), json!([]));
    b["environment"] = json!("production");
    b["owner"] = json!("team:3");
    b["frequency"] = json!("1440");
    let spec = parse(&b).unwrap();
    assert_eq!(spec.environment.as_deref(), Some("production"));
    assert_eq!(spec.owner.as_deref(), Some("team:3"));
    assert_eq!(spec.frequency_minutes, 1440);
    assert!(spec.conditions.is_empty());
    assert_eq!(parse(&spec.to_stored()).unwrap(), spec);

    b["name"] = json!("x".repeat(256));
    b["frequency"] = json!(43200);
    assert!(parse(&b).is_ok(), "upper bounds are inclusive");
    b["frequency"] = json!(5);
    assert!(parse(&b).is_ok());
}

#[test]
fn percent_comparisons_lift_the_session_cap() {
    let spec = rule(
        json!([{"id": ids::SESSION_PERCENT, "value": 150, "interval": "1h",
                "comparisonType": "percent", "comparisonInterval": "1d"}]),
        json!([]),
    );
    let ConditionKind::SessionPercent(f) = &spec.conditions[0].kind else {
        panic!("{:?}", spec.conditions[0]);
    };
    assert_eq!(f.value, 150.0);
}

#[test]
fn references_are_listed_once_each() {
    let mut b = body(
        json!([]),
        json!([
            {"id": ids::ASSIGNED_TO_FILTER, "targetType": "Team", "targetIdentifier": 3},
            {"id": ids::ASSIGNED_TO_FILTER, "targetType": "Member", "targetIdentifier": 9},
        ]),
    );
    b["actions"] = json!([
        {"id": ids::SENTRY_APP_ACTION, "sentryAppInstallationUuid": "u-1"},
        {"id": ids::SENTRY_APP_ACTION, "sentryAppInstallationUuid": "u-1"},
        {"id": ids::CHANNEL_ACTION, "channel": 4},
        {"id": ids::CHANNEL_ACTION, "channel": 5},
        {"id": ids::CHANNEL_ACTION, "channel": 4},
        {"id": ids::EMAIL_ACTION, "targetType": "Team", "targetIdentifier": 3},
        {"id": ids::EMAIL_ACTION, "targetType": "Team", "targetIdentifier": 8},
        {"id": ids::EMAIL_ACTION, "targetType": "Member", "targetIdentifier": 2},
    ]);
    let spec = parse(&b).unwrap();
    assert_eq!(spec.sentry_app_uuids(), ["u-1"]);
    assert_eq!(spec.channel_ids(), [4, 5]);
    assert_eq!(spec.team_ids(), [3, 8]);
    assert_eq!(spec.member_ids(), [2, 9]);
}
