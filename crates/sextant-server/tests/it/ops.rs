//! Operations: health and readiness probes, Prometheus metrics after traffic, and the
//! durability promise (a 200 means the event survives a shutdown right after it).

use serde_json::json;

use crate::support::envelope::{event_envelope, message_event};
use crate::support::{Body, TestApp};

/// Sum of every sample of `name` whose label set contains all of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (metric_name, label_part) = match series.split_once('{') {
            Some((n, rest)) => (n, rest),
            None => (series, ""),
        };
        if metric_name == name && labels.iter().all(|l| label_part.contains(l)) {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

#[test]
fn health_and_ready_answer() {
    let app = TestApp::spawn();
    let health = app.request("GET", "/health", &[], Body::None);
    assert_eq!(health.status, 200, "{}", health.text());
    let ready = app.request("GET", "/ready", &[], Body::None);
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["status"], json!("ready"));
}

#[test]
fn metrics_count_accepted_events_and_rejected_requests() {
    let app = TestApp::spawn();
    let before = app.metrics();
    assert_eq!(
        metric(&before, "sextant_events_accepted_total", &[]).unwrap_or(0.0),
        0.0,
        "{before}"
    );

    app.ingest_event(message_event("counted"));
    app.ingest_event(message_event("counted too"));
    let (_, body) = event_envelope(message_event("no auth"));
    let r = app.request("POST", &app.envelope_path(), &[], Body::Bytes(body));
    assert_eq!(r.status, 401);

    let text = app.metrics();
    assert_eq!(
        metric(&text, "sextant_events_accepted_total", &[]),
        Some(2.0),
        "{text}"
    );
    let ok = metric(&text, "sextant_ingest_requests_total", &["status=\"200\""]).unwrap_or(0.0);
    let unauthorized =
        metric(&text, "sextant_ingest_requests_total", &["status=\"401\""]).unwrap_or(0.0);
    assert!(ok >= 2.0, "two accepted ingest requests: {text}");
    assert_eq!(unauthorized, 1.0, "one 401: {text}");
    assert!(text.contains("sextant_inbox_depth"), "{text}");
}

#[test]
fn every_acknowledged_event_survives_an_immediate_shutdown() {
    let mut app = TestApp::spawn();
    let mut ids = Vec::new();
    for i in 0..25 {
        let (id, body) = event_envelope(message_event(&format!("durable {i}")));
        assert_eq!(app.send_ok(body), id);
        ids.push(id);
    }
    // Shut down at once: the drain (or the next start) must process every acknowledged row.
    app.restart();
    for id in &ids {
        app.wait_for_event(id);
    }
    assert_eq!(app.event_count(), 25);
    let ready = app.request("GET", "/ready", &[], Body::None);
    assert_eq!(
        ready.json()["inbox"],
        json!(0),
        "inbox drained: {}",
        ready.text()
    );
}

#[test]
fn duplicate_event_ids_are_stored_once() {
    let app = TestApp::spawn();
    let (id, body) = event_envelope(message_event("sent twice"));
    assert_eq!(app.send_ok(body.clone()), id);
    assert_eq!(app.send_ok(body), id);
    app.barrier();
    assert_eq!(
        app.event_count(),
        2,
        "the duplicate and the barrier: one each"
    );
    let issue = app.issue(&crate::support::event::issue_id(&app.wait_for_event(&id)));
    assert!(
        issue["count"] == json!("1") || issue["count"] == json!(1),
        "one event, counted once: {issue}"
    );
}

#[test]
fn unknown_routes_are_404_json() {
    let app = TestApp::spawn();
    let r = app.request("GET", "/api/1/nothing-here/", &[], Body::None);
    assert_eq!(r.status, 404);
    assert!(r.json()["detail"].is_string());
}
