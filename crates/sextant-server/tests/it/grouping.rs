//! Grouping through the whole server: which events share an issue (stack, type,
//! in-app frames, custom fingerprints, normalised messages) and which do not.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::envelope::{exception_event, frame, message_event};
use crate::support::event::issue_id;

fn checkout_stack(main_line: u32, checkout_line: u32, discount: &str) -> Vec<Value> {
    let mut main = frame(
        "shop.views",
        "handle_checkout",
        "return checkout(cart)",
        main_line,
        true,
    );
    main["vars"] = json!({"cart": "<Cart 3 items>"});
    let mut checkout = frame(
        "shop.orders",
        "checkout",
        "return total / discount",
        checkout_line,
        true,
    );
    checkout["vars"] = json!({"total": "60", "discount": discount});
    vec![main, checkout]
}

fn group_of(app: &TestApp, event: Value) -> String {
    issue_id(&app.ingest_event(event))
}

#[test]
fn same_in_app_stack_groups_regardless_of_lines_vars_values_and_library_frames() {
    let app = TestApp::spawn();
    let a = group_of(
        &app,
        exception_event(
            "ZeroDivisionError",
            "division by zero in order 1001",
            checkout_stack(10, 42, "0"),
        ),
    );
    // Other line numbers, other local variables, other exception value.
    let b = group_of(
        &app,
        exception_event(
            "ZeroDivisionError",
            "division by zero in order 2002",
            checkout_stack(12, 57, "0.0"),
        ),
    );
    // Called through a framework: an extra frame that is not in-app.
    let mut stack = checkout_stack(10, 42, "0");
    stack.insert(
        0,
        frame(
            "django.core.handlers.base",
            "_get_response",
            "response = wrapped(request)",
            197,
            false,
        ),
    );
    let c = group_of(
        &app,
        exception_event("ZeroDivisionError", "division by zero", stack),
    );
    assert_eq!(
        a, b,
        "line numbers, vars and the value must not split the group"
    );
    assert_eq!(a, c, "non-in-app frames must not split the group");
    let issue = app.issue(&a);
    assert_eq!(
        issue["count"]
            .as_str()
            .map(str::to_string)
            .or_else(|| issue["count"].as_i64().map(|n| n.to_string())),
        Some("3".to_string()),
        "{issue}"
    );
}

#[test]
fn different_stacks_or_types_make_different_issues() {
    let app = TestApp::spawn();
    let base = group_of(
        &app,
        exception_event(
            "ZeroDivisionError",
            "division by zero",
            checkout_stack(10, 42, "0"),
        ),
    );

    let mut other_fn = checkout_stack(10, 42, "0");
    other_fn[1]["function"] = json!("refund");
    let refund = group_of(
        &app,
        exception_event("ZeroDivisionError", "division by zero", other_fn),
    );

    let mut other_line = checkout_stack(10, 42, "0");
    other_line[1]["context_line"] = json!("return total // discount");
    let other_code = group_of(
        &app,
        exception_event("ZeroDivisionError", "division by zero", other_line),
    );

    let type_err = group_of(
        &app,
        exception_event("TypeError", "division by zero", checkout_stack(10, 42, "0")),
    );

    let all = [&base, &refund, &other_code, &type_err];
    for (i, x) in all.iter().enumerate() {
        for y in &all[i + 1..] {
            assert_ne!(x, y, "expected four different issues: {all:?}");
        }
    }
    app.wait_for_issues("", 4);
}

#[test]
fn custom_fingerprint_overrides_default_grouping() {
    let app = TestApp::spawn();
    let mut first = exception_event("ZeroDivisionError", "a", checkout_stack(1, 2, "0"));
    first["fingerprint"] = json!(["checkout-failure"]);
    let mut refund_stack = checkout_stack(1, 2, "0");
    refund_stack[1]["function"] = json!("refund");
    let mut second = exception_event("KeyError", "b", refund_stack);
    second["fingerprint"] = json!(["checkout-failure"]);
    let mut third = exception_event("ZeroDivisionError", "a", checkout_stack(1, 2, "0"));
    third["fingerprint"] = json!(["payment-failure"]);
    let plain = exception_event("ZeroDivisionError", "a", checkout_stack(1, 2, "0"));

    let (g1, g2, g3, g4) = (
        group_of(&app, first),
        group_of(&app, second),
        group_of(&app, third),
        group_of(&app, plain),
    );
    assert_eq!(g1, g2, "same fingerprint, different errors: one issue");
    assert_ne!(g1, g3, "same error, different fingerprints: two issues");
    assert_ne!(g1, g4, "a fingerprint replaces the default grouping");
    assert_ne!(g3, g4);
}

#[test]
fn default_placeholder_extends_the_default_grouping() {
    let app = TestApp::spawn();
    let with = |extra: &str| {
        let mut e = exception_event("ZeroDivisionError", "a", checkout_stack(1, 2, "0"));
        e["fingerprint"] = json!(["{{ default }}", extra]);
        e
    };
    let eu = group_of(&app, with("eu"));
    let eu_again = group_of(&app, with("eu"));
    let us = group_of(&app, with("us"));
    assert_eq!(eu, eu_again);
    assert_ne!(
        eu, us,
        "{{{{ default }}}} plus a value splits the default group by that value"
    );
}

#[test]
fn messages_differing_only_in_numbers_uuids_or_emails_group_together() {
    let app = TestApp::spawn();
    let m1 = group_of(
        &app,
        message_event("Payment 1001 for user 7 failed after 3 attempts"),
    );
    let m2 = group_of(
        &app,
        message_event("Payment 20345 for user 81 failed after 12 attempts"),
    );
    let u1 = group_of(
        &app,
        message_event("Job 1b4e28ba-2fa1-11d2-883f-0016d3cca427 timed out for ada@example.com"),
    );
    let u2 = group_of(
        &app,
        message_event("Job 6fa459ea-ee8a-3ca4-894e-db77e160355e timed out for bob@example.org"),
    );
    let other = group_of(&app, message_event("Payment 1001 for user 7 was refunded"));
    assert_eq!(m1, m2, "numbers are normalised");
    assert_eq!(u1, u2, "UUIDs and e-mail addresses are normalised");
    assert_ne!(m1, other, "different text, different issue");
    assert_ne!(m1, u1);
    let issue = app.issue(&m1);
    assert!(
        issue["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Payment "),
        "the issue keeps a real message as title: {issue}"
    );
}

#[test]
fn logentry_templates_group_across_parameters() {
    let app = TestApp::spawn();
    let log = |param: &str, n: i64| {
        let mut e = message_event("ignored");
        e.as_object_mut().unwrap().remove("message");
        e["logentry"] = json!({"message": "Payment %s failed for %d items", "params": [param, n]});
        e
    };
    let a = app.ingest_event(log("p-1", 3));
    let b = app.ingest_event(log("p-99", 12));
    assert_eq!(
        issue_id(&a),
        issue_id(&b),
        "the template, not the formatted text, groups"
    );
    assert_eq!(a["title"], json!("Payment p-1 failed for 3 items"));
}
