//! Custom fingerprints (§14.1): `{{ default }}` placeholder and variable resolution.

use serde_json::Value;

use super::{default_hashes, hash};
use crate::event::Event;

fn is_default_placeholder(part: &str) -> bool {
    part.chars()
        .filter(|c| !c.is_whitespace())
        .eq("{{default}}".chars())
}

/// Hashes honouring the event's fingerprint.
pub(super) fn hashes(event: &Event) -> Vec<String> {
    let parts: Vec<&str> = event
        .get("fingerprint")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if parts.is_empty() {
        return default_hashes(event);
    }
    let has_default = parts.iter().any(|p| is_default_placeholder(p));
    let custom: Vec<String> = parts
        .iter()
        .filter(|p| !is_default_placeholder(p))
        .map(|p| resolve(p, event))
        .collect();
    if !has_default {
        return vec![hash(
            std::iter::once("custom").chain(custom.iter().map(String::as_str)),
        )];
    }
    let defaults = default_hashes(event);
    if custom.is_empty() {
        return defaults;
    }
    defaults
        .iter()
        .map(|d| {
            hash(
                ["custom+default", d.as_str()]
                    .into_iter()
                    .chain(custom.iter().map(String::as_str)),
            )
        })
        .collect()
}

/// `{{ name }}` as a whole element → its value; anything else stays literal.
fn resolve(part: &str, event: &Event) -> String {
    let trimmed = part.trim();
    let Some(var) = trimmed
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .map(str::trim)
    else {
        return part.to_owned();
    };
    let last_exception = event.exceptions().last();
    let exc_field = |k: &str| {
        last_exception
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
    };
    let frame_field = |k: &str| {
        top_frame(event)
            .and_then(|f| f.get(k))
            .and_then(Value::as_str)
    };
    let or = |v: Option<&str>, missing: &str| v.map_or_else(|| missing.to_owned(), str::to_owned);
    match var {
        "transaction" => or(event.transaction(), "<no-transaction>"),
        "type" | "error.type" => or(exc_field("type"), "<no-type>"),
        "error.value" => or(exc_field("value"), "<no-value>"),
        "function" | "stack.function" => or(frame_field("function"), "<no-function>"),
        "module" | "stack.module" => or(frame_field("module"), "<no-module>"),
        "package" | "stack.package" => or(frame_field("package"), "<no-package>"),
        "level" => event.level().to_owned(),
        "logger" => or(event.logger(), "<no-logger>"),
        "message" => {
            let m = event.message();
            if m.is_empty() {
                "<no-message>".to_owned()
            } else {
                m
            }
        }
        _ => match var.strip_prefix("tags.") {
            Some(name) => event
                .tags()
                .into_iter()
                .find(|(k, _)| k == name)
                .map_or_else(|| format!("<no-value-for-tag-{name}>"), |(_, v)| v),
            None => part.to_owned(),
        },
    }
}

/// Top in-app frame of the crashing stack, else its top frame.
fn top_frame(event: &Event) -> Option<&Value> {
    let stack = event
        .exceptions()
        .iter()
        .rev()
        .find_map(|e| e.get("stacktrace"))
        .or_else(|| event.get("stacktrace"))?;
    let frames = stack.get("frames")?.as_array()?;
    frames
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .or_else(|| frames.last())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_detection() {
        assert!(is_default_placeholder("{{ default }}"));
        assert!(is_default_placeholder("{{default}}"));
        assert!(!is_default_placeholder("{{ defaults }}"));
    }
}
