//! Reading the event JSON the API serves, tolerant of Sentry's camelCase and our stored
//! snake_case field names (e.g. `inApp` / `in_app`, `contextLine` / `context_line`).

use serde_json::Value;

/// The first of `names` that `v` has (and is not null).
pub fn field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| v.get(*n).filter(|x| !x.is_null()))
}

pub fn str_field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a str> {
    field(v, names).and_then(Value::as_str)
}

/// The issue id the event belongs to, as a string.
pub fn issue_id(event: &Value) -> String {
    let v = field(
        event,
        &["groupID", "groupId", "group_id", "issue_id", "issueId"],
    )
    .unwrap_or_else(|| panic!("event has no groupID: {event}"));
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `values` of the entry of `kind` (Sentry's `entries: [{type, data}]`), else of the
/// top-level interface of that name.
pub fn interface_values(event: &Value, kind: &str) -> Vec<Value> {
    if let Some(entries) = event.get("entries").and_then(Value::as_array)
        && let Some(entry) = entries
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some(kind))
    {
        let data = &entry["data"];
        return match data.get("values") {
            Some(Value::Array(values)) => values.clone(),
            _ => match data {
                Value::Array(values) => values.clone(),
                other => vec![other.clone()],
            },
        };
    }
    match event.get(kind) {
        Some(Value::Array(values)) => values.clone(),
        Some(obj @ Value::Object(_)) => match obj.get("values") {
            Some(Value::Array(values)) => values.clone(),
            _ => vec![obj.clone()],
        },
        _ => Vec::new(),
    }
}

/// Exceptions, oldest first (the raised one is last).
pub fn exceptions(event: &Value) -> Vec<Value> {
    interface_values(event, "exception")
}

pub fn breadcrumbs(event: &Value) -> Vec<Value> {
    interface_values(event, "breadcrumbs")
}

/// Frames of the last exception, oldest first.
pub fn frames(event: &Value) -> Vec<Value> {
    let excs = exceptions(event);
    let last = excs
        .last()
        .unwrap_or_else(|| panic!("event has no exception: {event}"));
    last.get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A frame, read whatever the naming.
#[derive(Debug, Clone)]
pub struct Frame {
    pub function: Option<String>,
    pub module: Option<String>,
    pub filename: Option<String>,
    pub lineno: Option<i64>,
    pub in_app: Option<bool>,
    pub context_line: Option<String>,
    pub pre_context: Vec<String>,
    pub post_context: Vec<String>,
    pub vars: Option<Value>,
}

pub fn frame_view(f: &Value) -> Frame {
    let s = |names: &[&str]| str_field(f, names).map(str::to_string);
    let lineno = field(f, &["lineno", "lineNo"]).and_then(Value::as_i64);
    let lines = |names: &[&str]| -> Vec<String> {
        field(f, names)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut frame = Frame {
        function: s(&["function"]),
        module: s(&["module"]),
        filename: s(&["filename"]),
        lineno,
        in_app: field(f, &["in_app", "inApp"]).and_then(Value::as_bool),
        context_line: s(&["context_line", "contextLine"]),
        pre_context: lines(&["pre_context", "preContext"]),
        post_context: lines(&["post_context", "postContext"]),
        vars: field(f, &["vars"]).cloned(),
    };
    // Sentry's API shape: `context: [[lineno, line], …]` around `lineNo`.
    if frame.context_line.is_none()
        && let (Some(ctx), Some(n)) = (f.get("context").and_then(Value::as_array), lineno)
    {
        for pair in ctx {
            let (Some(no), Some(line)) = (
                pair.get(0).and_then(Value::as_i64),
                pair.get(1).and_then(Value::as_str),
            ) else {
                continue;
            };
            match no.cmp(&n) {
                std::cmp::Ordering::Less => frame.pre_context.push(line.to_string()),
                std::cmp::Ordering::Equal => frame.context_line = Some(line.to_string()),
                std::cmp::Ordering::Greater => frame.post_context.push(line.to_string()),
            }
        }
    }
    frame
}

pub fn frame_views(event: &Value) -> Vec<Frame> {
    frames(event).iter().map(frame_view).collect()
}

/// Value of tag `key`, from `[{key, value}]`, `[[k, v]]` or `{k: v}`.
pub fn tag(event: &Value, key: &str) -> Option<String> {
    match event.get("tags")? {
        Value::Array(list) => list.iter().find_map(|t| {
            let (k, v) = match t {
                Value::Array(pair) => (pair.first()?.as_str()?, pair.get(1)?),
                obj => (obj.get("key")?.as_str()?, obj.get("value")?),
            };
            (k == key).then(|| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
        }),
        Value::Object(map) => map.get(key).map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        }),
        _ => None,
    }
}

/// The release version: `release: {version}` (Sentry API) or a plain string.
pub fn release(event: &Value) -> Option<String> {
    match event.get("release")? {
        Value::String(s) => Some(s.clone()),
        obj => obj
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// The environment: the field, else the `environment` tag.
pub fn environment(event: &Value) -> Option<String> {
    str_field(event, &["environment"])
        .map(str::to_string)
        .or_else(|| tag(event, "environment"))
}

/// The event id as 32 hex, whatever the field name.
pub fn event_id(event: &Value) -> Option<String> {
    str_field(event, &["eventID", "eventId", "event_id", "id"]).map(|s| s.replace('-', ""))
}
