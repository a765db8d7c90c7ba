//! Delivery pacing: a receiver that never answers holds up only its own deliveries
//! (another integration's webhooks arrive while the slow ones wait for the outbound
//! timeout), and a worker whose slots are all busy takes the next delivery as soon as one
//! frees, not at its next poll.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::support::envelope::{event_envelope, exception_event, frame};
use crate::support::receiver::Receiver;
use crate::support::{TestApp, WAIT, wait_until};

/// A webhook endpoint that reads each request and never answers: it counts the requests
/// and the connections their sender gave up on.
#[derive(Clone, Default)]
struct Silent {
    arrived: Arc<Mutex<usize>>,
    abandoned: Arc<Mutex<usize>>,
}

impl Silent {
    fn start() -> (Silent, String) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let silent = Silent::default();
        let shared = silent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    // The request line and headers; the body and anything after are read
                    // below, until the sender closes the connection.
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        line.clear();
                    }
                    *shared.arrived.lock().unwrap() += 1;
                    let mut sink = [0; 4096];
                    while reader.read(&mut sink).unwrap_or(0) > 0 {}
                    *shared.abandoned.lock().unwrap() += 1;
                });
            }
        });
        (silent, url)
    }

    fn arrived(&self) -> usize {
        *self.arrived.lock().unwrap()
    }

    fn abandoned(&self) -> usize {
        *self.abandoned.lock().unwrap()
    }
}

fn subscribe(app: &TestApp, name: &str, url: &str) {
    let (status, body) = app.post(
        "/api/0/sentry-apps/",
        json!({
            "name": name,
            "organization": "default",
            "isInternal": true,
            "webhookUrl": url,
            "events": ["issue"],
        }),
    );
    assert_eq!(status, 201, "{body}");
}

/// An event that makes a new issue (its own exception type and function).
fn new_issue(app: &TestApp, n: usize) {
    let event = exception_event(
        &format!("SlowPathError{n}"),
        "slow",
        vec![frame("shop.slow", &format!("step_{n}"), "raise", 7, true)],
    );
    app.send_ok(event_envelope(event).1);
}

#[test]
fn a_silent_receiver_does_not_hold_up_other_deliveries() {
    const ISSUES: usize = 4;
    let app = TestApp::spawn_with(|c| {
        c.outbound.allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.outbound.timeout_ms = 2000;
        // One slow attempt each, then a retry far beyond the test.
        c.alerts.retry_secs = vec![600.0];
        c.alerts.poll_ms = 50;
    });
    let (silent, silent_url) = Silent::start();
    let normal = Receiver::start();
    subscribe(&app, "Silent Bridge", &silent_url);
    subscribe(&app, "Pager Bridge", &format!("{}/hook", normal.url));

    // The first issue's silent delivery is held before the others are even written.
    new_issue(&app, 0);
    assert!(
        wait_until(WAIT, || silent.arrived() >= 1),
        "the silent receiver never got its first request"
    );
    for n in 1..ISSUES {
        new_issue(&app, n);
    }
    assert!(
        wait_until(WAIT, || normal.received().len() >= ISSUES),
        "the other receiver did not get its deliveries"
    );
    assert_eq!(
        silent.abandoned(),
        0,
        "every normal delivery arrives before the first silent one times out"
    );

    // The silent deliveries did end with the timeout, and wait for their retry.
    assert!(
        wait_until(WAIT, || silent.abandoned() >= ISSUES),
        "the silent deliveries never timed out"
    );
    let waiting = wait_until(WAIT, || {
        let (_, list) = app.get("/api/0/organizations/default/alert-deliveries/?state=pending");
        let list = list.as_array()?.clone();
        (list.len() == ISSUES && list.iter().all(|d| d["attempts"] == 1)).then_some(list)
    })
    .expect("the silent deliveries pending after one attempt");
    let (_, detail) = app.get(&format!(
        "/api/0/organizations/default/alert-deliveries/{}/",
        waiting[0]["id"].as_str().unwrap()
    ));
    let error = detail["attemptLog"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("did not answer within 2000 ms"), "{detail}");
    let (_, delivered) = app.get("/api/0/organizations/default/alert-deliveries/?state=delivered");
    assert_eq!(delivered.as_array().map(Vec::len), Some(ISSUES));
    assert_eq!(normal.received().len(), ISSUES, "each sent once");
}

#[test]
fn a_busy_worker_takes_the_next_delivery_when_a_slot_frees() {
    // One slot, and a poll far beyond the test: only a freed slot can start the next
    // delivery, as the one issue's three deliveries are written (and announced) at once.
    let app = TestApp::spawn_with(|c| {
        c.outbound.allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.alerts.concurrency = 1;
        c.alerts.poll_ms = 600_000;
    });
    let receiver = Receiver::start();
    for name in ["First Bridge", "Second Bridge", "Third Bridge"] {
        subscribe(&app, name, &format!("{}/hook", receiver.url));
    }
    new_issue(&app, 0);
    assert!(
        wait_until(WAIT, || receiver.received().len() >= 3),
        "got {} of the 3 deliveries",
        receiver.received().len()
    );
}
