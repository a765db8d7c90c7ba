//! The real Python SDK (sentry-sdk 2.75.0, `tests/sdk/python/send_event.py`) against the
//! server: handled and unhandled exceptions with source context and local variables,
//! messages, custom fingerprints, and both of its compressions (br and gzip).

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::event::{
    breadcrumbs, environment, exceptions, frame_views, issue_id, release, str_field, tag,
};
use crate::support::sdk::python_driver;

const TYPE_ERROR: &str = "TypeError: unsupported operand type(s) for /: 'int' and 'NoneType'";

fn run_ok(
    app: &TestApp,
    scenario: &str,
    envs: &[(&str, &str)],
    expected_events: usize,
) -> Vec<Value> {
    let run = python_driver(&app.dsn, scenario, envs);
    run.assert_success();
    let ids = run.event_ids();
    assert_eq!(ids.len(), expected_events, "driver output: {}", run.stdout);
    ids.iter().map(|id| app.wait_for_event(id)).collect()
}

fn assert_handled_event(event: &Value, release_name: &str) {
    assert_eq!(str_field(event, &["title"]), Some(TYPE_ERROR), "{event}");
    assert_eq!(
        str_field(event, &["culprit"]),
        Some("__main__ in apply_discount")
    );
    assert_eq!(str_field(event, &["level"]), Some("error"));
    assert_eq!(release(event).as_deref(), Some(release_name));
    assert_eq!(environment(event).as_deref(), Some("staging"));

    let frames = frame_views(event);
    let top = frames.last().expect("frames");
    assert_eq!(
        top.function.as_deref(),
        Some("apply_discount"),
        "{frames:#?}"
    );
    assert_eq!(top.module.as_deref(), Some("__main__"));
    assert_eq!(top.in_app, Some(true));
    assert_eq!(
        top.context_line.as_deref(),
        Some("    return subtotal / discount")
    );
    assert!(
        top.pre_context
            .iter()
            .any(|l| l.contains("discount = None")),
        "pre_context must show the lines above: {:?}",
        top.pre_context
    );
    assert!(!top.post_context.is_empty(), "post_context");
    let vars = top.vars.as_ref().expect("local variables");
    assert_eq!(vars["subtotal"], json!("42"), "{vars}");
    assert_eq!(vars["discount"], json!("None"));
    assert_eq!(vars["coupon_code"], json!("'SPRING-24'"));
    assert_eq!(vars["cart_items"], json!(["19", "23"]));
    let caller = &frames[frames.len() - 2];
    assert_eq!(caller.function.as_deref(), Some("<module>"));
    assert!(
        caller
            .context_line
            .as_deref()
            .unwrap_or_default()
            .contains("apply_discount([19, 23], \"SPRING-24\")")
    );

    let user = &event["user"];
    assert_eq!(user["id"], json!("u-1001"), "{user}");
    assert_eq!(user["email"], json!("ada@example.com"));
    assert_eq!(tag(event, "feature").as_deref(), Some("checkout"));
    assert_eq!(tag(event, "tenant").as_deref(), Some("acme"));
    let crumbs = breadcrumbs(event);
    assert_eq!(crumbs.len(), 2, "{crumbs:?}");
    assert_eq!(crumbs[0]["message"], json!("user signed in"));
    assert_eq!(crumbs[0]["category"], json!("auth"));
    assert_eq!(crumbs[1]["category"], json!("http"));
    assert_eq!(crumbs[1]["data"]["status_code"], json!(502));
}

#[test]
fn python_sdk_handled_exception_with_context_and_local_variables() {
    let app = TestApp::spawn();
    let events = run_ok(&app, "handled", &[], 1);
    assert_handled_event(&events[0], "py-app@1.0.0");
    let issue = app.issue(&issue_id(&events[0]));
    assert_eq!(issue["title"], json!(TYPE_ERROR));
    assert_eq!(issue["culprit"], json!("__main__ in apply_discount"));
    assert_eq!(issue["userCount"], json!(1), "{issue}");
}

#[test]
fn python_sdk_gzip_transport_and_release_from_the_environment() {
    let app = TestApp::spawn();
    let envs = [
        ("SEXTANT_PY_COMPRESSION", "gzip"),
        ("SENTRY_RELEASE", "py-app@9.9.9"),
    ];
    let events = run_ok(&app, "handled", &envs, 1);
    assert_handled_event(&events[0], "py-app@9.9.9");
    let issue = app.issue(&issue_id(&events[0]));
    assert_eq!(
        issue["firstRelease"]["version"],
        json!("py-app@9.9.9"),
        "{issue}"
    );
}

#[test]
fn python_sdk_unhandled_exception_via_excepthook() {
    let app = TestApp::spawn();
    let events = run_ok(&app, "unhandled", &[("SENTRY_ENVIRONMENT", "canary")], 1);
    let event = &events[0];
    assert_eq!(
        str_field(event, &["title"]),
        Some("ValueError: invalid literal for int() with base 10: 'twelve'")
    );
    assert_eq!(environment(event).as_deref(), Some("canary"));
    let exc = exceptions(event);
    let mechanism = &exc.last().unwrap()["mechanism"];
    assert_eq!(
        mechanism["handled"],
        json!(false),
        "excepthook events are unhandled: {mechanism}"
    );
    let top = frame_views(event).pop().unwrap();
    assert_eq!(top.function.as_deref(), Some("parse_quantity"));
    assert_eq!(
        top.vars.as_ref().unwrap()["raw_quantity"],
        json!("'twelve'")
    );
    assert_eq!(top.context_line.as_deref(), Some("    return int(digits)"));
}

#[test]
fn python_sdk_messages_differing_in_numbers_share_an_issue() {
    let app = TestApp::spawn();
    let events = run_ok(&app, "message", &[], 2);
    assert_eq!(
        str_field(&events[0], &["title"]),
        Some("Payment 1001 failed after 3 attempts")
    );
    assert_eq!(
        str_field(&events[1], &["title"]),
        Some("Payment 2002 failed after 5 attempts")
    );
    assert_eq!(str_field(&events[0], &["level"]), Some("warning"));
    assert_eq!(issue_id(&events[0]), issue_id(&events[1]));
    let issue = app.issue(&issue_id(&events[0]));
    assert_eq!(issue["level"], json!("warning"));
    assert!(
        issue["count"] == json!("2") || issue["count"] == json!(2),
        "{issue}"
    );
}

#[test]
fn python_sdk_custom_fingerprint_merges_different_errors() {
    let app = TestApp::spawn();
    let events = run_ok(&app, "fingerprint", &[], 2);
    assert_eq!(str_field(&events[0], &["title"]), Some(TYPE_ERROR));
    assert!(
        str_field(&events[1], &["title"])
            .unwrap_or_default()
            .starts_with("ValueError")
    );
    assert_eq!(
        issue_id(&events[0]),
        issue_id(&events[1]),
        "fingerprint [\"checkout-failure\"] wins"
    );
    app.wait_for_issues("is:unresolved", 1);
}
