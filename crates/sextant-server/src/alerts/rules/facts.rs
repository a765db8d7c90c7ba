//! What a rule sees of an event and of its issue. The caller builds them: the event from
//! its normalized JSON, the issue from its stored state.

use serde_json::{Map, Value};
use sextant_protocol::event::Event;

/// The parts of one event that conditions and filters read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFacts {
    /// `fatal`, `error`, `warning`, `info`, `debug` (or `sample`).
    pub level: String,
    /// `logentry.formatted` (or `logentry.message`, or a plain `message`).
    pub message: String,
    pub platform: String,
    pub environment: Option<String>,
    /// `error`, `default`, `transaction`, …
    pub event_type: String,
    /// The event's tags, with the ones Sentry derives from fields (`level`,
    /// `environment`, `release`, `user`, …) when the event does not set them itself.
    pub tags: Vec<(String, String)>,
    pub release: Option<String>,
    /// `mechanism.handled` of each exception that says.
    pub handled: Vec<bool>,
    /// Whether the crashing (or the exception's) thread is the main thread.
    pub main_thread: Option<bool>,
    pub exception_types: Vec<String>,
    pub exception_values: Vec<String>,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub user_username: Option<String>,
    pub user_ip: Option<String>,
    pub http_method: Option<String>,
    pub http_url: Option<String>,
    /// `contexts.response.status_code`, as text.
    pub http_status_code: Option<String>,
    pub sdk_name: Option<String>,
    /// The top-level stack trace's frames, or else those of every exception.
    pub frames: Vec<FrameFacts>,
    /// Context-backed attributes by attribute name (`unreal.crash_type`,
    /// `app.in_foreground`, `os.distribution_name`, `ota_updates.channel`, …), as text.
    pub context_attributes: Vec<(String, String)>,
}

/// One stack frame, for the `stacktrace.*` attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameFacts {
    pub filename: Option<String>,
    pub abs_path: Option<String>,
    pub module: Option<String>,
    pub package: Option<String>,
    /// `pre_context`, `context_line` and `post_context`, in order.
    pub code: Vec<String>,
}

/// Sentry's issue categories that Sextant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueCategory {
    #[default]
    Error,
    Feedback,
}

impl IssueCategory {
    /// Sentry's `GroupCategory` number.
    pub fn number(self) -> i64 {
        match self {
            IssueCategory::Error => 1,
            IssueCategory::Feedback => 6,
        }
    }
}

/// The issue's state as this event left it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssueFacts {
    /// This event created the issue.
    pub new_issue: bool,
    /// This event is the issue's first in its environment (Sentry's
    /// `is_new_group_environment`, what "a new issue is created" means for a rule with an
    /// environment). Set it to `new_issue` when not tracked.
    pub new_in_environment: bool,
    /// This event reopened a resolved issue.
    pub regression: bool,
    /// This event brought an archived issue back.
    pub reappeared: bool,
    /// Unix milliseconds.
    pub first_seen_ms: i64,
    /// Events of the issue, this one included.
    pub times_seen: i64,
    pub category: IssueCategory,
    /// The event's release is the project's latest (the caller decides which that is).
    pub is_latest_release: bool,
    /// `user:N` or `team:N`.
    pub assignee: Option<String>,
}

/// The contexts whose fields back an attribute: (context, field).
const CONTEXT_ATTRIBUTES: [(&str, &str); 7] = [
    ("unreal", "crash_type"),
    ("app", "in_foreground"),
    ("os", "distribution_name"),
    ("os", "distribution_version"),
    ("ota_updates", "channel"),
    ("ota_updates", "runtime_version"),
    ("ota_updates", "update_id"),
];

impl EventFacts {
    /// From a normalized event: tags are the event's own plus those derived the way
    /// search derives them.
    pub fn from_event(event: &Event) -> Self {
        let mut facts = Self::from_map(event.data());
        facts.tags = event.tags();
        facts
    }

    /// From a normalized Sentry event's JSON (`tags` as `[[k, v]]`, `[{key, value}]` or an
    /// object). Derived tags are limited to the ones read from top-level fields; prefer
    /// [`EventFacts::from_event`] when the event is at hand.
    pub fn from_event_json(event: &Value) -> Self {
        let empty = Map::new();
        let map = event.as_object().unwrap_or(&empty);
        let mut facts = Self::from_map(map);
        facts.tags = json_tags(map, &facts);
        facts
    }

