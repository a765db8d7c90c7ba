//! Issue lifecycle through the API: counts and releases, resolve and regression,
//! resolve-in-next-release, bulk updates and deletion.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::envelope::{exception_event, frame};
use crate::support::event::issue_id;

fn crash(release: &str) -> Value {
    let mut e = exception_event(
        "KeyError",
        "'sku'",
        vec![
            frame(
                "shop.api",
                "post_order",
                "order = build_order(payload)",
                20,
                true,
            ),
            frame(
                "shop.orders",
                "build_order",
                "sku = payload['sku']",
                88,
                true,
            ),
        ],
    );
    e["release"] = json!(release);
    e["environment"] = json!("production");
    e
}

fn issue_path(id: &str) -> String {
    format!("/api/0/organizations/default/issues/{id}/")
}

fn version(v: &Value) -> Option<&str> {
    v.get("version")
        .and_then(Value::as_str)
        .or_else(|| v.as_str())
}

fn count(issue: &Value) -> i64 {
    issue["count"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .or_else(|| issue["count"].as_i64())
        .unwrap_or(-1)
}

fn set_status(app: &TestApp, id: &str, body: Value) -> Value {
    let (status, updated) = app.put(&issue_path(id), body.clone());
    assert_eq!(status, 200, "PUT {body}: {updated}");
    updated
}

#[test]
fn issue_tracks_counts_and_first_and_last_release() {
    let app = TestApp::spawn();
    let id = issue_id(&app.ingest_event(crash("shop@1.0.0")));
    app.ingest_event(crash("shop@1.1.0"));
    let issue = app.issue(&id);
    assert_eq!(issue["id"], json!(id), "issue ids are strings");
    assert_eq!(count(&issue), 2, "{issue}");
    assert_eq!(issue["title"], json!("KeyError: 'sku'"));
    assert_eq!(issue["culprit"], json!("shop.orders in build_order"));
    assert_eq!(issue["level"], json!("error"));
    assert_eq!(issue["status"], json!("unresolved"));
    assert_eq!(
        version(&issue["firstRelease"]),
        Some("shop@1.0.0"),
        "{issue}"
    );
    assert_eq!(
        version(&issue["lastRelease"]),
        Some("shop@1.1.0"),
        "{issue}"
    );
    assert_eq!(issue["isRegression"], json!(false));
    assert!(
        issue["firstSeen"].is_string() && issue["lastSeen"].is_string(),
        "{issue}"
    );
    assert!(issue["firstSeen"].as_str() <= issue["lastSeen"].as_str());
}

#[test]
fn a_new_event_reopens_a_resolved_issue_as_a_regression() {
    let app = TestApp::spawn();
    let id = issue_id(&app.ingest_event(crash("shop@1.0.0")));
    let resolved = set_status(&app, &id, json!({"status": "resolved"}));
    assert_eq!(resolved["status"], json!("resolved"), "{resolved}");
    assert_eq!(app.issue(&id)["status"], json!("resolved"));
    assert_eq!(app.issues("is:unresolved").len(), 0);

    let again = app.ingest_event(crash("shop@1.0.1"));
    assert_eq!(issue_id(&again), id, "the regression joins the same issue");
    let issue = app.issue(&id);
    assert_eq!(issue["status"], json!("unresolved"), "{issue}");
    assert_eq!(issue["isRegression"], json!(true), "{issue}");
    assert_eq!(issue["regressedInRelease"], json!("shop@1.0.1"), "{issue}");
    assert_eq!(app.issues("is:unresolved").len(), 1);
}

fn resolve_in_next_release(body: Value) {
    let app = TestApp::spawn();
    let id = issue_id(&app.ingest_event(crash("shop@1.0.0")));
    let updated = set_status(&app, &id, body);
    assert_eq!(updated["status"], json!("resolved"), "{updated}");
    let issue = app.issue(&id);
    assert_eq!(issue["status"], json!("resolved"));
    assert_eq!(
        issue["statusDetails"]["inNextRelease"],
        json!(true),
        "{issue}"
    );

    // Still happening in the release it was resolved in: expected, no reopening.
    let old = app.ingest_event(crash("shop@1.0.0"));
    assert_eq!(issue_id(&old), id);
    let issue = app.issue(&id);
    assert_eq!(
        issue["status"],
        json!("resolved"),
        "an event of the old release must not reopen: {issue}"
    );
    assert_eq!(count(&issue), 2);

    // The next release still has it: regression.
    app.ingest_event(crash("shop@2.0.0"));
    let issue = app.issue(&id);
    assert_eq!(issue["status"], json!("unresolved"), "{issue}");
    assert_eq!(issue["isRegression"], json!(true));
    assert_eq!(issue["regressedInRelease"], json!("shop@2.0.0"));
}

#[test]
fn resolved_in_next_release_reopens_only_for_a_newer_release() {
    resolve_in_next_release(json!({"status": "resolvedInNextRelease"}));
}

#[test]
fn resolved_with_in_next_release_status_details_behaves_the_same() {
    resolve_in_next_release(
        json!({"status": "resolved", "statusDetails": {"inNextRelease": true}}),
    );
}

#[test]
fn bulk_update_and_unresolve() {
    let app = TestApp::spawn();
    let a = issue_id(&app.ingest_event(crash("shop@1.0.0")));
    let mut other = crash("shop@1.0.0");
    other["exception"]["values"][0]["type"] = json!("ValueError");
    let b = issue_id(&app.ingest_event(other));
    assert_ne!(a, b);

    let path = format!("/api/0/projects/default/default/issues/?id={a}&id={b}");
    let (status, body) = app.put(&path, json!({"status": "resolved"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.issue(&a)["status"], json!("resolved"));
    assert_eq!(app.issue(&b)["status"], json!("resolved"));

    set_status(&app, &b, json!({"status": "unresolved"}));
    assert_eq!(app.issue(&b)["status"], json!("unresolved"));
    assert_eq!(app.issue(&a)["status"], json!("resolved"));

    let (status, body) = app.put(&issue_path(&a), json!({"status": "sideways"}));
    assert_eq!(status, 400, "unknown status must be rejected: {body}");
}

#[test]
fn deleting_an_issue_removes_it_and_its_events() {
    let app = TestApp::spawn();
    let event = app.ingest_event(crash("shop@1.0.0"));
    let id = issue_id(&event);
    let event_id = crate::support::event::event_id(&event).expect("event id");
    let (status, body) = app.delete(&issue_path(&id));
    assert!((200..300).contains(&status), "DELETE: {status} {body}");
    assert_eq!(app.get(&issue_path(&id)).0, 404);
    assert_eq!(app.get(&app.event_path(&event_id)).0, 404);
    assert_eq!(app.event_count(), 0);
}

#[test]
fn issue_events_and_latest_event() {
    let app = TestApp::spawn();
    let first = app.ingest_event(crash("shop@1.0.0"));
    let second = app.ingest_event(crash("shop@1.0.1"));
    let id = issue_id(&first);
    let (status, events) = app.get(&format!("/api/0/organizations/default/issues/{id}/events/"));
    assert_eq!(status, 200, "{events}");
    let ids: Vec<String> = events
        .as_array()
        .expect("array")
        .iter()
        .filter_map(crate::support::event::event_id)
        .collect();
    let first_id = crate::support::event::event_id(&first).unwrap();
    let second_id = crate::support::event::event_id(&second).unwrap();
    assert_eq!(ids.len(), 2, "{events}");
    assert!(ids.contains(&first_id) && ids.contains(&second_id));
    let (status, latest) = app.get(&format!(
        "/api/0/organizations/default/issues/{id}/events/latest/"
    ));
    assert_eq!(status, 200);
    assert_eq!(crate::support::event::event_id(&latest), Some(second_id));
}
