//! Evaluation: state conditions, frequency thresholds and comparisons, every check, and
//! how `actionMatch`, `filterMatch` and the environment combine them.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{body, rule};
use crate::alerts::rules::{
    Counts, EventFacts, FrameFacts, IssueCategory, IssueFacts, Needs, RuleSpec, Window, evaluate,
    ids, parse,
};

pub(super) const NOW: i64 = 1_795_512_676_000;
const MINUTE: i64 = 60_000;
pub(super) const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Counts by window; a window nobody set counts 0.
#[derive(Default)]
pub(super) struct FakeCounts {
    pub(super) events: HashMap<Window, i64>,
    users: HashMap<Window, i64>,
    sessions: HashMap<Window, i64>,
}

pub(super) fn window(from_ago_ms: i64, to_ago_ms: i64) -> Window {
    Window {
        from_ago_ms,
        to_ago_ms,
    }
}

impl Counts for FakeCounts {
    fn events(&self, w: Window) -> i64 {
        self.events.get(&w).copied().unwrap_or(0)
    }
    fn users(&self, w: Window) -> i64 {
        self.users.get(&w).copied().unwrap_or(0)
    }
    fn sessions(&self, w: Window) -> i64 {
        self.sessions.get(&w).copied().unwrap_or(0)
    }
}

pub(super) fn event() -> EventFacts {
    EventFacts {
        level: "error".into(),
        message: "checkout failed".into(),
        platform: "python".into(),
        environment: Some("production".into()),
        event_type: "error".into(),
        tags: vec![
            ("Tenant".into(), "ACME-eu".into()),
            ("sentry:user".into(), "id:u-42".into()),
            ("level".into(), "error".into()),
        ],
        release: Some("shop@1.2.3".into()),
        handled: vec![false],
        main_thread: Some(true),
        exception_types: vec!["TypeError".into()],
        exception_values: vec!["unsupported operand".into()],
        user_id: Some("u-42".into()),
        user_email: Some("Jane@Example.com".into()),
        user_username: None,
        user_ip: None,
        http_method: Some("POST".into()),
        http_url: Some("https://shop.example.com/checkout".into()),
        http_status_code: Some("500".into()),
        sdk_name: Some("sentry.python".into()),
        frames: vec![FrameFacts {
            filename: Some("main.py".into()),
            abs_path: Some("/app/py/main.py".into()),
            module: Some("__main__".into()),
            package: None,
            code: vec!["    return total / discount".into()],
        }],
        context_attributes: vec![("app.in_foreground".into(), "true".into())],
    }
}

pub(super) fn issue() -> IssueFacts {
    IssueFacts {
        first_seen_ms: NOW - 2 * DAY,
        times_seen: 10,
        ..IssueFacts::default()
    }
}

fn fires(spec: &RuleSpec, event: &EventFacts, issue: &IssueFacts, counts: &FakeCounts) -> bool {
    evaluate(spec, event, issue, counts, NOW)
}

/// Whether a rule with this one filter fires for `event()` and `issue()`.
fn filter_passes(filter: Value) -> bool {
    let spec = rule(json!([]), json!([filter]));
    fires(&spec, &event(), &issue(), &FakeCounts::default())
}

fn condition_passes(condition: Value, issue: &IssueFacts, counts: &FakeCounts) -> bool {
    let spec = rule(json!([condition]), json!([]));
    fires(&spec, &event(), issue, counts)
}

#[test]
fn state_conditions_follow_the_issue() {
    let counts = FakeCounts::default();
    let cases = [
        (
            ids::FIRST_SEEN,
            IssueFacts {
                new_issue: true,
                ..issue()
            },
        ),
        (
            ids::REGRESSION,
            IssueFacts {
                regression: true,
                ..issue()
            },
        ),
        (
            ids::REAPPEARED,
            IssueFacts {
                reappeared: true,
                ..issue()
            },
        ),
    ];
    for (id, state) in cases {
        assert!(condition_passes(json!({"id": id}), &state, &counts), "{id}");
        assert!(
            !condition_passes(json!({"id": id}), &issue(), &counts),
            "{id}"
        );
    }
    assert!(condition_passes(
        json!({"id": ids::EVERY_EVENT}),
        &issue(),
        &counts
    ));

    // With an environment, "new" means new in that environment.
    let mut b = body(json!([{"id": ids::FIRST_SEEN}]), json!([]));
    b["environment"] = json!("production");
    let spec = parse(&b).unwrap();
    let new_elsewhere = IssueFacts {
        new_issue: false,
        new_in_environment: true,
        ..issue()
    };
    assert!(fires(&spec, &event(), &new_elsewhere, &counts));
    let old_here = IssueFacts {
        new_issue: true,
        new_in_environment: false,
        ..issue()
    };
    assert!(!fires(&spec, &event(), &old_here, &counts));
}

