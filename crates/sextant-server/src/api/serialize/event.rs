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
mod tests;
