//! Live streams end with the session or membership that allowed them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use sextant_server::ui::LIVE_RECHECK_INTERVAL;
use sextant_storage::Role;

use super::PASSWORD;
use crate::support::{TestApp, WAIT, wait_until};

/// A live-stream connection read by hand, so the test sees when the server ends it.
struct Live {
    conn: TcpStream,
    seen: String,
    closed: bool,
}

impl Live {
    fn open(app: &TestApp, cookie: &str) -> Live {
        let host = app.base_url.trim_start_matches("http://").to_string();
        let mut conn = TcpStream::connect(&host).expect("connect");
        conn.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        write!(
            conn,
            "GET /orgs/default/default/live HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\
             Accept: text/event-stream\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut live = Live {
            conn,
            seen: String::new(),
            closed: false,
        };
        live.wait_for("event: ready");
        live
    }

    /// Reads what has arrived; notes the end of the response (the last chunk, or the
    /// connection closed).
    fn poll(&mut self) {
        let mut buf = [0u8; 4096];
        match self.conn.read(&mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                self.closed |= self.seen.ends_with("\r\n0\r\n\r\n");
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.closed = true,
        }
    }

    fn wait_for(&mut self, needle: &str) {
        let found = wait_until(WAIT, || {
            self.poll();
            self.seen.contains(needle) || self.closed
        });
        assert!(
            found && self.seen.contains(needle),
            "no {needle:?} in the live stream (closed: {}); got {}",
            self.closed,
            self.seen
        );
    }

    /// Whether the server ends the stream within a few re-check intervals.
    fn ends(&mut self) -> bool {
        wait_until(LIVE_RECHECK_INTERVAL * 3 + Duration::from_secs(5), || {
            self.poll();
            self.closed
        })
    }
}

#[test]
fn live_streams_end_with_their_session_or_membership() {
    let app = TestApp::spawn();
    app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    let gus = app.create_user("gus@example.com", PASSWORD, Some(("default", Role::Member)));
    let olive = app.sign_in("olive@example.com", PASSWORD);
    let gus_a = app.sign_in("gus@example.com", PASSWORD);
    let gus_b = app.sign_in("gus@example.com", PASSWORD);
    let mut owner_live = Live::open(&app, &olive.cookie);
    let mut signed_out = Live::open(&app, &gus_a.cookie);
    let mut removed = Live::open(&app, &gus_b.cookie);

    // Signing out ends that session's stream; the other session's keeps going.
    assert_eq!(app.browser_post(&gus_a, "/logout", &[]).status, 303);
    assert!(signed_out.ends(), "still open: {}", signed_out.seen);
    let event = app.ingest_event(json!({"message": "after sign-out"}));
    let issue = crate::support::event::issue_id(&event);
    removed.wait_for(&format!("\"issue_id\":{issue}"));

    // Removal from the organization ends the member's stream; the owner's keeps going.
    let r = app.browser_post(
        &olive,
        "/orgs/default/members",
        &[("action", "remove"), ("user_id", &gus.to_string())],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(removed.ends(), "still open: {}", removed.seen);
    let event = app.ingest_event(json!({"message": "after removal"}));
    let issue = crate::support::event::issue_id(&event);
    owner_live.wait_for(&format!("\"issue_id\":{issue}"));
    assert!(!owner_live.closed);
}
