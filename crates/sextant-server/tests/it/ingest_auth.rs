//! Ingest authentication: every DSN-key carrier SDKs use, and the rejections (unknown,
//! revoked, foreign-project and missing or ambiguous credentials) with nothing stored.

use serde_json::json;

use crate::support::envelope::{envelope, event_envelope, message_event, new_id, now_rfc3339};
use crate::support::{Body, Resp, TestApp, sentry_auth};

/// A rejection: the status, a JSON `detail`, and the same text in `X-Sentry-Error`.
pub fn assert_rejected(resp: &Resp, status: u16) -> String {
    assert_eq!(resp.status, status, "body: {}", resp.text());
    let detail = resp.json()["detail"].as_str().map(str::to_string);
    let detail = detail.unwrap_or_else(|| panic!("error body has no detail: {}", resp.text()));
    assert!(!detail.trim().is_empty(), "empty detail");
    let header = resp
        .header("x-sentry-error")
        .unwrap_or_else(|| panic!("no X-Sentry-Error header on {status}"));
    assert!(!header.trim().is_empty(), "empty X-Sentry-Error header");
    detail
}

/// After rejected requests: a valid event still goes through and is the only one stored.
pub fn assert_nothing_stored_and_still_serving(app: &TestApp) {
    app.barrier();
    assert_eq!(app.event_count(), 1, "a rejected request stored an event");
}

fn one_event() -> (String, Vec<u8>) {
    event_envelope(message_event("auth probe"))
}

#[test]
fn x_sentry_auth_header_is_accepted() {
    let app = TestApp::spawn();
    let (id, body) = one_event();
    let r = app.send_envelope(body, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], json!(id));
    app.wait_for_event(&id);
}

#[test]
fn query_string_authorization_header_and_envelope_dsn_are_accepted() {
    let app = TestApp::spawn();
    let path = app.envelope_path();

    // Query string, as @sentry/node and the browser SDK send it.
    let (q_id, body) = one_event();
    let q = format!(
        "{path}?sentry_version=7&sentry_key={}&sentry_client=sentry.javascript.node%2F11.12.0",
        app.public_key
    );
    let r = app.request("POST", &q, &[], Body::Bytes(body));
    assert_eq!(r.status, 200, "query auth: {}", r.text());

    // `Authorization: Sentry …`.
    let (a_id, body) = one_event();
    let auth = sentry_auth(&app.public_key);
    let r = app.request(
        "POST",
        &path,
        &[("Authorization", &auth)],
        Body::Bytes(body),
    );
    assert_eq!(r.status, 200, "Authorization: Sentry: {}", r.text());

    // Only the envelope header's `dsn` (self-authenticating envelope).
    let d_id = new_id();
    let body = envelope(
        &json!({"event_id": d_id, "dsn": app.dsn, "sent_at": now_rfc3339()}),
        &[(
            json!({"type": "event"}),
            serde_json::to_vec(&message_event("dsn header")).unwrap(),
        )],
    );
    let r = app.request("POST", &path, &[], Body::Bytes(body));
    assert_eq!(r.status, 200, "envelope dsn: {}", r.text());

    for id in [q_id, a_id, d_id] {
        app.wait_for_event(&id);
    }
}

