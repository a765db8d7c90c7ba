//! Stored event → Sentry's event JSON (full, with `entries`) and its short list form.

use serde_json::{Value, json};
use sextant_storage::EventRecord;

use super::entries::{entries, object_or_empty};
use super::{format_ms, release_ref};

fn message(rec: &EventRecord, payload: &Value) -> Value {
    let logentry = payload.get("logentry");
    logentry
        .and_then(|l| l.get("formatted"))
        .or_else(|| logentry.and_then(|l| l.get("message")))
        .filter(|m| m.is_string())
        .cloned()
        .unwrap_or_else(|| json!(rec.message))
}

/// Sentry's `location`: the transaction name for transactions, else the file of the
/// innermost in-app frame of the last exception (frames are stored oldest first).
fn location(payload: &Value) -> Value {
    if payload.get("type").and_then(Value::as_str) == Some("transaction") {
        return payload.get("transaction").cloned().unwrap_or(Value::Null);
    }
    let frames = payload
        .pointer("/exception/values")
        .and_then(Value::as_array)
        .and_then(|v| v.last())
        .and_then(|e| e.pointer("/stacktrace/frames"))
        .and_then(Value::as_array);
    let Some(frames) = frames else {
        return Value::Null;
    };
    let in_app = frames
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true));
    in_app
        .or(frames.last())
        .and_then(|f| f.get("filename"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn user(payload: &Value) -> Value {
    payload
        .get("user")
        .filter(|u| u.as_object().is_some_and(|o| !o.is_empty()))
        .cloned()
        .unwrap_or(Value::Null)
}

fn tags(rec: &EventRecord) -> Value {
    rec.tags
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect()
}

/// The full event as Sentry's event-details endpoints return it. `fingerprints` are the
/// grouping hashes the event was grouped by, when known.
pub fn event_json(rec: &EventRecord, payload: &Value, fingerprints: &[String]) -> Value {
    let field = |k: &str| payload.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": rec.event_id,
        "eventID": rec.event_id,
        "groupID": rec.issue_id.map(|id| id.to_string()),
        "projectID": rec.project_id.to_string(),
        "title": rec.title,
        "culprit": rec.culprit,
        "message": message(rec, payload),
        "dateCreated": format_ms(rec.timestamp),
        "dateReceived": format_ms(rec.received_at),
        "platform": rec.platform,
        "type": rec.event_type,
        "level": rec.level,
        "logger": field("logger"),
        "release": release_ref(rec.release.as_deref()),
        "environment": rec.environment,
        "dist": field("dist"),
        "location": location(payload),
        "user": user(payload),
        "tags": tags(rec),
        "contexts": object_or_empty(payload, "contexts"),
        "context": object_or_empty(payload, "extra"),
        "packages": object_or_empty(payload, "modules"),
        "sdk": field("sdk"),
        "fingerprints": fingerprints,
        "errors": payload.get("errors").filter(|e| e.is_array()).cloned().unwrap_or_else(|| json!([])),
        "measurements": field("measurements"),
        "entries": entries(payload),
        "metadata": object_or_empty(payload, "metadata"),
        "crashFile": null,
        "userReport": null,
        "sdkUpdates": [],
        "nextEventID": null,
        "previousEventID": null,
        "_meta": meta(payload),
    })
}

/// The event's `_meta` notes (what normalization trimmed) for the fields this form
/// shows, under the names it shows them by, as Sentry's API does.
fn meta(payload: &Value) -> Value {
    let Some(Value::Object(notes)) = payload.get("_meta") else {
        return json!({});
    };
    let shown = [
        ("extra", "context"),
        ("contexts", "contexts"),
        ("user", "user"),
        ("sdk", "sdk"),
    ];
    let mut out = serde_json::Map::new();
    for (field, name) in shown {
        if let Some(note) = notes.get(field) {
            out.insert(name.into(), note.clone());
        }
    }
    Value::Object(out)
}

/// The short form used by event lists without `full=true`.
pub fn event_list_item(rec: &EventRecord, payload: &Value) -> Value {
    json!({
        "id": rec.event_id,
        "eventID": rec.event_id,
        "groupID": rec.issue_id.map(|id| id.to_string()),
        "projectID": rec.project_id.to_string(),
        "event.type": rec.event_type,
        "title": rec.title,
        "culprit": rec.culprit,
        "message": message(rec, payload),
        "location": location(payload),
        "dateCreated": format_ms(rec.timestamp),
        "platform": rec.platform,
        "tags": tags(rec),
        "user": user(payload),
        "crashFile": null,
    })
}

