//! Sessions, tokens and the cross-site defences: revoked tokens and ended sessions stop
//! working with the next request, cross-site and token-less form posts are refused,
//! passwords are stored as argon2id, sign-in is throttled, and the live stream reports
//! processed events.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use sextant_storage::{Role, TokenScope};

use crate::support::accounts::csrf_in;
use crate::support::envelope::event_envelope;
use crate::support::{Body, TestApp, sentry_auth};

const PASSWORD: &str = "correct horse battery";

#[test]
fn revoked_tokens_and_ended_sessions_stop_working_at_once() {
    let app = TestApp::spawn();
    let dana = app.create_user("dana@example.com", PASSWORD, Some(("default", Role::Owner)));
    let browser = app.sign_in("dana@example.com", PASSWORD);

    // A token created in the console is shown once and works against the API.
    let page = app.browser_post(
        &browser,
        "/account/tokens",
        &[("label", "ci"), ("scope", "read")],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let at = html.find("id=\"new-token\">").expect("token shown") + "id=\"new-token\">".len();
    let token = html[at..at + html[at..].find('<').unwrap()].to_string();
    let bearer = format!("Bearer {token}");
    assert_eq!(
        app.api_as(&bearer, "GET", "/api/0/projects/", None).status,
        200
    );
    assert!(
        !app.page(&browser.cookie, "/account")
            .text()
            .contains(&token),
        "shown once"
    );

    let id = app.block_on(app.store().list_user_tokens(dana)).unwrap()[0].id;
    let r = app.browser_post(&browser, &format!("/account/tokens/{id}/revoke"), &[]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        app.api_as(&bearer, "GET", "/api/0/projects/", None).status,
        401
    );

    // Another user's token cannot be revoked through this account.
    let erin = app.create_user("erin@example.com", PASSWORD, None);
    let erin_token = format!("Bearer {}", app.user_token(erin, TokenScope::Read));
    let erin_id = app.block_on(app.store().list_user_tokens(erin)).unwrap()[0].id;
    let r = app.browser_post(&browser, &format!("/account/tokens/{erin_id}/revoke"), &[]);
    assert_eq!(r.status, 404);
    assert_eq!(
        app.api_as(&erin_token, "GET", "/api/0/projects/", None)
            .status,
        200
    );

    // Signing out ends the session for every request after it.
    let second = app.sign_in("dana@example.com", PASSWORD);
    let r = app.browser_post(&browser, "/logout", &[]);
    assert_eq!(r.status, 303);
    let after = app.page(&browser.cookie, "/account");
    assert_eq!(after.status, 303, "the session ended");
    assert!(after.header("location").unwrap_or("").starts_with("/login"));
    assert_eq!(
        app.page(&second.cookie, "/account").status,
        200,
        "other sessions stay"
    );

    // A password change ends every session.
    let r = app.browser_post(
        &second,
        "/account/password",
        &[("current", PASSWORD), ("new", "a new long password")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(app.page(&second.cookie, "/account").status, 303);
}

#[test]
fn cross_site_and_tokenless_form_posts_are_rejected() {
    let app = TestApp::spawn();
    let event = app.ingest_event(json!({"message": "csrf target"}));
    let issue = crate::support::event::issue_id(&event);
    app.create_user("fay@example.com", PASSWORD, Some(("default", Role::Owner)));
    let b = app.sign_in("fay@example.com", PASSWORD);
    let path = format!("/orgs/default/default/issues/{issue}/action");

    // A form on another site posting with the victim's cookie (as SameSite=Lax would not
    // send it, but an old browser might): refused by the origin check.
    let r = app.form_post(
        Some(&b.cookie),
        &path,
        &[("_csrf", b.csrf.as_str()), ("action", "resolve")],
        &[
            ("Origin", "http://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Same origin but without the session's CSRF token: refused too.
    let r = app.form_post(Some(&b.cookie), &path, &[("action", "resolve")], &[]);
    assert_eq!(r.status, 403);
    let r = app.form_post(
        Some(&b.cookie),
        &path,
        &[("_csrf", "forged"), ("action", "resolve")],
        &[],
    );
    assert_eq!(r.status, 403);
    assert_eq!(app.issue(&issue)["status"], json!("unresolved"));
    // Login CSRF: a cross-site sign-in form is refused as well.
    let r = app.form_post(
        None,
        "/login",
        &[("email", "fay@example.com"), ("password", PASSWORD)],
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 403);

    let r = app.browser_post(&b, &path, &[("action", "resolve")]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(app.issue(&issue)["status"], json!("resolved"));
    // Pages carry a strict CSP.
    let page = app.page(&b.cookie, "/orgs/default/default/");
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
}

#[test]
fn setup_creates_an_argon2id_owner_once_and_sign_in_is_throttled() {
    let app = TestApp::spawn();
    assert_eq!(app.page("", "/").header("location"), Some("/setup"));
    let r = app.form_post(
        None,
        "/setup",
        &[("email", "Owner@Example.com"), ("password", PASSWORD)],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(r.header("set-cookie").unwrap_or("").contains("HttpOnly"));
    let user = app
        .block_on(app.store().find_user_by_email("owner@example.com"))
        .unwrap()
        .expect("owner created");
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    let orgs = app.block_on(app.store().memberships(user.id)).unwrap();
    assert_eq!(orgs[0].role, Role::Owner);
    // The setup page is gone once a user exists.
    let r = app.form_post(
        None,
        "/setup",
        &[("email", "x@example.com"), ("password", PASSWORD)],
        &[],
    );
    assert_eq!(r.status, 403);

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = app.form_post(
            None,
            "/login",
            &[
                ("email", "owner@example.com"),
                ("password", "wrong password"),
            ],
            &[],
        );
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    let r = app.form_post(
        None,
        "/login",
        &[("email", "owner@example.com"), ("password", PASSWORD)],
        &[],
    );
    assert_eq!(r.status, 429, "throttled even with the right password");
    assert!(r.header("retry-after").is_some());
}

/// Reads from a live-stream connection until `needle` appears; panics on timeout.
fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in live stream; got {seen}"
        );
        match stream.read(&mut buf) {
            Ok(0) => panic!("live stream closed; got {seen}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("live stream: {e}"),
        }
    }
}

/// Stores an event in project `shop` of a new organization `acme`; returns the event's id
/// and its issue's.
fn hidden_project_event(app: &TestApp) -> (String, i64) {
    let store = app.store();
    let acme = app.block_on(store.create_org("acme", "Acme")).expect("org");
    let shop = app
        .block_on(store.create_project(acme.id, "shop", "Shop", None))
        .expect("project");
    let key = app.block_on(store.create_key(shop.id, "k")).expect("key");
    let (id, body) = event_envelope(json!({"message": "hidden one"}));
    let r = app.request(
        "POST",
        &format!("/api/{}/envelope/", shop.id),
        &[("X-Sentry-Auth", &sentry_auth(&key.public_key))],
        Body::Bytes(body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    app.drain();
    let event = app
        .block_on(store.get_event(shop.id, &id))
        .expect("the hidden event is stored");
    (id, event.issue_id.expect("an issue"))
}

#[test]
fn the_live_stream_reports_processed_events_of_visible_projects_only() {
    let app = TestApp::spawn();
    app.create_user("gus@example.com", PASSWORD, Some(("default", Role::Member)));
    let b = app.sign_in("gus@example.com", PASSWORD);
    let html = app.page(&b.cookie, "/orgs/default/default/").text();
    assert_eq!(csrf_in(&html).as_deref(), Some(b.csrf.as_str()));

    let host = app.base_url.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        stream,
        "GET /orgs/default/default/live HTTP/1.1\r\nHost: {host}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        b.cookie
    )
    .unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: ready");
    assert!(
        seen.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{seen}"
    );
    // An event of a project in another organization, which gus cannot see, processed
    // before the visible one: a notice of it would reach the stream first.
    let (hidden_id, hidden_issue) = hidden_project_event(&app);
    assert_eq!(
        app.page(&b.cookie, "/orgs/acme/shop/live").status,
        404,
        "gus cannot follow the hidden project"
    );
    let event = app.ingest_event(json!({"message": "live one"}));
    let issue = crate::support::event::issue_id(&event);
    assert_ne!(issue, hidden_issue.to_string());
    read_until(&mut stream, &mut seen, &format!("\"issue_id\":{issue},"));
    assert!(
        !seen.contains(&format!("\"issue_id\":{hidden_issue},")),
        "the stream reported event {hidden_id} of a project gus cannot see: {seen}"
    );

    // Signed out: no stream.
    let r = app.page("", "/orgs/default/default/live");
    assert_eq!(r.status, 303);
}
