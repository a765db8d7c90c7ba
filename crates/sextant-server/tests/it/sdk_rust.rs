//! The real Rust SDK (`sentry` 0.49 with the ureq transport) in this test process:
//! `capture_error` and a caught panic reported by the panic integration.
//!
//! One test only: the panic integration installs a process-wide panic hook, and the
//! client is bound to this test thread's hub, so nothing else in the binary reports.

use std::time::Duration;

use serde_json::json;

use crate::support::TestApp;
use crate::support::event::{
    environment, exceptions, frame_views, issue_id, release, str_field, tag,
};

#[inline(never)]
fn parse_port(input: &str) -> Result<u16, std::num::ParseIntError> {
    input.trim().parse::<u16>()
}

#[inline(never)]
fn explode_cart(items: &[u32]) -> u32 {
    let idx = items.len() + 4;
    if idx > 3 {
        panic!("cart index {idx} out of range");
    }
    items[idx]
}

#[test]
fn rust_sdk_error_and_panic() {
    let app = TestApp::spawn();
    let guard = sentry::init((
        app.dsn.clone(),
        sentry::ClientOptions::new()
            .release("rust-app@3.1.4")
            .environment("ci")
            .in_app_include(["it"]),
    ));
    assert!(
        guard.is_enabled(),
        "the DSN {} must be accepted by the SDK",
        app.dsn
    );
    sentry::configure_scope(|scope| {
        scope.set_user(Some(sentry::User {
            id: Some("r-3".into()),
            email: Some("ferris@example.com".into()),
            ..Default::default()
        }));
        scope.set_tag("crate", "sextant-e2e");
    });

    let err = parse_port("80a").expect_err("not a port");
    let error_id = sentry::capture_error(&err).simple().to_string();

    let caught = std::panic::catch_unwind(|| explode_cart(&[1, 2, 3]));
    assert!(caught.is_err(), "the closure panics");
    let panic_id = sentry::last_event_id()
        .expect("the panic integration captured the panic")
        .simple()
        .to_string();
    assert_ne!(panic_id, error_id);

    let client = sentry::Hub::current()
        .client()
        .expect("client bound to this thread");
    assert!(
        client.close(Some(Duration::from_secs(10))),
        "the SDK flushed within 10 s"
    );
    drop(guard);

    let error = app.wait_for_event(&error_id);
    assert_eq!(
        str_field(&error, &["title"]),
        Some("ParseIntError: invalid digit found in string"),
        "{error}"
    );
    assert_eq!(release(&error).as_deref(), Some("rust-app@3.1.4"));
    assert_eq!(environment(&error).as_deref(), Some("ci"));
    assert_eq!(error["user"]["email"], json!("ferris@example.com"));
    assert_eq!(tag(&error, "crate").as_deref(), Some("sextant-e2e"));

    let panic = app.wait_for_event(&panic_id);
    assert_eq!(
        str_field(&panic, &["title"]),
        Some("panic: cart index 7 out of range"),
        "{panic}"
    );
    assert_eq!(str_field(&panic, &["level"]), Some("fatal"));
    assert_eq!(release(&panic).as_deref(), Some("rust-app@3.1.4"));
    assert_eq!(environment(&panic).as_deref(), Some("ci"));
    let mechanism = exceptions(&panic).last().expect("exception")["mechanism"].clone();
    assert_eq!(mechanism["type"], json!("panic"), "{mechanism}");
    assert_eq!(mechanism["handled"], json!(false));
    let frames = frame_views(&panic);
    let explode = frames
        .iter()
        .find(|f| {
            f.function
                .as_deref()
                .is_some_and(|n| n.ends_with("sdk_rust::explode_cart"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no explode_cart frame among {:#?}",
                frames.iter().map(|f| &f.function).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        explode.in_app,
        Some(true),
        "in_app_include = [\"it\"]: {explode:?}"
    );
    assert_ne!(issue_id(&error), issue_id(&panic));
}