#[cfg(test)]
mod tests {
    //! Event serialization tests against a realistic normalized (Relay-shaped) event.

    use serde_json::{Value, json};

    use super::*;

    fn normalized_event() -> Value {
        json!({
            "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
            "timestamp": 1767261600.123,
            "received": 1767261601.5,
            "level": "error",
            "platform": "python",
            "type": "error",
            "logger": "app.views",
            "transaction": "/checkout",
            "release": "shop@2.4.1",
            "dist": "7",
            "environment": "production",
            "logentry": {"formatted": "Checkout failed for order 17", "message": "Checkout failed for order %s", "params": ["17"]},
            "exception": {"values": [
                {"type": "KeyError", "value": "'sku'", "module": "builtins",
                 "mechanism": {"type": "generic", "handled": true}},
                {"type": "ValueError", "value": "bad cart", "module": "shop.cart",
                 "mechanism": {"type": "django", "handled": false},
                 "stacktrace": {"frames": [
                    {"filename": "django/core/handlers.py", "abs_path": "/venv/django/core/handlers.py",
                     "function": "inner", "module": "django.core.handlers", "lineno": 47, "in_app": false},
                    {"filename": "shop/cart.py", "abs_path": "/srv/shop/cart.py", "function": "total",
                     "module": "shop.cart", "lineno": 12, "colno": 4, "in_app": true,
                     "pre_context": ["def total(cart):", "    items = cart.items"],
                     "context_line": "    raise ValueError('bad cart')",
                     "post_context": ["", "def empty():"],
                     "vars": {"cart": "<Cart 17>"}}
                 ]}}
            ]},
            "breadcrumbs": {"values": [
                {"timestamp": 1767261599.25, "type": "http", "category": "httplib", "level": "info",
                 "data": {"url": "https://pay.example/charge", "status_code": 502}},
                {"timestamp": 1767261599.5, "category": "query", "message": "SELECT 1"}
            ]},
            "user": {"id": "42", "email": "ada@example.com", "ip_address": "203.0.113.9"},
            "request": {"url": "https://shop.example/checkout", "method": "POST",
                        "query_string": [["step", "2"]], "data": {"coupon": "X"},
                        "cookies": [["session", "[Filtered]"]],
                        "headers": [["Content-Type", "application/json"], ["User-Agent", "curl/8"]],
                        "env": {"REMOTE_ADDR": "203.0.113.9"}},
            "contexts": {"os": {"type": "os", "name": "Linux"}, "runtime": {"type": "runtime", "name": "CPython", "version": "3.12.1"}},
            "tags": [["server_name", "web-1"]],
            "extra": {"cart_size": 3},
            "fingerprint": ["{{ default }}"],
            "modules": {"django": "5.0.1"},
            "sdk": {"name": "sentry.python.django", "version": "2.19.0"},
            "errors": [{"type": "invalid_attribute", "name": "foo"}]
        })
    }

    fn record() -> EventRecord {
        EventRecord {
            id: 501,
            project_id: 3,
            event_id: "9ec79c33ec9942ab8353589fcb2e04dc".into(),
            issue_id: Some(77),
            timestamp: 1_767_261_600_123,
            received_at: 1_767_261_601_500,
            level: "error".into(),
            platform: "python".into(),
            event_type: "error".into(),
            release: Some("shop@2.4.1".into()),
            environment: Some("production".into()),
            title: "ValueError: bad cart".into(),
            culprit: "shop.cart in total".into(),
            message: "Checkout failed for order 17".into(),
            tags: vec![
                ("environment".into(), "production".into()),
                ("level".into(), "error".into()),
                ("server_name".into(), "web-1".into()),
            ],
            trace_id: None,
            payload: Vec::new(),
        }
    }

