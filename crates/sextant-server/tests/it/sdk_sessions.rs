//! Release health from the real SDKs: the Rust `sentry` crate with session tracking (the
//! session crashes through a caught panic), Python's request-mode aggregates and Node's
//! sessions, read back as counts and crash-free rates from the release health API.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::sdk::{node, python, repo_root, run};
use crate::support::{TestApp, WAIT, wait_until};

fn health(app: &TestApp, release: &str, env: &str, total: i64) -> Value {
    let path = format!(
        "/api/0/projects/default/default/releases/{release}/health/?environment={env}&statsPeriod=1d"
    );
    let mut last = Value::Null;
    let ok = wait_until(WAIT, || {
        let (status, body) = app.get(&path);
        last = body;
        status == 200 && last["sessions"]["total"] == json!(total)
    });
    assert!(ok, "expected {total} sessions of {release}: {last:#}");
    last
}

#[inline(never)]
fn checkout(items: &[u32]) -> u32 {
    let idx = items.len() + 1;
    items[idx]
}

#[test]
fn rust_sdk_session_crashed_by_a_panic() {
    let app = TestApp::spawn();
    let guard = sentry::init((app.dsn.clone(), {
        let mut o = sentry::ClientOptions::new()
            .release("rust-health@1.0")
            .environment("ci");
        o.auto_session_tracking = true;
        o
    }));
    // `auto_session_tracking` started the session at init.
    let caught = std::panic::catch_unwind(|| checkout(&[1, 2]));
    assert!(caught.is_err());
    sentry::end_session();
    let client = sentry::Hub::current().client().expect("client");
    assert!(client.close(Some(Duration::from_secs(10))));
    drop(guard);

    let h = health(&app, "rust-health@1.0", "ci", 1);
    assert_eq!(h["sessions"]["crashed"], 1, "{h:#}");
    assert_eq!(h["crashFreeSessions"], json!(0.0), "{h:#}");
    // Users are not asserted: a hub inherits the process hub's user, which another
    // SDK test in this binary may have set.
}

#[test]
fn python_sdk_request_mode_aggregates() {
    let app = TestApp::spawn();
    let dir = repo_root().join("tests/sdk/python");
    let out = run(
        &python(),
        &["send_sessions.py", &app.dsn],
        &dir,
        &[],
        Duration::from_secs(60),
    );
    out.assert_success();
    let h = health(&app, "py-health@1.0", "production", 5);
    assert_eq!(h["sessions"]["errored"], 2, "{h:#}");
    assert_eq!(h["sessions"]["crashed"], 0, "{h:#}");
    assert_eq!(h["crashFreeSessions"], json!(100.0), "{h:#}");
}

#[test]
fn node_sdk_sessions() {
    let app = TestApp::spawn();
    let dir = repo_root().join("tests/sdk/node");
    let out = run(
        &node(),
        &["send_sessions.js", &app.dsn],
        &dir,
        &[],
        Duration::from_secs(60),
    );
    out.assert_success();
    let h = health(&app, "node-health@1.0", "production", 3);
    assert_eq!(h["sessions"]["errored"], 1, "{h:#}");
    assert_eq!(h["crashFreeSessions"], json!(100.0), "{h:#}");
}
