//! The `entries` list of Sentry's event JSON: each stored interface (exception, message,
//! threads, breadcrumbs, request, …) converted to the camelCase shape Sentry's API uses.

use serde_json::{Map, Value, json};

use super::format_secs;

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

/// `interface.values` when it is a non-empty array (also accepts a bare array, which
/// older SDKs send for exceptions and breadcrumbs).
fn values(interface: &Value) -> Option<&Vec<Value>> {
    let arr = match interface {
        Value::Array(a) => a,
        other => other.get("values")?.as_array()?,
    };
    (!arr.is_empty()).then_some(arr)
}

/// Source lines around the frame as `[[lineno, line], …]`; Sentry's `context`.
fn frame_context(f: &Value) -> Value {
    let Some(lineno) = get(f, "lineno").as_i64() else {
        return json!([]);
    };
    let lines = |key| get(f, key).as_array().cloned().unwrap_or_default();
    let pre = lines("pre_context");
    let post = lines("post_context");
    let mut out = Vec::new();
    let first = lineno - pre.len() as i64;
    for (i, line) in pre.into_iter().enumerate() {
        out.push(json!([first + i as i64, line]));
    }
    if let Some(line) = f.get("context_line").filter(|l| !l.is_null()) {
        out.push(json!([lineno, line]));
    }
    for (i, line) in post.into_iter().enumerate() {
        out.push(json!([lineno + 1 + i as i64, line]));
    }
    Value::Array(out)
}

pub fn frame(f: &Value) -> Value {
    json!({
        "filename": get(f, "filename"),
        "absPath": get(f, "abs_path"),
        "module": get(f, "module"),
        "package": get(f, "package"),
        "platform": get(f, "platform"),
        "instructionAddr": get(f, "instruction_addr"),
        "symbolAddr": get(f, "symbol_addr"),
        "function": get(f, "function"),
        "rawFunction": get(f, "raw_function"),
        "symbol": get(f, "symbol"),
        "context": frame_context(f),
        "lineNo": get(f, "lineno"),
        "colNo": get(f, "colno"),
        "inApp": get(f, "in_app").as_bool().unwrap_or(false),
        "trust": get(f, "trust"),
        "errors": null,
        "vars": get(f, "vars"),
    })
}

/// Sentry's rule: a stack trace "has system frames" when it mixes in-app and other
/// frames, which is when the UI offers to collapse the system ones.
fn has_system_frames(frames: &[Value]) -> bool {
    let system = frames
        .iter()
        .filter(|f| !get(f, "in_app").as_bool().unwrap_or(false))
        .count();
    system > 0 && system < frames.len()
}

/// A stacktrace interface, or `null` when absent.
pub fn stacktrace(st: &Value) -> Value {
    let Some(frames) = st.get("frames").and_then(Value::as_array) else {
        return Value::Null;
    };
    json!({
        "frames": frames.iter().map(frame).collect::<Vec<_>>(),
        "framesOmitted": get(st, "frames_omitted"),
        "registers": get(st, "registers"),
        "hasSystemFrames": has_system_frames(frames),
    })
}

fn stack_has_system(st: &Value) -> bool {
    st.get("frames")
        .and_then(Value::as_array)
        .is_some_and(|f| has_system_frames(f))
}

fn exception_entry(exc: &Value) -> Option<Value> {
    let vals = values(exc)?;
    let converted: Vec<Value> = vals
        .iter()
        .map(|e| {
            json!({
                "type": get(e, "type"),
                "value": get(e, "value"),
                "module": get(e, "module"),
                "mechanism": get(e, "mechanism"),
                "threadId": get(e, "thread_id"),
                "stacktrace": stacktrace(get(e, "stacktrace")),
                "rawStacktrace": stacktrace(get(e, "raw_stacktrace")),
            })
        })
        .collect();
    let has_system = vals.iter().any(|e| stack_has_system(get(e, "stacktrace")));
    Some(json!({
        "type": "exception",
        "data": { "values": converted, "hasSystemFrames": has_system, "excOmitted": get(exc, "exc_omitted") },
    }))
}

fn message_entry(payload: &Value) -> Option<Value> {
    let data = match payload.get("logentry") {
        Some(le) if le.is_object() => {
            let formatted = le
                .get("formatted")
                .or_else(|| le.get("message"))
                .cloned()
                .unwrap_or(Value::Null);
            json!({ "formatted": formatted, "message": get(le, "message"), "params": get(le, "params") })
        }
        // Un-normalized events may carry a bare `message` string instead.
        _ => {
            let msg = payload.get("message").filter(|m| m.is_string())?;
            json!({ "formatted": msg, "message": null, "params": null })
        }
    };
    Some(json!({ "type": "message", "data": data }))
}

