//! The real Node SDK (@sentry/node 11.12.0, `tests/sdk/node/send_event.js`): query-string
//! auth, chunked bodies without Content-Type, gzip above 32 KiB, handled and uncaught
//! errors with source context.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::event::{
    breadcrumbs, environment, exceptions, frame_views, issue_id, release, str_field, tag,
};
use crate::support::sdk::node_driver;

fn run_ok(app: &TestApp, scenario: &str) -> Value {
    let run = node_driver(&app.dsn, scenario, &[]);
    run.assert_success();
    let ids = run.event_ids();
    assert_eq!(ids.len(), 1, "driver output: {}", run.stdout);
    app.wait_for_event(&ids[0])
}

fn assert_common(event: &Value) {
    assert_eq!(release(event).as_deref(), Some("node-app@2.0.0"));
    assert_eq!(environment(event).as_deref(), Some("production"));
    assert_eq!(event["user"]["id"], json!("n-2002"), "{}", event["user"]);
    assert_eq!(event["user"]["email"], json!("linus@example.com"));
    assert_eq!(tag(event, "feature").as_deref(), Some("inventory"));
    assert_eq!(tag(event, "region").as_deref(), Some("eu-west"));
    let crumbs = breadcrumbs(event);
    let messages: Vec<&str> = crumbs
        .iter()
        .filter_map(|c| c["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"job picked up") && messages.contains(&"SELECT stock FROM items"),
        "{crumbs:?}"
    );
}

const HANDLED_TITLE: &str = "TypeError: Cannot read properties of undefined (reading 'length')";

fn assert_reserve_stock_frames(event: &Value) {
    let frames = frame_views(event);
    let top = frames.last().expect("frames");
    assert_eq!(top.function.as_deref(), Some("reserveStock"), "{frames:#?}");
    assert_eq!(top.in_app, Some(true));
    assert!(
        top.context_line
            .as_deref()
            .unwrap_or_default()
            .contains("warehouse.shelves.length"),
        "{top:?}"
    );
    assert!(
        top.pre_context
            .iter()
            .any(|l| l.contains("function reserveStock")),
        "{:?}",
        top.pre_context
    );
    assert!(!top.post_context.is_empty());
    let internals: Vec<_> = frames
        .iter()
        .filter(|f| {
            f.filename
                .as_deref()
                .is_some_and(|n| n.starts_with("node:internal"))
        })
        .collect();
    assert!(
        !internals.is_empty() && internals.iter().all(|f| f.in_app == Some(false)),
        "node internals are not in-app"
    );
}

#[test]
fn node_sdk_handled_exception() {
    let app = TestApp::spawn();
    let event = run_ok(&app, "handled");
    assert_eq!(
        str_field(&event, &["title"]),
        Some(HANDLED_TITLE),
        "{event}"
    );
    assert_eq!(str_field(&event, &["level"]), Some("error"));
    assert!(
        str_field(&event, &["culprit"])
            .unwrap_or_default()
            .contains("reserveStock"),
        "culprit: {}",
        event["culprit"]
    );
    assert_reserve_stock_frames(&event);
    assert_common(&event);
}

#[test]
fn node_sdk_uncaught_exception_is_sent_before_exit() {
    let app = TestApp::spawn();
    let event = run_ok(&app, "uncaught");
    assert_eq!(
        str_field(&event, &["title"]),
        Some("RangeError: Invalid array length"),
        "{event}"
    );
    assert_eq!(str_field(&event, &["level"]), Some("fatal"));
    let mechanism = exceptions(&event).last().unwrap()["mechanism"].clone();
    assert_eq!(mechanism["handled"], json!(false), "{mechanism}");
    assert_eq!(mechanism["type"], json!("auto.node.onuncaughtexception"));
    assert_eq!(
        frame_views(&event).last().unwrap().function.as_deref(),
        Some("allocateSlots")
    );
    assert_common(&event);
    let issue = app.issue(&issue_id(&event));
    assert_eq!(issue["level"], json!("fatal"));
}

#[test]
fn node_sdk_large_event_is_gzipped_and_chunked() {
    let app = TestApp::spawn();
    let event = run_ok(&app, "large");
    assert_eq!(str_field(&event, &["title"]), Some(HANDLED_TITLE));
    assert_reserve_stock_frames(&event);
    // The 40 KiB extra value made the body large enough for the SDK to gzip it. Where the
    // API exposes extra data (`context`, Sentry's name, or `extra`), it must be the blob,
    // possibly trimmed by normalization.
    if let Some(blob) = event
        .pointer("/context/blob")
        .or_else(|| event.pointer("/extra/blob"))
    {
        let blob = blob.as_str().unwrap_or_default();
        assert!(
            blob.len() >= 1024 && blob.trim_end_matches("...").bytes().all(|b| b == b'x'),
            "blob: {blob:.80}"
        );
    }
}
