//! Exceptions and threads (§8.3, §8.5): container forms, `Type: message` splitting and
//! moving a lone top-level stacktrace into the exception.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::frames::normalize_stacktrace;
use super::trim::trim_string;
use crate::jsonval::{scalar_to_string, values_object};

const MAX_VALUE: usize = 8192;

/// `Name: message` where Name looks like a (dotted) identifier.
static TYPE_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*):\s*(.*)$").expect("type regex")
});

pub(super) fn normalize(data: &mut Map<String, Value>) {
    let mut values: Vec<Value> = match data.remove("exception") {
        Some(Value::Array(items)) => items,
        Some(Value::Object(mut map)) => match map.remove("values") {
            Some(Value::Array(items)) => items,
            Some(_) => Vec::new(),
            // A single exception object without the container.
            None => vec![Value::Object(map)],
        },
        _ => Vec::new(),
    };
    values = values.into_iter().filter_map(normalize_exception).collect();

    if let Some(stacktrace) = data.remove("stacktrace").and_then(normalize_stacktrace) {
        match values.as_mut_slice() {
            [single] if single.get("stacktrace").is_none() => {
                single["stacktrace"] = stacktrace;
            }
            _ => {
                data.insert("stacktrace".into(), stacktrace);
            }
        }
    }
    if !values.is_empty() {
        data.insert("exception".into(), values_object(values));
    }
    normalize_threads(data);
}

fn normalize_exception(value: Value) -> Option<Value> {
    let Value::Object(mut exc) = value else {
        return None;
    };
    exc.retain(|_, v| !v.is_null());
    for key in ["type", "value", "module"] {
        let text = match exc.get(key) {
            None => continue,
            Some(Value::Object(_) | Value::Array(_)) if key == "value" => {
                exc.get(key).map(Value::to_string)
            }
            Some(v) => scalar_to_string(v),
        };
        match text {
            Some(s) if !s.is_empty() => exc.insert(key.into(), s.into()),
            _ => exc.remove(key),
        };
    }
    if !exc.contains_key("type") {
        let split = exc.get("value").and_then(Value::as_str).and_then(|v| {
            TYPE_VALUE
                .captures(v)
                .map(|c| (c[1].to_owned(), c[2].trim().to_owned()))
        });
        if let Some((ty, rest)) = split {
            exc.insert("type".into(), ty.into());
            if rest.is_empty() {
                exc.remove("value");
            } else {
                exc.insert("value".into(), rest.into());
            }
        }
    }
    if !exc.contains_key("type") && !exc.contains_key("value") {
        return None;
    }
    if let Some(Value::String(v)) = exc.get_mut("value") {
        trim_string(v, MAX_VALUE);
    }
    match exc.get_mut("mechanism") {
        Some(Value::Object(mechanism)) => {
            let has_type = mechanism.get("type").is_some_and(Value::is_string);
            if !has_type {
                mechanism.insert("type".into(), "generic".into());
            }
        }
        Some(_) => {
            exc.remove("mechanism");
        }
        None => {}
    }
    if let Some(st) = exc.remove("stacktrace").and_then(normalize_stacktrace) {
        exc.insert("stacktrace".into(), st);
    }
    if let Some(st) = exc.remove("raw_stacktrace").and_then(normalize_stacktrace) {
        exc.insert("raw_stacktrace".into(), st);
    }
    Some(Value::Object(exc))
}

fn normalize_threads(data: &mut Map<String, Value>) {
    let threads: Vec<Value> = match data.remove("threads") {
        Some(Value::Array(items)) => items,
        Some(Value::Object(mut map)) => match map.remove("values") {
            Some(Value::Array(items)) => items,
            _ => return,
        },
        _ => return,
    };
    let threads: Vec<Value> = threads
        .into_iter()
        .filter_map(|t| {
            let Value::Object(mut thread) = t else {
                return None;
            };
            thread.retain(|_, v| !v.is_null());
            for key in ["stacktrace", "raw_stacktrace"] {
                if let Some(st) = thread.remove(key).and_then(normalize_stacktrace) {
                    thread.insert(key.into(), st);
                }
            }
            Some(Value::Object(thread))
        })
        .collect();
    if !threads.is_empty() {
        data.insert("threads".into(), values_object(threads));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(input: Value) -> Map<String, Value> {
        let mut data = input.as_object().unwrap().clone();
        normalize(&mut data);
        data
    }

    #[test]
    fn accepts_all_container_forms() {
        let one = json!({"type": "E", "value": "v"});
        for form in [
            json!({"values": [one.clone()]}),
            json!([one.clone()]),
            one.clone(),
        ] {
            let data = run(json!({ "exception": form }));
            assert_eq!(data["exception"], json!({"values": [one.clone()]}));
        }
    }

    #[test]
    fn splits_type_from_value_and_drops_empty() {
        let data = run(json!({"exception": [
            {"value": "ValueError: bad thing"},
            {"value": "no colon here"},
            {"value": "Disk: 90% full: sure"},
            {"module": "x"},
        ]}));
        assert_eq!(
            data["exception"]["values"],
            json!([
                {"type": "ValueError", "value": "bad thing"},
                {"value": "no colon here"},
                {"type": "Disk", "value": "90% full: sure"},
            ])
        );
    }

    #[test]
    fn moves_top_level_stacktrace() {
        let frames = json!({"frames": [{"function": "f"}]});
        let data = run(json!({"exception": {"values": [{"type": "E"}]}, "stacktrace": frames}));
        assert_eq!(
            data["exception"]["values"][0]["stacktrace"]["frames"][0]["function"],
            "f"
        );
        assert!(!data.contains_key("stacktrace"));

        let data = run(json!({"stacktrace": {"frames": [{"function": "f"}]}}));
        assert!(data.contains_key("stacktrace"));
    }

    #[test]
    fn threads_accept_bare_list() {
        let data =
            run(json!({"threads": [{"id": 1, "stacktrace": {"frames": [{"function": "f"}]}}, 5]}));
        assert_eq!(data["threads"]["values"].as_array().unwrap().len(), 1);
    }
}