    fn from_map(data: &Map<String, Value>) -> Self {
        let text = |v: Option<&Value>| v.and_then(scalar_text);
        let at = |keys: &[&str]| path(data, keys);

        let exceptions: Vec<&Value> = at(&["exception", "values"])
            .and_then(Value::as_array)
            .map(|v| v.iter().filter(|e| e.is_object()).collect())
            .unwrap_or_default();
        let frames = match at(&["stacktrace", "frames"]).and_then(Value::as_array) {
            Some(frames) => frames.iter().map(frame).collect(),
            None => exceptions
                .iter()
                .filter_map(|e| e.pointer("/stacktrace/frames").and_then(Value::as_array))
                .flatten()
                .map(frame)
                .collect(),
        };
        let message = at(&["logentry", "formatted"])
            .or_else(|| at(&["logentry", "message"]))
            .or_else(|| at(&["message", "formatted"]))
            .or_else(|| at(&["message"]).filter(|m| m.is_string()))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let contexts = data.get("contexts");
        let context_attributes = CONTEXT_ATTRIBUTES
            .iter()
            .filter_map(|(ctx, field)| {
                let value = contexts.and_then(|c| c.get(ctx)).and_then(|c| c.get(field));
                Some((format!("{ctx}.{field}"), text(value)?))
            })
            .collect();

        EventFacts {
            level: text(data.get("level")).unwrap_or_else(|| "error".into()),
            message,
            platform: text(data.get("platform")).unwrap_or_else(|| "other".into()),
            environment: text(data.get("environment")),
            event_type: text(data.get("type")).unwrap_or_else(|| "default".into()),
            tags: Vec::new(),
            release: text(data.get("release")),
            handled: exceptions
                .iter()
                .filter_map(|e| e.pointer("/mechanism/handled").and_then(Value::as_bool))
                .collect(),
            main_thread: main_thread(data, &exceptions),
            exception_types: exceptions
                .iter()
                .filter_map(|e| text(e.get("type")))
                .collect(),
            exception_values: exceptions
                .iter()
                .filter_map(|e| text(e.get("value")))
                .collect(),
            user_id: text(at(&["user", "id"])),
            user_email: text(at(&["user", "email"])),
            user_username: text(at(&["user", "username"])),
            user_ip: text(at(&["user", "ip_address"])),
            http_method: text(at(&["request", "method"])),
            http_url: text(at(&["request", "url"])),
            http_status_code: text(at(&["contexts", "response", "status_code"])),
            sdk_name: text(at(&["sdk", "name"])),
            frames,
            context_attributes,
        }
    }
}

fn path<'a>(data: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    let (first, rest) = keys.split_first()?;
    rest.iter().try_fold(data.get(*first)?, |v, k| v.get(k))
}

/// A string, number or boolean as text (booleans as Python's `str(...).lower()` gives).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn frame(value: &Value) -> FrameFacts {
    let text = |k: &str| value.get(k).and_then(scalar_text);
    let lines = |k: &str| -> Vec<String> {
        value
            .get(k)
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(scalar_text).collect())
            .unwrap_or_default()
    };
    let mut code = lines("pre_context");
    code.extend(text("context_line"));
    code.extend(lines("post_context"));
    FrameFacts {
        filename: text("filename"),
        abs_path: text("abs_path"),
        module: text("module"),
        package: text("package"),
        code,
    }
}

/// `main` of the exception's thread (by `thread_id`), else of the crashed thread.
fn main_thread(data: &Map<String, Value>, exceptions: &[&Value]) -> Option<bool> {
    let threads = path(data, &["threads", "values"])?.as_array()?;
    let thread_id = exceptions.iter().rev().find_map(|e| e.get("thread_id"));
    let thread = match thread_id {
        Some(id) => threads.iter().find(|t| t.get("id") == Some(id)),
        None => threads
            .iter()
            .find(|t| t.get("crashed").and_then(Value::as_bool) == Some(true)),
    }?;
    thread.get("main").and_then(Value::as_bool)
}

/// The event's tags in any of Sentry's shapes, then the field-derived ones it lacks.
fn json_tags(data: &Map<String, Value>, facts: &EventFacts) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |k: Option<String>, v: Option<String>| {
        if let (Some(k), Some(v)) = (k, v)
            && !out.iter().any(|(key, _)| *key == k)
        {
            out.push((k, v));
        }
    };
    match data.get("tags") {
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::Array(pair) if pair.len() == 2 => {
                        push(scalar_text(&pair[0]), scalar_text(&pair[1]));
                    }
                    Value::Object(obj) => push(
                        obj.get("key").and_then(scalar_text),
                        obj.get("value").and_then(scalar_text),
                    ),
                    _ => {}
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, v) in map {
                push(Some(k.clone()), scalar_text(v));
            }
        }
        _ => {}
    }
    let field = |k: &str| data.get(k).and_then(scalar_text);
    push(Some("level".into()), Some(facts.level.clone()));
    push(Some("environment".into()), facts.environment.clone());
    push(Some("release".into()), facts.release.clone());
    push(Some("dist".into()), field("dist"));
    push(Some("transaction".into()), field("transaction"));
    let user = [
        ("id", &facts.user_id),
        ("email", &facts.user_email),
        ("username", &facts.user_username),
        ("ip", &facts.user_ip),
    ]
    .into_iter()
    .find_map(|(kind, v)| v.as_ref().map(|v| format!("{kind}:{v}")));
    push(Some("user".into()), user);
    push(Some("url".into()), facts.http_url.clone());
    out
}