    fn entry<'a>(v: &'a Value, ty: &str) -> &'a Value {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} entry"))
    }

    #[test]
    fn full_event_top_level() {
        let v = event_json(
            &record(),
            &normalized_event(),
            &["c4ca4238a0b923820dcc509a6f75849b".into()],
        );
        assert_eq!(v["id"], "9ec79c33ec9942ab8353589fcb2e04dc");
        assert_eq!(v["eventID"], v["id"]);
        assert_eq!(v["groupID"], "77");
        assert_eq!(v["projectID"], "3");
        assert_eq!(v["title"], "ValueError: bad cart");
        assert_eq!(v["message"], "Checkout failed for order 17");
        assert_eq!(v["dateCreated"], "2026-01-01T10:00:00.123Z");
        assert_eq!(v["dateReceived"], "2026-01-01T10:00:01.500Z");
        assert_eq!(
            v["release"],
            json!({"version": "shop@2.4.1", "shortVersion": "2.4.1"})
        );
        assert_eq!(v["environment"], "production");
        assert_eq!(v["dist"], "7");
        assert_eq!(v["location"], "shop/cart.py");
        assert_eq!(v["user"]["email"], "ada@example.com");
        assert_eq!(
            v["tags"][2],
            json!({"key": "server_name", "value": "web-1"})
        );
        assert_eq!(v["contexts"]["runtime"]["version"], "3.12.1");
        assert_eq!(v["context"], json!({"cart_size": 3}));
        assert_eq!(v["packages"], json!({"django": "5.0.1"}));
        assert_eq!(v["sdk"]["name"], "sentry.python.django");
        assert_eq!(
            v["fingerprints"],
            json!(["c4ca4238a0b923820dcc509a6f75849b"])
        );
        assert_eq!(v["errors"][0]["type"], "invalid_attribute");
        let types: Vec<&str> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["message", "exception", "breadcrumbs", "request"]);
    }

    #[test]
    fn exception_entry_uses_sentry_frame_shape() {
        let v = event_json(&record(), &normalized_event(), &[]);
        let data = &entry(&v, "exception")["data"];
        assert_eq!(data["hasSystemFrames"], true);
        assert_eq!(data["excOmitted"], Value::Null);
        let values = data["values"].as_array().unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(values[0]["stacktrace"], Value::Null);
        assert_eq!(values[1]["mechanism"]["handled"], false);
        let frames = values[1]["stacktrace"]["frames"].as_array().unwrap();
        assert_eq!(
            frames[1],
            json!({
                "filename": "shop/cart.py",
                "absPath": "/srv/shop/cart.py",
                "module": "shop.cart",
                "package": null,
                "platform": null,
                "instructionAddr": null,
                "symbolAddr": null,
                "function": "total",
                "rawFunction": null,
                "symbol": null,
                "context": [
                    [10, "def total(cart):"],
                    [11, "    items = cart.items"],
                    [12, "    raise ValueError('bad cart')"],
                    [13, ""],
                    [14, "def empty():"]
                ],
                "lineNo": 12,
                "colNo": 4,
                "inApp": true,
                "trust": null,
                "errors": null,
                "vars": {"cart": "<Cart 17>"},
            })
        );
        assert_eq!(frames[0]["inApp"], false);
        assert_eq!(frames[0]["context"], json!([]));
    }

    #[test]
    fn message_breadcrumb_and_request_entries() {
        let v = event_json(&record(), &normalized_event(), &[]);
        assert_eq!(
            entry(&v, "message")["data"],
            json!({"formatted": "Checkout failed for order 17", "message": "Checkout failed for order %s", "params": ["17"]})
        );
        let crumbs = entry(&v, "breadcrumbs")["data"]["values"]
            .as_array()
            .unwrap();
        assert_eq!(crumbs[0]["timestamp"], "2026-01-01T09:59:59.250Z");
        assert_eq!(crumbs[0]["type"], "http");
        assert_eq!(crumbs[1]["type"], "default");
        assert_eq!(crumbs[1]["level"], "info");
        let req = &entry(&v, "request")["data"];
        assert_eq!(req["method"], "POST");
        assert_eq!(req["query"], json!([["step", "2"]]));
        assert_eq!(req["headers"][1], json!(["User-Agent", "curl/8"]));
        assert_eq!(req["cookies"], json!([["session", "[Filtered]"]]));
    }

    #[test]
    fn loose_shapes_are_accepted() {
        let payload = json!({
            "message": "plain message",
            "stacktrace": {"frames": [{"filename": "a.js", "lineno": 1, "in_app": true}]},
            "threads": {"values": [{"id": 1, "crashed": true, "stacktrace": {"frames": []}}]},
            "request": {"query_string": "a=1&b=two%20words", "cookies": "x=1; y=2", "headers": {"Host": "h"}},
        });
        let v = event_json(&record(), &payload, &[]);
        assert_eq!(entry(&v, "message")["data"]["formatted"], "plain message");
        assert_eq!(entry(&v, "stacktrace")["data"]["frames"][0]["lineNo"], 1);
        assert_eq!(entry(&v, "stacktrace")["data"]["hasSystemFrames"], false);
        assert_eq!(entry(&v, "threads")["data"]["values"][0]["crashed"], true);
        let req = &entry(&v, "request")["data"];
        assert_eq!(req["query"], json!([["a", "1"], ["b", "two words"]]));
        assert_eq!(req["cookies"], json!([["x", "1"], ["y", "2"]]));
        assert_eq!(req["headers"], json!([["Host", "h"]]));
        assert_eq!(v["user"], Value::Null);
        assert_eq!(v["contexts"], json!({}));
        assert_eq!(v["location"], Value::Null);
        assert_eq!(v["message"], "Checkout failed for order 17");
    }

    #[test]
    fn transactions_get_a_spans_entry() {
        let payload = json!({"type": "transaction", "transaction": "GET /items", "spans": [{"span_id": "a1", "op": "db"}]});
        let mut rec = record();
        rec.event_type = "transaction".into();
        let v = event_json(&rec, &payload, &[]);
        assert_eq!(
            entry(&v, "spans")["data"],
            json!([{"span_id": "a1", "op": "db"}])
        );
        assert_eq!(v["location"], "GET /items");
    }

    #[test]
    fn list_item_is_short() {
        let v = event_list_item(&record(), &normalized_event());
        assert_eq!(v["eventID"], "9ec79c33ec9942ab8353589fcb2e04dc");
        assert_eq!(v["groupID"], "77");
        assert_eq!(v["event.type"], "error");
        assert_eq!(v["message"], "Checkout failed for order 17");
        assert_eq!(v["user"]["id"], "42");
        assert!(v.get("entries").is_none());
    }

    #[test]
    fn list_items_read_the_same_from_the_summary_decode() {
        let raw = json!({
            "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
            "timestamp": 1767261600.123,
            "platform": "python",
            "logentry": {"message": "Checkout failed for order %s", "params": [17]},
            "user": {"id": "42", "email": "ada@example.com", "ip_address": "{{auto}}"},
            "breadcrumbs": {"values": [{"category": "http", "message": "GET /cart"}]},
            "extra": {"cart": {"items": 3}},
            "exception": {"values": [{
                "type": "ValueError",
                "value": "bad order",
                "stacktrace": {"frames": [
                    {"filename": "django/core/handlers.py", "function": "inner", "in_app": false,
                     "vars": {"request": "<WSGIRequest>"}, "pre_context": ["try:"]},
                    {"filename": "shop/views.py", "function": "checkout", "in_app": true,
                     "context_line": "raise ValueError('bad order')", "vars": {"order": 17}},
                    {"filename": "shop/util.py", "function": "log", "in_app": false}
                ]}
            }]},
        });
        let ctx = sextant_protocol::NormalizeContext {
            client_ip: Some("203.0.113.9".into()),
            ..sextant_protocol::NormalizeContext::new(1767261601.5)
        };
        let frames = zstd::encode_all(&serde_json::to_vec(&raw).unwrap()[..], 1).unwrap();
        let payload = crate::stored_event::encode(&ctx, &frames);
        let full = crate::stored_event::decode(&payload).unwrap();
        let summary = crate::stored_event::decode_summary(&payload).unwrap();
        assert_ne!(
            full, summary,
            "the summary leaves breadcrumbs and locals out"
        );
        let item = event_list_item(&record(), &full);
        assert_eq!(event_list_item(&record(), &summary), item);
        assert_eq!(item["location"], "shop/views.py");
        assert_eq!(item["message"], "Checkout failed for order 17");
        assert_eq!(item["user"]["ip_address"], "203.0.113.9");
    }
}