#[test]
fn frequency_is_strictly_more_than() {
    let condition = json!({"id": ids::EVENT_FREQUENCY, "value": 3, "interval": "5m"});
    let mut counts = FakeCounts::default();
    counts.events.insert(window(5 * MINUTE, 0), 3);
    assert!(!condition_passes(condition.clone(), &issue(), &counts));
    counts.events.insert(window(5 * MINUTE, 0), 4);
    assert!(condition_passes(condition.clone(), &issue(), &counts));
    // An issue's first event is taken to be under any threshold above one.
    let new = IssueFacts {
        new_issue: true,
        ..issue()
    };
    assert!(!condition_passes(condition, &new, &counts));
    let low = json!({"id": ids::EVENT_FREQUENCY, "value": 1, "interval": "5m"});
    assert!(condition_passes(low, &new, &counts));
}

#[test]
fn user_frequency_reads_users() {
    let condition = json!({"id": ids::USER_FREQUENCY, "value": 10, "interval": "1d"});
    let mut counts = FakeCounts::default();
    counts.events.insert(window(DAY, 0), 500);
    counts.users.insert(window(DAY, 0), 10);
    assert!(!condition_passes(condition.clone(), &issue(), &counts));
    counts.users.insert(window(DAY, 0), 11);
    assert!(condition_passes(condition, &issue(), &counts));
}

#[test]
fn percent_comparison_is_the_increase_over_the_earlier_window() {
    let condition = json!({"id": ids::EVENT_FREQUENCY, "value": 50, "interval": "1h",
                           "comparisonType": "percent", "comparisonInterval": "1d"});
    let at = |now: i64, earlier: i64| {
        let mut counts = FakeCounts::default();
        counts.events.insert(window(HOUR, 0), now);
        counts.events.insert(window(DAY + HOUR, DAY), earlier);
        condition_passes(condition.clone(), &issue(), &counts)
    };
    assert!(at(16, 10), "60% more");
    assert!(!at(15, 10), "50% more is not more than 50%");
    assert!(!at(1000, 0), "nothing earlier counts as no increase");
    assert!(!at(5, 10), "a drop is no increase");
}

#[test]
fn session_percent_spreads_the_hours_sessions_over_the_interval() {
    let condition = json!({"id": ids::SESSION_PERCENT, "value": 50, "interval": "10m"});
    let at = |sessions: i64, events: i64| {
        let mut counts = FakeCounts::default();
        counts.sessions.insert(window(HOUR, 0), sessions);
        counts.events.insert(window(10 * MINUTE, 0), events);
        condition_passes(condition.clone(), &issue(), &counts)
    };
    // 120 sessions an hour: 20 per ten minutes.
    assert!(at(120, 11), "55%");
    assert!(!at(120, 10), "50%");
    assert!(!at(49, 1000), "under 50 sessions an hour never fires");
    assert!(!at(0, 5), "no sessions");
}

#[test]
fn needs_lists_each_window_once() {
    let spec = rule(
        json!([
            {"id": ids::EVENT_FREQUENCY, "value": 1, "interval": "1h"},
            {"id": ids::EVENT_FREQUENCY, "value": 5, "interval": "1h",
             "comparisonType": "percent", "comparisonInterval": "1d"},
            {"id": ids::USER_FREQUENCY, "value": 1, "interval": "15m"},
            {"id": ids::SESSION_PERCENT, "value": 1, "interval": "30m"},
            {"id": ids::FIRST_SEEN},
        ]),
        json!([]),
    );
    assert_eq!(
        spec.needs(),
        Needs {
            event_windows: vec![
                window(HOUR, 0),
                window(DAY + HOUR, DAY),
                window(30 * MINUTE, 0)
            ],
            user_windows: vec![window(15 * MINUTE, 0)],
            session_windows: vec![window(HOUR, 0)],
        }
    );
    assert_eq!(
        rule(json!([{"id": ids::FIRST_SEEN}]), json!([])).needs(),
        Needs::default()
    );
}

#[test]
fn level_compares_numbers() {
    let level =
        |m: &str, l: &str| filter_passes(json!({"id": ids::LEVEL_FILTER, "match": m, "level": l}));
    assert!(level("eq", "40"));
    assert!(!level("eq", "50"));
    assert!(level("gte", "30"));
    assert!(level("gte", "40"));
    assert!(!level("gte", "50"));
    assert!(level("lte", "40"));
    assert!(!level("lte", "30"));
}

