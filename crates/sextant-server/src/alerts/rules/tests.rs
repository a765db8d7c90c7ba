//! Tests of rule parsing and names (`parse`), evaluation (`eval`), what lets evaluation
//! skip an event (`gating`) and event facts (`facts`), with the helpers they share.

mod eval;
mod facts;
mod gating;
mod parse;
mod refusals;

use serde_json::{Value, json};

use super::*;

/// A valid body around these conditions and filters, with one action.
fn body(conditions: Value, filters: Value) -> Value {
    json!({
        "name": "Checkout errors",
        "actionMatch": "all",
        "filterMatch": "all",
        "frequency": 30,
        "conditions": conditions,
        "filters": filters,
        "actions": [{"id": ids::LEGACY_ACTION}],
    })
}

fn rule(conditions: Value, filters: Value) -> RuleSpec {
    parse(&body(conditions, filters)).expect("valid rule")
}

/// The error `parse` gives once `change` is applied to a valid body.
fn refusal(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> RuleError {
    let mut b = body(json!([{"id": ids::FIRST_SEEN}]), json!([]));
    change(b.as_object_mut().expect("object"));
    parse(&b).expect_err("refused")
}
