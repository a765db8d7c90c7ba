//! Hostile event payloads and searches. An event nested deeper than JSON readers allow is
//! stored trimmed, with the trimmed parts marked in `_meta`, and every page that reads
//! it answers; a stored event that cannot be decoded is shown as a stand-in; an event
//! that is not a JSON object is refused at ingest; a search with too many terms is
//! refused naming the limit.

use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};
use sextant_storage::Role;

use crate::ingest_auth::{assert_nothing_stored_and_still_serving, assert_rejected};
use crate::support::envelope::{envelope, new_id, now_rfc3339, zlib};
use crate::support::event::issue_id;
use crate::support::{Body, Resp, TestApp, body_json, encode};

const PASSWORD: &str = "correct horse battery";

/// `levels` nested arrays around `1`, as JSON text (a `Value` that deep could not be
/// parsed back by the test either).
fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// An envelope with one `event` item whose payload is `payload` as given.
fn event_item(id: &str, item_type: &str, payload: &str) -> Vec<u8> {
    envelope(
        &json!({"event_id": id, "sent_at": now_rfc3339()}),
        &[(json!({"type": item_type}), payload.as_bytes().to_vec())],
    )
}

/// Follows `levels` first elements down from `value`.
fn down(mut value: &Value, levels: usize) -> &Value {
    for _ in 0..levels {
        value = &value[0];
    }
    value
}

/// Follows `levels` `"0"` keys down from a `_meta` node.
fn down_meta(mut value: &Value, levels: usize) -> &Value {
    for _ in 0..levels {
        value = &value["0"];
    }
    value
}

fn ok_json(r: &Resp, what: &str) -> Value {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    body_json(r)
}

/// The issue page, the event's console pages and its raw JSON, for a signed-in member.
fn console_pages(app: &TestApp, issue: &str, event_id: &str) -> (String, Value) {
    app.create_user("ada@example.com", PASSWORD, Some(("default", Role::Member)));
    let ada = app.sign_in("ada@example.com", PASSWORD);
    let base = "/orgs/default/default";
    let latest = app.page(&ada.cookie, &format!("{base}/issues/{issue}/"));
    assert_eq!(latest.status, 200, "issue page: {}", latest.text());
    let chosen = app.page(
        &ada.cookie,
        &format!("{base}/issues/{issue}/?event={event_id}"),
    );
    assert_eq!(chosen.status, 200, "event page: {}", chosen.text());
    let raw = app.page(&ada.cookie, &format!("{base}/events/{event_id}/json"));
    (latest.text(), ok_json(&raw, "console raw JSON"))
}

#[test]
fn an_event_nested_200_levels_deep_is_trimmed_and_every_reader_answers() {
    let app = TestApp::spawn();
    // An ordinary event opens the issue; the hostile one joins it by fingerprint, so its
    // issue page would show it as the latest event.
    let first = app.ingest_event(json!({"message": "checkout failed", "fingerprint": ["co"]}));
    let issue = issue_id(&first);
    let id = new_id();
    let payload = format!(
        r#"{{"event_id": "{id}", "message": "checkout failed", "fingerprint": ["co"],
            "extra": {{"payload": {}, "order": 1842}}}}"#,
        nested(200)
    );
    // Only the project's public key is needed to send it.
    assert_eq!(app.send_ok(event_item(&id, "event", &payload)), id);

    let event = app.wait_for_event(&id);
    assert_eq!(
        issue_id(&event),
        issue,
        "the event joined the existing issue"
    );
    let extra = &event["context"];
    assert_eq!(extra["order"], json!(1842));
    // `extra` keeps seven levels: `payload`'s array and six below it, the last of them
    // replaced by its JSON text, and the replacement is marked at its path.
    let cut = down(&extra["payload"], 6);
    assert!(cut.as_str().is_some_and(|s| s.starts_with("[[[")), "{cut}");
    let note = down_meta(&event["_meta"]["context"]["payload"], 6);
    assert_eq!(
        note[""]["rem"],
        json!([["!limit", "s"]]),
        "{}",
        event["_meta"]
    );

    for path in [
        format!("/api/0/organizations/default/issues/{issue}/events/latest/"),
        format!("/api/0/issues/{issue}/events/latest/"),
        format!("/api/0/issues/{issue}/events/{id}/"),
    ] {
        let (status, body) = app.get(&path);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["eventID"], json!(id), "{path}");
    }
    let (status, list) = app.get(&format!("/api/0/issues/{issue}/events/?full=true"));
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let raw = app.api(
        "GET",
        &format!("/api/0/projects/default/default/events/{id}/json/"),
        None,
    );
    let raw = ok_json(&raw, "raw JSON");
    let note = down_meta(&raw["_meta"]["extra"]["payload"], 6);
    assert_eq!(note[""]["rem"], json!([["!limit", "s"]]));

    let (page, console_raw) = console_pages(&app, &issue, &id);
    assert!(page.contains("payload"), "the extra data is shown");
    assert_eq!(console_raw["_meta"], raw["_meta"]);
}