#[test]
fn tag_matches_ignore_case_and_the_sentry_prefix() {
    let tag = |key: &str, m: &str, value: &str| {
        filter_passes(json!({"id": ids::TAGGED_FILTER, "key": key, "match": m, "value": value}))
    };
    assert!(tag("tenant", "eq", "acme-EU"));
    assert!(!tag("tenant", "eq", "acme"));
    assert!(tag("tenant", "ne", "acme"));
    assert!(!tag("tenant", "ne", "acme-eu"));
    assert!(tag("missing", "ne", "x"), "no value differs from x");
    assert!(tag("tenant", "sw", "acme"));
    assert!(tag("tenant", "nsw", "eu"));
    assert!(tag("tenant", "ew", "-eu"));
    assert!(tag("tenant", "new", "acme"));
    assert!(tag("tenant", "co", "me-e"));
    assert!(!tag("tenant", "nc", "me-e"));
    assert!(tag("tenant", "in", "beta, acme-eu"));
    assert!(!tag("tenant", "nin", "beta,acme-eu"));
    assert!(tag("TENANT", "is", ""));
    assert!(!tag("tenant", "ns", ""));
    assert!(tag("region", "ns", ""));
    assert!(tag("user", "eq", "id:u-42"), "sentry:user is the user tag");
    assert!(tag("level", "eq", "error"));
}

#[test]
fn attributes_read_the_event() {
    let attr = |a: &str, m: &str, value: &str| {
        filter_passes(
            json!({"id": ids::ATTRIBUTE_FILTER, "attribute": a, "match": m, "value": value}),
        )
    };
    assert!(attr("exception.type", "eq", "typeerror"));
    assert!(!attr("exception.type", "eq", "ValueError"));
    assert!(attr("user.email", "eq", "jane@example.com"));
    assert!(attr("http.status_code", "eq", "500"));
    assert!(attr("http.status_code", "sw", "5"));
    assert!(attr("stacktrace.filename", "eq", "main.py"));
    assert!(attr("stacktrace.code", "co", "discount"));
    assert!(attr("error.handled", "eq", "false"));
    assert!(attr("error.unhandled", "eq", "true"));
    assert!(attr("error.main_thread", "eq", "true"));
    assert!(attr("message", "co", "checkout"));
    assert!(
        attr("message", "co", "unsupported operand"),
        "the search text has the exception"
    );
    assert!(attr("http.method", "eq", "post"));
    assert!(attr("app.in_foreground", "eq", "true"));
    assert!(attr("user.username", "ns", ""));
    assert!(!attr("user.username", "is", ""));
    assert!(attr("symbolicated_in_app", "ns", ""), "no data: never set");
    assert!(!attr("symbolicated_in_app", "eq", "true"));
    assert!(attr("environment", "eq", "production"));
    assert!(attr("platform", "eq", "python"));
    assert!(attr("sdk.name", "ew", ".python"));
}

