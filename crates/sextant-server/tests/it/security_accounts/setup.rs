//! First-run setup makes exactly one owner and only for this machine, and with a public
//! URL only its origin may post.

use std::io::{Read, Write};
use std::net::TcpStream;

use sextant_storage::Role;

use super::PASSWORD;
use crate::support::{TestApp, WAIT};

#[test]
fn concurrent_setups_make_exactly_one_owner() {
    let app = TestApp::spawn();
    let start = std::sync::Barrier::new(5);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..5)
            .map(|n| {
                let (app, start) = (&app, &start);
                s.spawn(move || {
                    let email = format!("first{n}@example.com");
                    start.wait();
                    app.form_post(
                        None,
                        "/setup",
                        &[("email", email.as_str()), ("password", PASSWORD)],
                        &[],
                    )
                    .status
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 403),
        "{statuses:?}"
    );
    assert_eq!(app.block_on(app.store().count_users()).unwrap(), 1);
    let org = app.block_on(app.store().get_org("default")).unwrap();
    let members = app.block_on(app.store().list_members(org.id)).unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0].role, Role::Owner);
}

/// A form POST with the `Host` and `Origin` a browser on another name would send.
fn post_as(app: &TestApp, path: &str, host: &str, origin: &str, fields: &[(&str, &str)]) -> u16 {
    let body = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::support::encode(k),
                crate::support::encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let addr = app.base_url.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).expect("response");
    let head = String::from_utf8_lossy(&response);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn setup_is_served_only_to_this_machine() {
    let app = TestApp::spawn();
    let port = app.base_url.rsplit(':').next().unwrap().to_string();
    let owner = [("email", "first@example.com"), ("password", PASSWORD)];

    // A page on a DNS-rebound name sends that name as both Host and Origin.
    let rebound = format!("rebind.example:{port}");
    let status = post_as(
        &app,
        "/setup",
        &rebound,
        &format!("http://{rebound}"),
        &owner,
    );
    assert_eq!(status, 403);
    // Through a proxy every client looks local.
    let proxied = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(app.form_post(None, "/setup", &owner, &proxied).status, 403);
    let r = app.request("GET", "/setup", &proxied, crate::support::Body::None);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("allow_remote_setup"), "{}", r.text());
    assert_eq!(app.block_on(app.store().count_users()).unwrap(), 0);

    // From this machine it works.
    assert_eq!(app.page("", "/setup").status, 200);
    let r = app.form_post(None, "/setup", &owner, &[]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(app.block_on(app.store().count_users()).unwrap(), 1);

    // Configured otherwise, setup is served to anyone.
    let app = TestApp::spawn_with(|c| c.allow_remote_setup = true);
    assert_eq!(app.form_post(None, "/setup", &owner, &proxied).status, 303);
}

#[test]
fn with_a_public_url_only_its_origin_may_post() {
    let public = "https://sextant.example.com";
    let app = TestApp::spawn_with(|c| c.public_url = Some(format!("{public}/")));
    app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    let credentials = [("email", "olive@example.com"), ("password", PASSWORD)];
    let here = app.base_url.trim_start_matches("http://").to_string();

    // Origin equal to Host is not enough, whether the name is ours or a rebound one.
    assert_eq!(
        post_as(&app, "/login", &here, &app.base_url, &credentials),
        403
    );
    let rebound = "rebind.example:9000";
    let origin = format!("http://{rebound}");
    assert_eq!(post_as(&app, "/login", rebound, &origin, &credentials), 403);
    assert_eq!(post_as(&app, "/login", &here, public, &credentials), 303);
}