#[test]
fn missing_credentials_are_401() {
    let app = TestApp::spawn();
    let (_, body) = one_event();
    let r = app.request("POST", &app.envelope_path(), &[], Body::Bytes(body));
    assert_rejected(&r, 401);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn more_than_one_carrier_is_401() {
    let app = TestApp::spawn();
    let (_, body) = one_event();
    let q = format!(
        "{}?sentry_key={}&sentry_version=7",
        app.envelope_path(),
        app.public_key
    );
    let auth = app.auth_header();
    let r = app.request("POST", &q, &[("X-Sentry-Auth", &auth)], Body::Bytes(body));
    let detail = assert_rejected(&r, 401);
    assert!(
        detail.to_lowercase().contains("multiple"),
        "detail should say why: {detail}"
    );
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn unknown_key_is_401() {
    let app = TestApp::spawn();
    let (_, body) = one_event();
    let r = app.request(
        "POST",
        &app.envelope_path(),
        &[(
            "X-Sentry-Auth",
            &sentry_auth("0123456789abcdef0123456789abcdef"),
        )],
        Body::Bytes(body),
    );
    assert_rejected(&r, 401);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn revoked_key_is_401_and_reactivation_restores_it() {
    let app = TestApp::spawn();
    app.block_on(
        app.store()
            .set_key_active(app.project_id, &app.public_key, false),
    )
    .expect("deactivate key");
    let (_, body) = one_event();
    assert_rejected(&app.send_envelope(body, &[]), 401);

    app.block_on(
        app.store()
            .set_key_active(app.project_id, &app.public_key, true),
    )
    .expect("reactivate key");
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn key_of_another_project_is_403() {
    let app = TestApp::spawn();
    let store = app.store();
    let org = app.block_on(store.get_org("default")).expect("default org");
    let other = app
        .block_on(store.create_project(org.id, "other", "Other", Some("python")))
        .expect("create project");
    let other_key = app
        .block_on(store.create_key(other.id, "other key"))
        .expect("create key");

    // The other project's key against the default project's URL.
    let (_, body) = one_event();
    let r = app.request(
        "POST",
        &app.envelope_path(),
        &[("X-Sentry-Auth", &sentry_auth(&other_key.public_key))],
        Body::Bytes(body),
    );
    assert_rejected(&r, 403);

    // The same key on its own project's URL is fine and lands there, not in default.
    let (id, body) = one_event();
    let r = app.request(
        "POST",
        &format!("/api/{}/envelope/", other.id),
        &[("X-Sentry-Auth", &sentry_auth(&other_key.public_key))],
        Body::Bytes(body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    app.drain();
    let (status, event) = app.get(&format!("/api/0/projects/default/other/events/{id}/"));
    assert_eq!(status, 200, "event for project 'other' not served: {event}");
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn envelope_dsn_that_contradicts_the_request_auth_is_rejected() {
    let app = TestApp::spawn();
    let other_dsn = app.dsn_for("0123456789abcdef0123456789abcdef", app.project_id);
    let body = envelope(
        &json!({"event_id": new_id(), "dsn": other_dsn}),
        &[(
            json!({"type": "event"}),
            serde_json::to_vec(&message_event("mismatch")).unwrap(),
        )],
    );
    let r = app.send_envelope(body, &[]);
    assert!(
        matches!(r.status, 400 | 401 | 403),
        "header-auth mismatch must be rejected, got {} {}",
        r.status,
        r.text()
    );
    assert_rejected(&r, r.status);
    assert_nothing_stored_and_still_serving(&app);
}

/// A project with allowed origins refuses browser requests from other origins with 403;
/// requests without an Origin (server SDKs) are not affected.
#[test]
fn origins_outside_the_allowed_list_are_403() {
    let app = TestApp::spawn();
    let allowed = vec![
        "https://shop.example".to_string(),
        "*.cdn.example".to_string(),
    ];
    app.block_on(app.store().set_allowed_origins(app.project_id, &allowed))
        .expect("set allowed origins");

    let (_, body) = one_event();
    let refused = app.send_envelope(body, &[("Origin", "https://evil.example")]);
    let detail = assert_rejected(&refused, 403);
    assert!(detail.contains("evil.example"), "{detail}");

    for origin in ["https://shop.example", "https://eu.cdn.example"] {
        let (_, body) = one_event();
        let r = app.send_envelope(body, &[("Origin", origin)]);
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
    }
    let (_, body) = one_event();
    let referer = app.send_envelope(body, &[("Referer", "https://evil.example/checkout")]);
    assert_rejected(&referer, 403);
    let (_, body) = one_event();
    assert_eq!(
        app.send_envelope(body, &[]).status,
        200,
        "no Origin: server SDKs pass"
    );
}

/// A refused request whose body was never read closes its connection, so a client never
/// sends its next request down a connection the server is about to drop.
#[test]
fn refused_requests_with_a_body_close_the_connection() {
    let app = TestApp::spawn();
    let (_, body) = one_event();
    let refused = app.request(
        "POST",
        &app.envelope_path(),
        &[(
            "X-Sentry-Auth",
            &sentry_auth("0123456789abcdef0123456789abcdef"),
        )],
        Body::Bytes(body),
    );
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(refused.header("connection"), Some("close"));

    let (_, body) = one_event();
    let accepted = app.send_envelope(body, &[]);
    assert_eq!(accepted.status, 200);
    assert_ne!(
        accepted.header("connection"),
        Some("close"),
        "successful requests keep the connection"
    );
}