#[test]
fn age_occurrences_release_category_and_assignee() {
    let age = |c: &str, value: i64, time: &str| {
        filter_passes(
            json!({"id": ids::AGE_FILTER, "comparison_type": c, "value": value, "time": time}),
        )
    };
    // First seen two days ago.
    assert!(age("older", 1, "day"));
    assert!(!age("older", 3, "day"));
    assert!(age("newer", 3, "day"));
    assert!(!age("newer", 47, "hour"));
    assert!(age("newer", 49, "hour"));

    assert!(filter_passes(
        json!({"id": ids::OCCURRENCES_FILTER, "value": 10})
    ));
    assert!(!filter_passes(
        json!({"id": ids::OCCURRENCES_FILTER, "value": 11})
    ));

    let latest = rule(json!([]), json!([{"id": ids::LATEST_RELEASE_FILTER}]));
    let counts = FakeCounts::default();
    assert!(!fires(&latest, &event(), &issue(), &counts));
    let on_latest = IssueFacts {
        is_latest_release: true,
        ..issue()
    };
    assert!(fires(&latest, &event(), &on_latest, &counts));

    assert!(filter_passes(
        json!({"id": ids::CATEGORY_FILTER, "value": 1})
    ));
    assert!(!filter_passes(
        json!({"id": ids::CATEGORY_FILTER, "value": 6})
    ));
    assert!(filter_passes(
        json!({"id": ids::CATEGORY_FILTER, "value": 6, "include": "false"})
    ));
    let feedback_rule = rule(
        json!([]),
        json!([{"id": ids::CATEGORY_FILTER, "value": "6"}]),
    );
    let feedback = IssueFacts {
        category: IssueCategory::Feedback,
        ..issue()
    };
    assert!(fires(&feedback_rule, &event(), &feedback, &counts));
    assert!(
        !filter_passes(json!({"id": ids::CATEGORY_FILTER, "value": 2})),
        "performance: valid, never matches"
    );

    let assigned = |target: Value, assignee: Option<&str>| {
        let spec = rule(json!([]), json!([target]));
        let state = IssueFacts {
            assignee: assignee.map(str::to_owned),
            ..issue()
        };
        fires(&spec, &event(), &state, &counts)
    };
    let unassigned = json!({"id": ids::ASSIGNED_TO_FILTER, "targetType": "Unassigned"});
    let team = json!({"id": ids::ASSIGNED_TO_FILTER, "targetType": "Team", "targetIdentifier": 3});
    let member =
        json!({"id": ids::ASSIGNED_TO_FILTER, "targetType": "Member", "targetIdentifier": 9});
    assert!(assigned(unassigned.clone(), None));
    assert!(!assigned(unassigned, Some("user:9")));
    assert!(assigned(team.clone(), Some("team:3")));
    assert!(!assigned(team, Some("user:3")));
    assert!(assigned(member.clone(), Some("user:9")));
    assert!(!assigned(member, None));
}

#[test]
fn the_rules_environment_must_be_the_events() {
    let mut b = body(json!([{"id": ids::EVERY_EVENT}]), json!([]));
    b["environment"] = json!("staging");
    let spec = parse(&b).unwrap();
    let counts = FakeCounts::default();
    assert!(!fires(&spec, &event(), &issue(), &counts));
    let staging = EventFacts {
        environment: Some("staging".into()),
        ..event()
    };
    assert!(fires(&spec, &staging, &issue(), &counts));
    let none = EventFacts {
        environment: None,
        ..event()
    };
    assert!(!fires(&spec, &none, &issue(), &counts));
}

/// A rule whose conditions are first seen and regression, combined by `action_match`.
fn combined(action_match: &str, filter_match: &str, filters: Value) -> RuleSpec {
    let mut b = body(
        json!([{"id": ids::FIRST_SEEN}, {"id": ids::REGRESSION}]),
        filters,
    );
    b["actionMatch"] = json!(action_match);
    b["filterMatch"] = json!(filter_match);
    parse(&b).unwrap()
}

#[test]
fn action_match_combines_conditions() {
    let counts = FakeCounts::default();
    let new = IssueFacts {
        new_issue: true,
        ..issue()
    };
    let both = IssueFacts {
        new_issue: true,
        regression: true,
        ..issue()
    };
    let run = |m: &str, state: &IssueFacts| {
        fires(&combined(m, "all", json!([])), &event(), state, &counts)
    };
    assert!(!run("all", &new));
    assert!(run("all", &both));
    assert!(run("any", &new));
    assert!(!run("any", &issue()));
    assert!(run("none", &issue()));
    assert!(!run("none", &new));
    for m in ["all", "any", "none"] {
        let mut b = body(json!([]), json!([]));
        b["actionMatch"] = json!(m);
        let spec = parse(&b).unwrap();
        assert!(
            fires(&spec, &event(), &issue(), &counts),
            "no conditions pass ({m})"
        );
    }
}

#[test]
fn filter_match_combines_filters() {
    let counts = FakeCounts::default();
    let new = IssueFacts {
        new_issue: true,
        ..issue()
    };
    let filters = json!([
        {"id": ids::LEVEL_FILTER, "match": "eq", "level": "40"},
        {"id": ids::LATEST_RELEASE_FILTER},
    ]);
    let run = |fm: &str, state: &IssueFacts| {
        fires(
            &combined("any", fm, filters.clone()),
            &event(),
            state,
            &counts,
        )
    };
    assert!(!run("all", &new), "one filter fails");
    assert!(run("any", &new));
    assert!(!run("none", &new));
    let latest = IssueFacts {
        is_latest_release: true,
        ..new.clone()
    };
    assert!(run("all", &latest));
    let none_pass = json!([{"id": ids::LATEST_RELEASE_FILTER}]);
    assert!(fires(
        &combined("any", "none", none_pass),
        &event(),
        &new,
        &counts
    ));
    assert!(
        !run("any", &issue()),
        "filters never rescue failing conditions"
    );
}
