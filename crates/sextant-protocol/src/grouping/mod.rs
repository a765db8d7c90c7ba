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
struct Variant {
    values: Vec<String>,
    frames_contribute: bool,
}

fn exception_chain(exceptions: &[Value], platform: &str, app_only: bool) -> Variant {
    let mut values = Vec::new();
    let mut frames_contribute = false;
    for exc in exceptions {
        let stack = exc
            .get("stacktrace")
            .map(|st| frames::stack_values(st, platform, app_only))
            .unwrap_or_default();
        let stack_contributes = !stack.is_empty();
        frames_contribute |= stack_contributes;
        let mut component = stack;
        let synthetic =
            path(exc, &["mechanism", "synthetic"]).and_then(Value::as_bool) == Some(true);
        if !synthetic && let Some(ty) = exc.get("type").and_then(Value::as_str) {
            component.push(format!("type:{ty}"));
        }
        if !stack_contributes && let Some(value) = exc.get("value").and_then(Value::as_str) {
            component.push(format!("value:{}", normalize_message(value)));
        }
        if !component.is_empty() {
            values.push("exception".to_owned());
            values.extend(component);
        }
    }
    Variant {
        values,
        frames_contribute,
    }
}

fn stack_variant(stacktrace: &Value, platform: &str, app_only: bool) -> Variant {
    let values = frames::stack_values(stacktrace, platform, app_only);
    Variant {
        frames_contribute: !values.is_empty(),
        values,
    }
}

/// App hash first when in-app frames contribute, then the system hash. Both variants use
/// the same prefix so an all-in-app stack yields one hash (as Sentry dedupes variants).
fn variant_hashes(source: &str, app: Variant, system: Variant) -> Vec<String> {
    let mut out = Vec::new();
    if app.frames_contribute {
        out.push(hash(
            std::iter::once(source).chain(app.values.iter().map(String::as_str)),
        ));
    }
    let system_hash = hash(std::iter::once(source).chain(system.values.iter().map(String::as_str)));
    if !out.contains(&system_hash) {
        out.push(system_hash);
    }
    out
}

/// Sentry's default grouping: first contributing source wins.
pub(crate) fn default_hashes(event: &Event) -> Vec<String> {
    let platform = event.platform();
    let exceptions = event.exceptions();
    if !exceptions.is_empty() {
        let system = exception_chain(exceptions, platform, false);
        if !system.values.is_empty() {
            let app = exception_chain(exceptions, platform, true);
            return variant_hashes("exception", app, system);
        }
    }
    if let Some(stack) = single_thread_stack(event) {
        let system = stack_variant(stack, platform, false);
        if system.frames_contribute {
            return variant_hashes("threads", stack_variant(stack, platform, true), system);
        }
    }
    if let Some(stack) = event.get("stacktrace") {
        let system = stack_variant(stack, platform, false);
        if system.frames_contribute {
            return variant_hashes("stacktrace", stack_variant(stack, platform, true), system);
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
