//! Organization isolation in the API and the console: a member of one organization gets
//! 404 (or 403) for another organization's issues, events, attachments, keys and live
//! stream, and token scopes and member roles limit what a token may change.

use serde_json::json;
use sextant_storage::{Role, TokenScope};

use crate::support::envelope::{envelope, message_event, new_id, now_rfc3339};
use crate::support::{Body, TestApp, sentry_auth};

const PASSWORD: &str = "correct horse battery";

/// Organization `acme` with project `shop`, holding one event with an attachment.
/// Returns (project id, issue id, event id, attachment id, public key).
fn other_org(app: &TestApp) -> (i64, i64, String, i64, String) {
    let store = app.store();
    let org = app.block_on(store.create_org("acme", "Acme")).expect("org");
    let project = app
        .block_on(store.create_project(org.id, "shop", "Shop", None))
        .expect("project");
    let key = app
        .block_on(store.create_key(project.id, "k"))
        .expect("key");
    let id = new_id();
    let body = envelope(
        &json!({"event_id": id, "sent_at": now_rfc3339()}),
        &[
            (
                json!({"type": "event"}),
                serde_json::to_vec(&message_event("acme secret")).unwrap(),
            ),
            (
                json!({"type": "attachment", "filename": "dump.txt"}),
                b"private bytes".to_vec(),
            ),
        ],
    );
    let r = app.request(
        "POST",
        &format!("/api/{}/envelope/", project.id),
        &[("X-Sentry-Auth", &sentry_auth(&key.public_key))],
        Body::Bytes(body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    app.drain();
    let event = app
        .block_on(store.get_event(project.id, &id))
        .expect("event stored");
    // The attachment was written in the same transaction as the event.
    let attachment = app
        .block_on(store.list_attachments(project.id, &id))
        .expect("attachments")
        .first()
        .expect("attachment stored")
        .id;
    (
        project.id,
        event.issue_id.expect("issue"),
        id,
        attachment,
        key.public_key,
    )
}

#[test]
fn a_member_of_one_org_cannot_reach_another_orgs_data_through_the_api() {
    let app = TestApp::spawn();
    let (_pid, issue, event, attachment, key) = other_org(&app);
    let alice = app.create_user(
        "alice@example.com",
        PASSWORD,
        Some(("default", Role::Admin)),
    );
    let token = format!("Bearer {}", app.user_token(alice, TokenScope::Admin));
    let own = app.ingest_event(json!({"message": "default org event"}));
    let own_issue = crate::support::event::issue_id(&own);

    let get = |path: &str| app.api_as(&token, "GET", path, None).status;
    // Her own organization works.
    assert_eq!(get("/api/0/projects/default/default/issues/"), 200);
    assert_eq!(
        get(&format!("/api/0/organizations/default/issues/{own_issue}/")),
        200
    );

    for path in [
        "/api/0/organizations/acme/".to_string(),
        "/api/0/organizations/acme/projects/".to_string(),
        "/api/0/organizations/acme/issues/".to_string(),
        "/api/0/projects/acme/shop/".to_string(),
        "/api/0/projects/acme/shop/issues/".to_string(),
        format!("/api/0/organizations/acme/issues/{issue}/"),
        format!("/api/0/issues/{issue}/"),
        format!("/api/0/issues/{issue}/events/"),
        format!("/api/0/issues/{issue}/events/latest/"),
        format!("/api/0/organizations/acme/issues/{issue}/tags/"),
        format!("/api/0/projects/acme/shop/events/{event}/"),
        format!("/api/0/projects/acme/shop/events/{event}/json/"),
        format!("/api/0/projects/acme/shop/events/{event}/attachments/"),
        format!("/api/0/projects/acme/shop/events/{event}/attachments/{attachment}/?download=1"),
        "/api/0/projects/acme/shop/keys/".to_string(),
        format!("/api/0/projects/acme/shop/keys/{key}/"),
    ] {
        let status = get(&path);
        assert!(
            status == 404 || status == 403,
            "GET {path} answered {status}"
        );
    }
    for (method, path, body) in [
        (
            "PUT",
            format!("/api/0/issues/{issue}/"),
            Some(json!({"status": "resolved"})),
        ),
        (
            "DELETE",
            format!("/api/0/organizations/acme/issues/{issue}/"),
            None,
        ),
        (
            "PUT",
            "/api/0/projects/acme/shop/issues/".to_string(),
            Some(json!({"status": "resolved"})),
        ),
        (
            "POST",
            "/api/0/projects/acme/shop/keys/".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            "DELETE",
            format!("/api/0/projects/acme/shop/keys/{key}/"),
            None,
        ),
        ("DELETE", "/api/0/projects/acme/shop/".to_string(), None),
    ] {
        let status = app.api_as(&token, method, &path, body).status;
        assert!(
            status == 404 || status == 403,
            "{method} {path} answered {status}"
        );
    }
    // The org-less issue route does not leak either, and nothing changed.
    let still = app
        .block_on(app.store().get_issue(issue))
        .expect("issue still there");
    assert_eq!(still.status.as_str(), "unresolved");

    // Listings only show her organization.
    let orgs = app
        .api_as(&token, "GET", "/api/0/organizations/", None)
        .json();
    assert_eq!(orgs.as_array().map(Vec::len), Some(1), "{orgs}");
    let projects = app.api_as(&token, "GET", "/api/0/projects/", None).json();
    assert!(!projects.to_string().contains("\"shop\""), "{projects}");

    // The instance-wide CLI token still sees everything.
    assert_eq!(app.get(&format!("/api/0/issues/{issue}/")).0, 200);
}

#[test]
fn a_member_of_one_org_cannot_reach_another_orgs_data_in_the_console() {
    let app = TestApp::spawn();
    let (_pid, issue, event, attachment, _key) = other_org(&app);
    app.create_user("bob@example.com", PASSWORD, Some(("default", Role::Owner)));
    let bob = app.sign_in("bob@example.com", PASSWORD);
    assert_eq!(app.page(&bob.cookie, "/orgs/default/default/").status, 200);

    for path in [
        "/orgs/acme/shop/".to_string(),
        "/orgs/acme/settings".to_string(),
        "/orgs/acme/shop/settings".to_string(),
        format!("/orgs/acme/shop/issues/{issue}/"),
        format!("/orgs/default/default/issues/{issue}/"),
        format!("/orgs/acme/shop/events/{event}/json"),
        format!("/orgs/default/default/events/{event}/json"),
        format!("/orgs/acme/shop/events/{event}/attachments/{attachment}"),
        format!("/orgs/default/default/events/{event}/attachments/{attachment}"),
        "/orgs/acme/shop/live".to_string(),
    ] {
        let r = app.page(&bob.cookie, &path);
        assert!(
            r.status == 404 || r.status == 403,
            "GET {path} answered {}",
            r.status
        );
        assert!(!r.text().contains("acme secret"), "{path} leaked the event");
    }
    let issue_s = issue.to_string();
    for (path, fields) in [
        (
            format!("/orgs/acme/shop/issues/{issue}/action"),
            vec![("action", "resolve")],
        ),
        (
            "/orgs/acme/shop/bulk".to_string(),
            vec![("action", "resolve"), ("id", issue_s.as_str())],
        ),
        (
            "/orgs/acme/shop/keys".to_string(),
            vec![("action", "create")],
        ),
        (
            "/orgs/acme/invites".to_string(),
            vec![("action", "create"), ("email", "x@y.z"), ("role", "owner")],
        ),
    ] {
        let r = app.browser_post(&bob, &path, &fields);
        assert!(
            r.status == 404 || r.status == 403,
            "POST {path} answered {}",
            r.status
        );
    }
    // Bulk actions in his own project skip ids of other organizations' issues.
    let r = app.browser_post(
        &bob,
        "/orgs/default/default/bulk",
        &[
            ("action", "resolve"),
            ("id", issue_s.as_str()),
            ("back", "/"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let still = app.block_on(app.store().get_issue(issue)).expect("issue");
    assert_eq!(still.status.as_str(), "unresolved");
}

#[test]
fn token_scopes_and_member_roles_limit_writes() {
    let app = TestApp::spawn();
    let event = app.ingest_event(json!({"message": "scoped"}));
    let issue = crate::support::event::issue_id(&event);
    let carol = app.create_user(
        "carol@example.com",
        PASSWORD,
        Some(("default", Role::Member)),
    );
    let read = format!("Bearer {}", app.user_token(carol, TokenScope::Read));
    let write = format!("Bearer {}", app.user_token(carol, TokenScope::Write));
    let admin = format!("Bearer {}", app.user_token(carol, TokenScope::Admin));
    let issue_path = format!("/api/0/organizations/default/issues/{issue}/");

    assert_eq!(app.api_as(&read, "GET", &issue_path, None).status, 200);
    let r = app.api_as(
        &read,
        "PUT",
        &issue_path,
        Some(json!({"status": "resolved"})),
    );
    assert_eq!(r.status, 403, "a read token cannot write: {}", r.text());
    assert_eq!(app.issue(&issue)["status"], json!("unresolved"));
    let r = app.api_as(
        &write,
        "PUT",
        &issue_path,
        Some(json!({"status": "resolved"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An admin-scope token of a plain member still cannot manage keys.
    let r = app.api_as(
        &admin,
        "POST",
        "/api/0/projects/default/default/keys/",
        Some(json!({"name": "x"})),
    );
    assert_eq!(r.status, 403, "{}", r.text());
}
