//! Gating: what lets the evaluator skip reading an event, checked against evaluation.

use serde_json::json;

use super::body;
use super::eval::{FakeCounts, HOUR, NOW, event, issue, window};
use crate::alerts::rules::{EventFacts, IssueFacts, evaluate, ids, may_fire, parse};

/// `may_fire` never rules out a rule that fires: it over-approximates `evaluate` for every
/// event, whatever the checks on it say.
#[test]
fn may_fire_is_never_stricter_than_evaluate() {
    let level_check = json!({"id": ids::LEVEL_CONDITION, "match": "eq", "level": "40"});
    let mut counts = FakeCounts::default();
    counts.events.insert(window(HOUR, 0), 10);
    for action_match in ["all", "any", "none"] {
        for conditions in [
            json!([{"id": ids::FIRST_SEEN}]),
            json!([{"id": ids::EVENT_FREQUENCY, "value": 5, "interval": "1h"}, level_check]),
            json!([{"id": ids::EVENT_FREQUENCY, "value": 50, "interval": "1h"}]),
            json!([level_check]),
        ] {
            let mut b = body(conditions.clone(), json!([]));
            b["actionMatch"] = json!(action_match);
            let spec = parse(&b).unwrap();
            for level in ["error", "warning"] {
                let event = EventFacts {
                    level: level.into(),
                    ..event()
                };
                for state in [
                    issue(),
                    IssueFacts {
                        new_issue: true,
                        ..issue()
                    },
                ] {
                    if evaluate(&spec, &event, &state, &counts, NOW) {
                        assert!(
                            may_fire(&spec, &state, &counts),
                            "{action_match} {conditions} {level}"
                        );
                    }
                }
            }
        }
    }
    // It does rule out what no event could make fire.
    let quiet = parse(&body(
        json!([{"id": ids::EVENT_FREQUENCY, "value": 50, "interval": "1h"}]),
        json!([]),
    ))
    .unwrap();
    assert!(!may_fire(&quiet, &issue(), &counts));
    let reads = json!([{"id": ids::ATTRIBUTE_FILTER, "attribute": "stacktrace.code", "match": "co", "value": "x"}]);
    assert!(parse(&body(json!([]), reads)).unwrap().reads_source());
    assert!(!quiet.reads_source());
    let latest = json!([{"id": ids::LATEST_RELEASE_FILTER}]);
    assert!(
        parse(&body(json!([]), latest))
            .unwrap()
            .reads_latest_release()
    );
    assert!(!quiet.reads_latest_release());
}
