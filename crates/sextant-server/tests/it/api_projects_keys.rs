//! Projects, DSN keys and attachments through the REST API: create a project, ingest
//! with its key, disable and re-enable keys, and download event attachments.

use serde_json::{Value, json};
use sextant_storage::TokenScope;

use crate::support::envelope::{envelope, message_event, new_id, now_rfc3339};
use crate::support::{Body, TestApp, sentry_auth};

fn public_key(key: &Value) -> String {
    key.get("public")
        .or_else(|| key.get("publicKey"))
        .or_else(|| key.get("public_key"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("key without public part: {key}"))
        .to_string()
}

fn send_with_key(app: &TestApp, project_id: &str, key: &str, title: &str) -> (u16, String) {
    let id = new_id();
    let body = envelope(
        &json!({"event_id": id, "sent_at": now_rfc3339()}),
        &[(
            json!({"type": "event"}),
            serde_json::to_vec(&message_event(title)).unwrap(),
        )],
    );
    let r = app.request(
        "POST",
        &format!("/api/{project_id}/envelope/"),
        &[("X-Sentry-Auth", &sentry_auth(key))],
        Body::Bytes(body),
    );
    (r.status, id)
}

fn create_project(app: &TestApp, slug: &str) -> Value {
    let (status, project) = app.post(
        "/api/0/organizations/default/projects/",
        json!({"name": "Checkout Service", "slug": slug, "platform": "python"}),
    );
    assert!(
        status == 200 || status == 201,
        "create project: {status} {project}"
    );
    assert_eq!(project["slug"], json!(slug), "{project}");
    project
}

fn project_id(project: &Value) -> String {
    match &project["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("project id {other}"),
    }
}

/// Sentry gives every new project a default DSN key; tools (sentry-cli, Terraform)
/// read it right after creating the project.
#[test]
fn a_new_project_comes_with_a_dsn_key() {
    let app = TestApp::spawn();
    let pid = project_id(&create_project(&app, "checkout"));
    let (status, keys) = app.get("/api/0/projects/default/checkout/keys/");
    assert_eq!(status, 200, "{keys}");
    let keys = keys.as_array().cloned().unwrap_or_default();
    assert_eq!(
        keys.len(),
        1,
        "a new project comes with one DSN key: {keys:?}"
    );
    assert_key_json(&keys[0], &pid);
}

fn assert_key_json(key_json: &Value, pid: &str) -> String {
    let key = public_key(key_json);
    assert_eq!(key.len(), 32, "32-hex public key");
    let dsn = key_json["dsn"]["public"]
        .as_str()
        .unwrap_or_else(|| panic!("key without dsn.public: {key_json}"));
    assert!(
        dsn.contains(&key) && dsn.ends_with(&format!("/{pid}")),
        "DSN {dsn} must carry the key and project id"
    );
    key
}

#[test]
fn a_key_of_a_new_project_ingests_into_that_project() {
    let app = TestApp::spawn();
    let pid = project_id(&create_project(&app, "checkout"));
    let (status, created) = app.post(
        "/api/0/projects/default/checkout/keys/",
        json!({"name": "deploy"}),
    );
    assert!(status == 200 || status == 201, "{status} {created}");
    let key = assert_key_json(&created, &pid);

    let (status, id) = send_with_key(&app, &pid, &key, "into checkout");
    assert_eq!(status, 200);
    app.drain();
    let (status, event) = app.get(&format!("/api/0/projects/default/checkout/events/{id}/"));
    assert_eq!(
        status, 200,
        "event not served under the new project: {event}"
    );
    assert_eq!(
        app.get(&app.event_path(&id)).0,
        404,
        "and not under the default project"
    );
    let (status, issues) = app.get("/api/0/projects/default/checkout/issues/");
    assert_eq!(status, 200);
    assert_eq!(issues.as_array().map(Vec::len), Some(1), "{issues}");
    assert_eq!(app.issues("").len(), 0, "the default project stays empty");
    // The default project's key cannot write into the new project.
    let (status, _) = send_with_key(&app, &pid, &app.public_key, "wrong project");
    assert_eq!(status, 403);
}

#[test]
fn duplicate_project_slug_is_rejected() {
    let app = TestApp::spawn();
    create_project(&app, "dup");
    let (status, body) = app.post(
        "/api/0/organizations/default/projects/",
        json!({"name": "Again", "slug": "dup"}),
    );
    assert!(
        status == 409 || status == 400,
        "duplicate slug: {status} {body}"
    );
    assert!(body["detail"].is_string(), "{body}");
}

#[test]
fn keys_can_be_added_disabled_and_reenabled() {
    let app = TestApp::spawn();
    let (status, created) = app.post(
        "/api/0/projects/default/default/keys/",
        json!({"name": "ci"}),
    );
    assert!(status == 200 || status == 201, "{status} {created}");
    let key = public_key(&created);
    assert_ne!(key, app.public_key);
    let (status, keys) = app.get("/api/0/projects/default/default/keys/");
    assert_eq!(status, 200);
    assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");

    let pid = app.project_id.to_string();
    let (status, first) = send_with_key(&app, &pid, &key, "with the new key");
    assert_eq!(status, 200);
    app.wait_for_event(&first);

    let (status, updated) = app.put(
        &format!("/api/0/projects/default/default/keys/{key}/"),
        json!({"isActive": false}),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["isActive"], json!(false), "{updated}");
    let (status, refused) = send_with_key(&app, &pid, &key, "with a disabled key");
    assert_eq!(status, 401, "a disabled key is refused");
    // The other key is unaffected.
    let (status, _) = send_with_key(&app, &pid, &app.public_key, "with the default key");
    assert_eq!(status, 200);

    let (status, _) = app.put(
        &format!("/api/0/projects/default/default/keys/{key}/"),
        json!({"isActive": true}),
    );
    assert_eq!(status, 200);
    let (status, again) = send_with_key(&app, &pid, &key, "re-enabled");
    assert_eq!(status, 200);
    app.wait_for_event(&again);
    assert_eq!(app.get(&app.event_path(&refused)).0, 404);
}

#[test]
fn project_and_key_changes_need_an_admin_token() {
    let app = TestApp::spawn();
    let token = sextant_server::accounts::token::generate_token();
    let hash = sextant_server::accounts::token::hash_token(&token);
    app.block_on(
        app.store()
            .create_token(&hash, TokenScope::Write, "e2e write"),
    )
    .expect("token");
    let auth = format!("Bearer {token}");
    let r = app.api_as(
        &auth,
        "POST",
        "/api/0/organizations/default/projects/",
        Some(json!({"name": "x", "slug": "x"})),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = app.api_as(
        &auth,
        "POST",
        "/api/0/projects/default/default/keys/",
        Some(json!({"name": "x"})),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        app.api_as(&auth, "GET", "/api/0/projects/default/default/keys/", None)
            .status,
        200
    );
}

#[test]
fn attachments_are_listed_and_downloaded_byte_exact() {
    let app = TestApp::spawn();
    let id = new_id();
    // Binary payload with CR, LF and NUL bytes: only `length` frames it.
    let bytes: Vec<u8> = b"\x89PNG\r\n\x1a\n\0line\nend".to_vec();
    let body = envelope(
        &json!({"event_id": id}),
        &[
            (
                json!({"type": "event"}),
                serde_json::to_vec(&message_event("with attachment")).unwrap(),
            ),
            (
                json!({"type": "attachment", "filename": "shot.png", "content_type": "image/png"}),
                bytes.clone(),
            ),
        ],
    );
    assert_eq!(app.send_ok(body), id);
    app.wait_for_event(&id);
    let list_path = format!("/api/0/projects/default/default/events/{id}/attachments/");
    // Stored with its event, in one transaction.
    let (status, list) = app.get(&list_path);
    assert!(
        status == 200 && list.as_array().is_some_and(|a| !a.is_empty()),
        "attachment not listed: {status} {list}"
    );
    let att = &list[0];
    assert_eq!(att["name"], json!("shot.png"), "{att}");
    let size = att["size"]
        .as_i64()
        .or_else(|| att["size"].as_str().and_then(|s| s.parse().ok()));
    assert_eq!(size, Some(bytes.len() as i64), "{att}");
    let att_id = match &att["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let r = app.api("GET", &format!("{list_path}{att_id}/?download=1"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, bytes, "downloaded bytes differ");
}
