//! Malformed and hostile ingest requests: each gets the right status with a JSON `detail`
//! and `X-Sentry-Error`, stores nothing, and leaves the server serving.

use serde_json::json;

use crate::ingest_auth::{assert_nothing_stored_and_still_serving, assert_rejected};
use crate::support::envelope::{envelope, event_envelope, gzip, gzip_bomb, message_event, new_id};
use crate::support::{Body, TestApp};

const MIB: usize = 1024 * 1024;

fn header_line(id: &str) -> String {
    json!({"event_id": id}).to_string()
}

#[test]
fn empty_body_is_400() {
    let app = TestApp::spawn();
    assert_rejected(&app.send_envelope(Vec::new(), &[]), 400);
    // Whitespace only is just as empty.
    assert_rejected(&app.send_envelope(b"\n  \n".to_vec(), &[]), 400);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn truncated_envelope_is_400() {
    let app = TestApp::spawn();
    let (_, full) = event_envelope(message_event("this payload will be cut short"));
    let cut = full[..full.len() - 20].to_vec(); // inside the length-framed payload
    assert_rejected(&app.send_envelope(cut, &[]), 400);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn invalid_json_envelope_header_is_400() {
    let app = TestApp::spawn();
    let body = b"{\"event_id\": \"9ec79c33ec9942ab8353589fcb2e04dc\"\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n".to_vec();
    assert_rejected(&app.send_envelope(body, &[]), 400);
    // Not JSON at all.
    assert_rejected(&app.send_envelope(b"hello world\n".to_vec(), &[]), 400);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn invalid_json_event_item_is_400_mentioning_json() {
    let app = TestApp::spawn();
    let id = new_id();
    let body = format!(
        "{}\n{{\"type\":\"event\"}}\n{{\"message\": \"unterminated\n",
        header_line(&id)
    );
    let detail = assert_rejected(&app.send_envelope(body.into_bytes(), &[]), 400);
    assert!(
        detail.to_lowercase().contains("json"),
        "detail should mention JSON: {detail}"
    );
    let (status, _) = app.get(&app.event_path(&id));
    assert_eq!(status, 404);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn item_length_that_does_not_match_the_payload_is_400() {
    let app = TestApp::spawn();
    let payload = json!({"message": "length mismatch"}).to_string();
    // Longer than the body: unexpected end of input.
    let too_long = format!(
        "{}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        header_line(&new_id()),
        payload.len() + 100
    );
    assert_rejected(&app.send_envelope(too_long.into_bytes(), &[]), 400);
    // Shorter: the byte after the payload is not a newline.
    let too_short = format!(
        "{}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
        header_line(&new_id()),
        payload.len() - 3
    );
    assert_rejected(&app.send_envelope(too_short.into_bytes(), &[]), 400);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn unknown_content_encoding_is_rejected_naming_the_encoding() {
    let app = TestApp::spawn();
    for encoding in ["compress", "foo"] {
        let (_, body) = event_envelope(message_event("strange encoding"));
        let r = app.send_envelope(body, &[("Content-Encoding", encoding)]);
        assert!(
            matches!(r.status, 400 | 415),
            "{encoding}: got {} {}",
            r.status,
            r.text()
        );
        let detail = assert_rejected(&r, r.status);
        assert!(
            detail.contains(encoding) || detail.to_lowercase().contains("encoding"),
            "detail should name the problem: {detail}"
        );
    }
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn body_that_fails_to_decompress_is_400() {
    let app = TestApp::spawn();
    let (_, body) = event_envelope(message_event("not really gzip"));
    assert_rejected(
        &app.send_envelope(body.clone(), &[("Content-Encoding", "gzip")]),
        400,
    );
    // A valid gzip stream cut in half.
    let mut gz = gzip(&body);
    gz.truncate(gz.len() / 2);
    assert_rejected(&app.send_envelope(gz, &[("Content-Encoding", "gzip")]), 400);
    assert_rejected(
        &app.send_envelope(
            b"\x28\xb5\x2f\xfdgarbage".to_vec(),
            &[("Content-Encoding", "zstd")],
        ),
        400,
    );
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn gzip_bomb_is_413_and_the_server_keeps_serving() {
    let app = TestApp::spawn();
    let bomb = gzip_bomb(1 << 30); // 1 GiB of zeros, about 1 MiB on the wire
    assert!(
        bomb.len() < 4 * MIB,
        "bomb should be small on the wire: {} bytes",
        bomb.len()
    );
    let auth = app.auth_header();
    let r = app.try_request(
        "POST",
        &app.envelope_path(),
        &[("X-Sentry-Auth", &auth), ("Content-Encoding", "gzip")],
        Body::Bytes(bomb),
    );
    match r {
        Ok(resp) => {
            assert_rejected(&resp, 413);
        }
        Err(e) => panic!("the server must answer 413, not drop the connection: {e}"),
    }
    let health = app.request("GET", "/health", &[], Body::None);
    assert_eq!(health.status, 200);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn event_item_over_one_mib_is_413() {
    let app = TestApp::spawn();
    let mut event = message_event("huge");
    event["extra"] = json!({"blob": "x".repeat(MIB + 1024)});
    let (_, body) = event_envelope(event);
    assert_rejected(&app.send_envelope(body, &[]), 413);
    // Same through /store/, whose whole body is one event.
    let mut event = message_event("huge store");
    event["extra"] = json!({"blob": "y".repeat(MIB + 1024)});
    let auth = app.auth_header();
    let r = app.request(
        "POST",
        &app.store_path(),
        &[("X-Sentry-Auth", &auth)],
        Body::Bytes(event.to_string().into_bytes()),
    );
    assert_rejected(&r, 413);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn body_over_the_wire_limit_is_413() {
    let app = TestApp::spawn_with(|c| c.limits.max_wire_bytes = 64 * 1024);
    let mut event = message_event("big on the wire");
    event["extra"] = json!({"blob": "z".repeat(100 * 1024)});
    let (_, body) = event_envelope(event);
    assert_rejected(&app.send_envelope(body, &[]), 413);
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn decoded_envelope_over_the_limit_is_413() {
    let app = TestApp::spawn_with(|c| c.limits.max_envelope_bytes = 256 * 1024);
    // Many small attachments: each item is fine, the whole envelope is not.
    let id = new_id();
    let items: Vec<_> = (0..40)
        .map(|i| {
            (
                json!({"type": "attachment", "filename": format!("f{i}.bin")}),
                vec![b'a'; 10 * 1024],
            )
        })
        .collect();
    let body = gzip(&envelope(&json!({"event_id": id}), &items));
    assert_rejected(
        &app.send_envelope(body, &[("Content-Encoding", "gzip")]),
        413,
    );
    assert_nothing_stored_and_still_serving(&app);
}

#[test]
fn unknown_item_types_are_skipped_not_rejected() {
    let app = TestApp::spawn();
    let (id, _) = event_envelope(message_event("x"));
    let body = envelope(
        &json!({"event_id": id}),
        &[
            (
                json!({"type": "something_new_from_2030"}),
                b"{\"a\":1}".to_vec(),
            ),
            (
                json!({"type": "event"}),
                serde_json::to_vec(&message_event("next to an unknown item")).unwrap(),
            ),
        ],
    );
    assert_eq!(app.send_ok(body), id);
    let event = app.wait_for_event(&id);
    assert_eq!(event["title"], json!("next to an unknown item"));
}

/// Below the free-space floor ingest refuses with 507 rather than risk a failed write;
/// a database on another machine (PostgreSQL) has no local floor to check.
#[test]
fn low_disk_space_is_507_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.limits.min_free_disk_bytes = u64::MAX);
    let (_, body) = event_envelope(message_event("no room for this"));
    let r = app.send_envelope(body, &[]);
    if app.db.backend() == "sqlite" {
        let detail = assert_rejected(&r, 507);
        assert!(detail.contains("disk space"), "{detail}");
        assert!(r.header("retry-after").is_some());
        // Refused before the inbox write, so nothing can be waiting to be processed.
        assert_eq!(app.block_on(app.store().inbox_depth()).unwrap(), 0);
        assert_eq!(app.event_count(), 0);
        assert_eq!(app.get("/health").0, 200, "the server keeps serving");
    } else {
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
fn too_many_items_in_one_envelope_is_413_and_counted() {
    let app = TestApp::spawn();
    let id = new_id();
    let attachments: Vec<_> = (0..101)
        .map(|i| {
            (
                json!({"type": "attachment", "filename": format!("f{i}.txt")}),
                b"a".to_vec(),
            )
        })
        .collect();
    let detail = assert_rejected(
        &app.send_envelope(envelope(&json!({"event_id": id}), &attachments), &[]),
        413,
    );
    assert!(detail.contains("too many attachment items"), "{detail}");

    let many: Vec<_> = (0..1001)
        .map(|_| (json!({"type": "something_new"}), b"{}".to_vec()))
        .collect();
    let detail = assert_rejected(
        &app.send_envelope(envelope(&json!({"event_id": new_id()}), &many), &[]),
        413,
    );
    assert!(detail.contains("(1001 > 1000)"), "{detail}");

    let metrics = app.request("GET", "/metrics", &[], Body::None).text();
    assert!(
        metrics.contains(
            "sextant_items_discarded_total{reason=\"too_large\",item_type=\"envelope\"} 2"
        ),
        "{metrics}"
    );
    assert_nothing_stored_and_still_serving(&app);
}
