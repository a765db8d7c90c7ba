//! The legacy Python client raven 6.10.0 (`tests/sdk/python/send_raven.py`): a bare JSON
//! event POSTed to `/store/` with `Content-Encoding: deflate`, `sentry_version=6`, a
//! secret key in the DSN and a numeric level.

use serde_json::json;

use crate::support::TestApp;
use crate::support::event::{environment, frame_views, release, str_field, tag};
use crate::support::sdk::raven_driver;

#[test]
fn raven_store_request_with_deflate_is_ingested() {
    let app = TestApp::spawn();
    // raven requires the (deprecated) secret part; the server must ignore it.
    let dsn = app.dsn.replacen(
        &app.public_key,
        &format!("{}:0123456789abcdef0123456789abcdef", app.public_key),
        1,
    );
    let run = raven_driver(&dsn);
    run.assert_success();
    let ids = run.event_ids();
    assert_eq!(ids.len(), 1, "{}", run.stdout);
    let event = app.wait_for_event(&ids[0]);

    assert_eq!(
        str_field(&event, &["title"]),
        Some("TypeError: unsupported operand type(s) for /: 'int' and 'NoneType'")
    );
    assert_eq!(
        str_field(&event, &["culprit"]),
        Some("__main__ in legacy_checkout")
    );
    assert_eq!(
        str_field(&event, &["level"]),
        Some("error"),
        "raven's level 40 is error"
    );
    assert_eq!(release(&event).as_deref(), Some("raven-app@6.10.0"));
    assert_eq!(environment(&event).as_deref(), Some("legacy"));
    assert_eq!(event["user"]["email"], json!("grace@example.com"));
    assert_eq!(tag(&event, "feature").as_deref(), Some("legacy-checkout"));

    let top = frame_views(&event).pop().expect("frames");
    assert_eq!(top.function.as_deref(), Some("legacy_checkout"));
    assert_eq!(
        top.context_line.as_deref(),
        Some("    return sum(cart_items) / coupon")
    );
    let vars = top.vars.expect("raven sends local variables");
    assert_eq!(vars["cart_items"], json!(["4", "5"]), "{vars}");
}