#[test]
fn nesting_anywhere_in_an_event_is_cut_below_the_read_limit_and_noted() {
    let app = TestApp::spawn();
    let id = new_id();
    let deep = nested(5000);
    let payload = format!(
        r#"{{"event_id": "{id}", "message": "deep everywhere",
            "anything": {deep}, "contexts": {{"app": {{"state": {deep}}}}},
            "exception": {{"values": [{{"type": "E", "value": "v",
                "stacktrace": {{"frames": [{{"function": "f", "vars": {{"v": {deep}}}}}]}}}}]}},
            "breadcrumbs": [{{"message": "m", "data": {{"d": {deep}}}}}],
            "request": {{"url": "https://shop.example/", "data": {deep}}},
            "user": {{"id": "42", "data": {deep}}}, "tags": {{"t": {deep}}}}}"#
    );
    assert_eq!(app.send_ok(event_item(&id, "event", &payload)), id);
    let event = app.wait_for_event(&id);
    assert_eq!(event["title"], json!("E: v"));
    let raw = app.api(
        "GET",
        &format!("/api/0/projects/default/default/events/{id}/json/"),
        None,
    );
    // Parsed here with serde_json's default limit: the stored event reads back.
    let raw = ok_json(&raw, "raw JSON");
    let meta = &raw["_meta"];
    let cut_at = sextant_protocol::event::MAX_DEPTH - 1;
    assert_eq!(down(&raw["anything"], cut_at), &Value::Null);
    assert_eq!(
        down_meta(&meta["anything"], cut_at)[""]["rem"],
        json!([["!limit", "x"]])
    );
    for bag in [
        &meta["contexts"]["app"]["state"],
        &meta["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"]["v"],
        &meta["breadcrumbs"]["values"]["0"]["data"]["d"],
        &meta["request"]["data"],
    ] {
        assert!(bag.is_object(), "a note for each data bag: {meta}");
    }
    let (_, console_raw) = console_pages(&app, &issue_id(&event), &id);
    assert_eq!(console_raw["_meta"], raw["_meta"]);
}

/// Runs `sql` against the test's database with its command-line client.
fn run_sql(app: &TestApp, sql: &str) {
    let out = match &app.db.url {
        None => Command::new("sqlite3")
            .arg("-cmd")
            .arg(".timeout 10000")
            .arg(app.db.dir.path().join("sextant.db"))
            .arg(sql)
            .output(),
        Some(url) => Command::new("psql")
            .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
            .output(),
    }
    .expect("run the database's client");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_stored_event_that_cannot_be_decoded_is_shown_as_a_stand_in() {
    let app = TestApp::spawn();
    let event = app.ingest_event(json!({"message": "payment declined", "tags": {"psp": "x"}}));
    let id = event["eventID"].as_str().expect("event id").to_string();
    let issue = issue_id(&event);
    // What a damaged row, or one written in a form this version does not read, holds.
    let garbage = match app.db.url {
        None => "X'28b52ffd00'",
        Some(_) => "'\\x28b52ffd00'::bytea",
    };
    run_sql(
        &app,
        &format!("UPDATE events SET payload = {garbage} WHERE event_id = '{id}'"),
    );

    let (status, shown) = app.get(&app.event_path(&id));
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        shown["title"],
        json!("payment declined"),
        "columns still serve"
    );
    assert_eq!(shown["errors"][0]["type"], json!("unreadable_event"));
    let (status, latest) = app.get(&format!("/api/0/issues/{issue}/events/latest/"));
    assert_eq!(status, 200, "{latest}");
    let (status, list) = app.get(&format!("/api/0/issues/{issue}/events/"));
    assert_eq!(status, 200, "{list}");
    let raw = app.api(
        "GET",
        &format!("/api/0/projects/default/default/events/{id}/json/"),
        None,
    );
    assert_eq!(ok_json(&raw, "raw JSON")["event_id"], json!(id));

    let (page, console_raw) = console_pages(&app, &issue, &id);
    assert!(page.contains("cannot be read"), "a notice in the page");
    assert_eq!(console_raw["errors"][0]["type"], json!("unreadable_event"));
}

