//! Issue display data (§14.8): title, culprit and Sentry-style metadata.

use serde_json::{Map, Value, json};

use crate::event::{Event, trim_string};
use crate::jsonval::path;

const MAX_TITLE_VALUE: usize = 100;
const MAX_CULPRIT: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct IssueMetadata {
    pub title: String,
    pub culprit: String,
    /// `{"type","value","filename","function"}` for errors, `{"title"}` for others.
    pub metadata: Value,
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

fn clipped(s: &str, max: usize) -> String {
    let mut s = s.to_owned();
    trim_string(&mut s, max);
    s
}

pub fn issue_metadata(event: &Event) -> IssueMetadata {
    let culprit = clipped(&culprit(event), MAX_CULPRIT);
    let exceptions = event.exceptions();
    let (title, metadata) = match event.event_type() {
        "transaction" => {
            let title = event
                .transaction()
                .unwrap_or("<unlabeled transaction>")
                .to_owned();
            (title.clone(), json!({ "title": title }))
        }
        "feedback" => feedback(event),
        "csp" => csp(event),
        _ if !exceptions.is_empty() => error(event, exceptions),
        _ => {
            let message = event.message();
            let line = first_line(&message);
            let title = if line.is_empty() {
                "<unlabeled event>".to_owned()
            } else {
                clipped(line, MAX_TITLE_VALUE)
            };
            (title.clone(), json!({ "title": title }))
        }
    };
    IssueMetadata {
        title,
        culprit,
        metadata,
    }
}

fn error(event: &Event, exceptions: &[Value]) -> (String, Value) {
    let exc = exceptions.last().unwrap_or(&Value::Null);
    let synthetic = path(exc, &["mechanism", "synthetic"]).and_then(Value::as_bool) == Some(true);
    let ty = exc
        .get("type")
        .and_then(Value::as_str)
        .filter(|_| !synthetic);
    let value = exc.get("value").and_then(Value::as_str).unwrap_or_default();
    let frame = crash_frame(event);
    let function = frame
        .and_then(|f| f.get("function"))
        .and_then(Value::as_str);
    let filename = frame
        .and_then(|f| f.get("filename").or_else(|| f.get("abs_path")))
        .and_then(Value::as_str);

    let mut metadata = Map::new();
    if let Some(ty) = ty {
        metadata.insert("type".into(), ty.into());
    }
    metadata.insert("value".into(), clipped(value, 1024).into());
    if let Some(f) = filename {
        metadata.insert("filename".into(), f.into());
    }
    if let Some(f) = function {
        metadata.insert("function".into(), f.into());
    }

    let value_line = first_line(value);
    let title = match ty {
        Some(ty) if value_line.is_empty() => ty.to_owned(),
        Some(ty) => format!("{ty}: {}", clipped(value_line, MAX_TITLE_VALUE)),
        // Synthetic (JS captureMessage) or untyped: the message reads best, then the value.
        None => {
            let message = event.message();
            [first_line(&message), value_line]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(|s| clipped(s, MAX_TITLE_VALUE))
                .or_else(|| function.map(str::to_owned))
                .unwrap_or_else(|| "<unknown>".to_owned())
        }
    };
    (title, Value::Object(metadata))
}

fn feedback(event: &Event) -> (String, Value) {
    let fb = event
        .get("contexts")
        .and_then(|c| c.get("feedback"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut metadata = json!({ "title": "User Feedback" });
    for key in [
        "message",
        "contact_email",
        "name",
        "source",
        "associated_event_id",
    ] {
        if let Some(v) = fb.get(key).filter(|v| v.is_string()) {
            metadata[key] = v.clone();
        }
    }
    ("User Feedback".to_owned(), metadata)
}

fn csp(event: &Event) -> (String, Value) {
    let csp = event.get("csp").cloned().unwrap_or(Value::Null);
    let field = |k: &str| csp.get(k).and_then(Value::as_str).unwrap_or_default();
    let directive = [field("effective_directive"), field("violated_directive")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    let directive = directive.split_whitespace().next().unwrap_or_default();
    let blocked = field("blocked_uri");
    let host = blocked
        .split_once("://")
        .map_or(blocked, |(_, rest)| rest.split('/').next().unwrap_or(rest));
    let host = if host.is_empty() { "self" } else { host };
    let title = format!("Blocked '{directive}' from '{host}'");
    (title, json!({ "directive": directive, "uri": blocked }))
}

/// The frame an error happened in: most recent in-app frame of the last exception with a
/// stack, else its most recent frame; threads and the top-level stack as fallbacks.
fn crash_frame(event: &Event) -> Option<&Value> {
    let exception_stack = event
        .exceptions()
        .iter()
        .rev()
        .find_map(|e| e.get("stacktrace"));
    let thread_stack = || {
        event
            .get("threads")
            .and_then(|t| t.get("values"))
            .and_then(Value::as_array)
            .and_then(|ts| ts.iter().find_map(|t| t.get("stacktrace")))
    };
    let stack = exception_stack
        .or_else(|| event.get("stacktrace"))
        .or_else(thread_stack)?;
    let frames = stack.get("frames")?.as_array()?;
    frames
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .or_else(|| frames.last())
}

fn culprit(event: &Event) -> String {
    if let Some(t) = event.transaction() {
        return t.to_owned();
    }
    let Some(frame) = crash_frame(event) else {
        return String::new();
    };
    let s = |k: &str| {
        frame
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let function = s("function");
    let file = s("filename").or_else(|| s("abs_path"));
    if matches!(event.platform(), "javascript" | "node") {
        return match (function, file) {
            (Some(f), Some(file)) => format!("{f}({file})"),
            (Some(f), None) => f.to_owned(),
            (None, file) => file.unwrap_or_default().to_owned(),
        };
    }
    match (s("module").or(file), function) {
        (Some(m), Some(f)) => format!("{m} in {f}"),
        (Some(m), None) => m.to_owned(),
        (None, Some(f)) => f.to_owned(),
        (None, None) => String::new(),
    }
}