fn threads_entry(threads: &Value) -> Option<Value> {
    let vals = values(threads)?;
    let converted: Vec<Value> = vals
        .iter()
        .map(|t| {
            json!({
                "id": get(t, "id"),
                "name": get(t, "name"),
                "crashed": get(t, "crashed").as_bool().unwrap_or(false),
                "current": get(t, "current").as_bool().unwrap_or(false),
                "main": get(t, "main"),
                "state": get(t, "state"),
                "stacktrace": stacktrace(get(t, "stacktrace")),
                "rawStacktrace": stacktrace(get(t, "raw_stacktrace")),
            })
        })
        .collect();
    Some(json!({ "type": "threads", "data": { "values": converted } }))
}

fn breadcrumbs_entry(crumbs: &Value) -> Option<Value> {
    let vals = values(crumbs)?;
    let converted: Vec<Value> = vals
        .iter()
        .map(|b| {
            // Normalized timestamps are float seconds; Sentry's API returns ISO strings.
            let ts = match get(b, "timestamp") {
                Value::Number(n) => n
                    .as_f64()
                    .and_then(format_secs)
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                other => other.clone(),
            };
            json!({
                "type": get(b, "type").as_str().unwrap_or("default"),
                "category": get(b, "category"),
                "level": get(b, "level").as_str().unwrap_or("info"),
                "message": get(b, "message"),
                "data": get(b, "data"),
                "timestamp": ts,
                "event_id": get(b, "event_id"),
            })
        })
        .collect();
    Some(json!({ "type": "breadcrumbs", "data": { "values": converted } }))
}

/// Key/value collections as Sentry's `[[k, v], …]`, whatever form they were stored in:
/// pair arrays are kept, objects flattened, strings split (`a=b&c=d` or `a=b; c=d`) when
/// a separator is given.
fn pairs(v: &Value, string_sep: Option<char>) -> Value {
    let s = match v {
        Value::Array(_) => return v.clone(),
        Value::Object(map) => {
            return Value::Array(map.iter().map(|(k, v)| json!([k, v])).collect());
        }
        Value::String(s) => s,
        _ => return json!([]),
    };
    let items: Vec<Value> = match string_sep {
        None => Vec::new(),
        Some('&') => url::form_urlencoded::parse(s.trim_start_matches('?').as_bytes())
            .map(|(k, v)| json!([k, v]))
            .collect(),
        Some(sep) => s
            .split(sep)
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((k, v)) => json!([k, v]),
                None => json!([part, ""]),
            })
            .collect(),
    };
    Value::Array(items)
}

fn request_entry(req: &Value) -> Option<Value> {
    if !req.is_object() {
        return None;
    }
    Some(json!({
        "type": "request",
        "data": {
            "url": get(req, "url"),
            "method": get(req, "method"),
            "query": pairs(get(req, "query_string"), Some('&')),
            "fragment": get(req, "fragment"),
            "data": get(req, "data"),
            "headers": pairs(get(req, "headers"), None),
            "cookies": pairs(get(req, "cookies"), Some(';')),
            "env": get(req, "env"),
            "inferredContentType": get(req, "inferred_content_type"),
            "apiTarget": get(req, "api_target"),
        },
    }))
}

fn spans_entry(payload: &Value) -> Option<Value> {
    let spans = payload.get("spans").and_then(Value::as_array);
    let is_transaction = get(payload, "type").as_str() == Some("transaction");
    if !is_transaction && spans.is_none_or(|s| s.is_empty()) {
        return None;
    }
    Some(json!({ "type": "spans", "data": spans.cloned().unwrap_or_default() }))
}

fn debugmeta_entry(dm: &Value) -> Option<Value> {
    let images = dm
        .get("images")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())?;
    Some(json!({ "type": "debugmeta", "data": { "images": images } }))
}

/// All entries present in a normalized event, in the order Sentry's UI shows them.
pub fn entries(payload: &Value) -> Vec<Value> {
    let top_stack = payload
        .get("stacktrace")
        .map(stacktrace)
        .filter(|s| !s.is_null())
        .map(|data| json!({ "type": "stacktrace", "data": data }));
    [
        message_entry(payload),
        exception_entry(get(payload, "exception")),
        top_stack,
        threads_entry(get(payload, "threads")),
        spans_entry(payload),
        breadcrumbs_entry(get(payload, "breadcrumbs")),
        request_entry(get(payload, "request")),
        debugmeta_entry(get(payload, "debug_meta")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Object-valued field of the payload, or an empty object (Sentry never sends `null`
/// for `contexts` or `context`).
pub fn object_or_empty(payload: &Value, key: &str) -> Value {
    match payload.get(key) {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(Map::new()),
    }
}
