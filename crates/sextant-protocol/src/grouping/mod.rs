//! Issue grouping (§14): default hashes from exceptions/threads/stack/message with app
//! and system variants, custom fingerprints, and display metadata.

mod fingerprint;
mod frames;
mod message;
mod metadata;

pub use message::normalize_message;
pub use metadata::{IssueMetadata, issue_metadata};

use md5::{Digest, Md5};
use serde_json::Value;

use crate::event::Event;
use crate::jsonval::path;

/// Stored with each hash so a future algorithm change can be told apart.
pub const GROUPING_CONFIG: &str = "sextant:2026-11";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub config: &'static str,
    /// 32-hex MD5 hashes, primary first, deduplicated. Empty for transactions.
    pub hashes: Vec<String>,
}

impl Grouping {
    pub fn primary(&self) -> Option<&str> {
        self.hashes.first().map(String::as_str)
    }
}

pub fn group(event: &Event) -> Grouping {
    let hashes = match event.event_type() {
        "transaction" => Vec::new(),
        // Every feedback is its own issue; derive from the id so reprocessing is stable.
        "feedback" => vec![hash(["feedback", event.event_id()])],
        _ => fingerprint::hashes(event),
    };
    Grouping {
        config: GROUPING_CONFIG,
        hashes,
    }
}

/// MD5 over the parts with a NUL separator, so `["ab","c"]` and `["a","bc"]` differ.
pub(crate) fn hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Md5::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Contributing values of one source for one variant, plus whether a frame contributed
/// (the app variant only counts when one did).
#[derive(Default)]
struct Variant {
    values: Vec<String>,
    frames_contribute: bool,
}

impl Variant {
    /// Appends one exception's component: its frames, then its type, then its value when
    /// no frame contributed.
    fn push_exception(&mut self, stack: Vec<String>, ty: Option<&str>, value: Option<&str>) {
        let stack_contributes = !stack.is_empty();
        self.frames_contribute |= stack_contributes;
        let mut component = stack;
        if let Some(ty) = ty {
            component.push(format!("type:{ty}"));
        }
        if !stack_contributes && let Some(value) = value {
            component.push(format!("value:{}", normalize_message(value)));
        }
        if !component.is_empty() {
            self.values.push("exception".to_owned());
            self.values.extend(component);
        }
    }
}

/// The (system, app) variants of an exception chain.
fn exception_chain(exceptions: &[Value], platform: &str) -> (Variant, Variant) {
    let (mut system, mut app) = (Variant::default(), Variant::default());
    for exc in exceptions {
        let stack = exc
            .get("stacktrace")
            .map(|st| frames::stack_values(st, platform))
            .unwrap_or_default();
        let synthetic =
            path(exc, &["mechanism", "synthetic"]).and_then(Value::as_bool) == Some(true);
        let ty = exc
            .get("type")
            .and_then(Value::as_str)
            .filter(|_| !synthetic);
        let value = exc.get("value").and_then(Value::as_str);
        system.push_exception(stack.system, ty, value);
        app.push_exception(stack.app, ty, value);
    }
    (system, app)
}

/// The (system, app) variants of a bare stacktrace.
fn stack_variants(stacktrace: &Value, platform: &str) -> (Variant, Variant) {
    let values = frames::stack_values(stacktrace, platform);
    let variant = |values: Vec<String>| Variant {
        frames_contribute: !values.is_empty(),
        values,
    };
    (variant(values.system), variant(values.app))
}

/// App hash first when in-app frames contribute, then the system hash. Both variants use
/// the same prefix so an all-in-app stack yields one hash (as Sentry dedupes variants).
fn variant_hashes(source: &str, app: Variant, system: Variant) -> Vec<String> {
    let digest =
        |values: &[String]| hash(std::iter::once(source).chain(values.iter().map(String::as_str)));
    let system_hash = digest(&system.values);
    // An all-in-app stack gives the same values twice: hashing them once is enough.
    if !app.frames_contribute || app.values == system.values {
        return vec![system_hash];
    }
    vec![digest(&app.values), system_hash]
}

/// Sentry's default grouping: first contributing source wins.
pub(crate) fn default_hashes(event: &Event) -> Vec<String> {
    let platform = event.platform();
    let exceptions = event.exceptions();
    if !exceptions.is_empty() {
        let (system, app) = exception_chain(exceptions, platform);
        if !system.values.is_empty() {
            return variant_hashes("exception", app, system);
        }
    }
    if let Some(stack) = single_thread_stack(event) {
        let (system, app) = stack_variants(stack, platform);
        if system.frames_contribute {
            return variant_hashes("threads", app, system);
        }
    }
    if let Some(stack) = event.get("stacktrace") {
        let (system, app) = stack_variants(stack, platform);
        if system.frames_contribute {
            return variant_hashes("stacktrace", app, system);
        }
    }
    if let Some(text) = grouping_message(event) {
        return vec![hash(["message", &normalize_message(&text)])];
    }
    let field = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
    vec![hash([
        "fallback",
        event.event_type(),
        field("logger"),
        field("transaction"),
    ])]
}

/// The template when present, so params do not split groups.
fn grouping_message(event: &Event) -> Option<String> {
    let entry = event.get("logentry")?;
    ["message", "formatted"]
        .iter()
        .find_map(|k| {
            entry
                .get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        })
        .map(str::to_owned)
}

/// Sentry only groups by threads when exactly one thread carries a stack.
fn single_thread_stack(event: &Event) -> Option<&Value> {
    let threads = event.get("threads")?.get("values")?.as_array()?;
    let mut stacks = threads.iter().filter_map(|t| t.get("stacktrace"));
    let first = stacks.next()?;
    stacks.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests;