/// Sum of the samples of `name` whose labels include all of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name && labels.iter().all(|l| rest.contains(l))
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

fn invalid_json_discards(app: &TestApp, endpoint: &str) -> f64 {
    let item_type = format!("item_type=\"{endpoint}\"");
    metric(
        &app.metrics(),
        "sextant_items_discarded_total",
        &["reason=\"invalid_json\"", &item_type],
    )
}

#[test]
fn events_that_are_not_json_objects_are_refused_at_ingest_and_counted() {
    let app = TestApp::spawn();
    let cases = [
        ("event", "[1, 2]", "an array"),
        ("event", "42", "a number"),
        ("event", "\"boom\"", "a string"),
        ("event", "null", "null"),
        ("transaction", "[]", "an array"),
        ("feedback", "[{\"message\": \"hi\"}]", "an array"),
    ];
    for (n, (item_type, payload, kind)) in cases.iter().enumerate() {
        let r = app.send_envelope(event_item(&new_id(), item_type, payload), &[]);
        let detail = assert_rejected(&r, 400);
        assert!(
            detail.contains("JSON object") && detail.contains(kind),
            "{item_type} {payload}: {detail}"
        );
        assert_eq!(invalid_json_discards(&app, "envelope"), (n + 1) as f64);
    }

    let auth = app.auth_header();
    let store = |body: Vec<u8>| {
        let headers = [("X-Sentry-Auth", auth.as_str())];
        app.request("POST", &app.store_path(), &headers, Body::Bytes(body))
    };
    // Two elements would pass for the store endpoint's `[event_id, type]`; sent the way
    // old clients send events (base64 of zlib), it reaches the JSON check.
    let array = format!("[\"{}\", \"event\"]", new_id());
    let legacy = base64::engine::general_purpose::STANDARD.encode(zlib(array.as_bytes()));
    let detail = assert_rejected(&store(legacy.into_bytes()), 400);
    assert!(
        detail.contains("JSON object") && detail.contains("an array"),
        "{detail}"
    );
    assert_eq!(invalid_json_discards(&app, "store"), 1.0);
    assert_rejected(&store(array.into_bytes()), 400);
    assert_eq!(invalid_json_discards(&app, "store"), 2.0);
    assert_nothing_stored_and_still_serving(&app);
}

/// `n` tag filters, `k0:v0 k1:v1 …`.
fn tag_filters(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i}:v{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn searches_with_more_than_50_terms_are_refused_naming_the_limit() {
    let app = TestApp::spawn();
    app.ingest_event(json!({"message": "searchable"}));
    let searches = [
        "/api/0/projects/default/default/issues/",
        "/api/0/organizations/default/issues/",
    ];
    for search in searches {
        for n in [51, 2000] {
            let path = format!("{search}?query={}", encode(&tag_filters(n)));
            let (status, body) = app.get(&path);
            assert_eq!(status, 400, "{n} terms: {body}");
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("at most 50"), "{n} terms: {detail}");
        }
        let path = format!("{search}?query={}", encode(&tag_filters(50)));
        let (status, body) = app.get(&path);
        assert_eq!(status, 200, "50 terms: {body}");
        assert_eq!(body, json!([]), "no issue has those tags");
    }

    app.create_user("ada@example.com", PASSWORD, Some(("default", Role::Member)));
    let ada = app.sign_in("ada@example.com", PASSWORD);
    let list = |query: &str| {
        let path = format!("/orgs/default/default/?status=all&query={}", encode(query));
        app.page(&ada.cookie, &path)
    };
    let refused = list(&tag_filters(2000));
    assert_eq!(refused.status, 200, "{}", refused.text());
    assert!(
        refused.text().contains("at most 50"),
        "the page names the limit"
    );
    let fine = list(&tag_filters(50));
    assert_eq!(fine.status, 200, "{}", fine.text());
    assert!(!fine.text().contains("at most 50"));
}
