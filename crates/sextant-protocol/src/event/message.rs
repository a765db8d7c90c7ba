//! `message` / `logentry` (§8.2): merge both forms into `logentry` and format
//! `%s`/`{0}`-style templates when only template and params were sent.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::{Map, Value};

use super::trim::trim_string;
use crate::jsonval::scalar_to_string;

const MAX_MESSAGE: usize = 8192;

/// Python `%` conversions (optionally `%(name)s`) and `{}` / `{0}` / `{name}` fields.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[hlL]?(?P<conv>[diouxXeEfFgGcrsa%])|\{(?P<field>[^{}]*)\}",
    )
    .expect("placeholder regex")
});

pub(super) fn normalize(data: &mut Map<String, Value>) {
    let mut entry = match data.remove("logentry") {
        Some(Value::Object(map)) => map,
        Some(Value::String(s)) => Map::from_iter([("formatted".to_owned(), Value::String(s))]),
        _ => Map::new(),
    };
    match data.remove("message") {
        Some(Value::String(s))
            if !has_text(&entry, "formatted") && !has_text(&entry, "message") =>
        {
            entry.insert("formatted".into(), Value::String(s));
        }
        Some(Value::Object(map)) if entry.is_empty() => entry = map,
        _ => {}
    }
    entry.retain(|_, v| !v.is_null());
    for key in ["formatted", "message"] {
        match entry.get(key).map(scalar_to_string) {
            None => {}
            Some(Some(s)) if !s.is_empty() => {
                entry.insert(key.into(), Value::String(s));
            }
            Some(_) => {
                entry.remove(key);
            }
        }
    }
    let params_empty = match entry.get("params") {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => true,
    };
    if params_empty {
        entry.remove("params");
    }
    if !entry.contains_key("formatted") {
        let Some(template) = entry.get("message").and_then(Value::as_str) else {
            return;
        };
        let formatted = entry
            .get("params")
            .map_or_else(|| template.to_owned(), |p| format_template(template, p));
        entry.insert("formatted".into(), formatted.into());
    }
    if entry.get("formatted") == entry.get("message") {
        entry.remove("message");
    }
    for key in ["formatted", "message"] {
        if let Some(Value::String(s)) = entry.get_mut(key) {
            trim_string(s, MAX_MESSAGE);
        }
    }
    data.insert("logentry".into(), Value::Object(entry));
}

fn has_text(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key)
        .and_then(scalar_to_string)
        .is_some_and(|s| !s.is_empty())
}

fn param_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Substitutes params into a template; placeholders without a matching param stay as-is.
pub fn format_template(template: &str, params: &Value) -> String {
    let mut next_positional = 0usize;
    let mut positional = |params: &Value| {
        let v = params.as_array().and_then(|a| a.get(next_positional));
        next_positional += 1;
        v.map(param_text)
    };
    PLACEHOLDER
        .replace_all(template, |caps: &Captures<'_>| {
            let whole = caps[0].to_owned();
            if let Some(conv) = caps.name("conv") {
                if conv.as_str() == "%" {
                    return "%".to_owned();
                }
                let found = match caps.name("key") {
                    Some(key) => params.get(key.as_str()).map(param_text),
                    None => positional(params),
                };
                return found.unwrap_or(whole);
            }
            let field = caps.name("field").map_or("", |m| m.as_str());
            // `{0:>10}` → index 0; the format spec is not applied.
            let name = field.split([':', '!']).next().unwrap_or_default();
            let found = if name.is_empty() {
                positional(params)
            } else if let Ok(index) = name.parse::<usize>() {
                params.as_array().and_then(|a| a.get(index)).map(param_text)
            } else {
                params.get(name).map(param_text)
            };
            found.unwrap_or(whole)
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(input: Value) -> Value {
        let mut data = input.as_object().unwrap().clone();
        normalize(&mut data);
        data.get("logentry").cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn formats_templates() {
        assert_eq!(
            format_template("Payment %s failed for %d items", &json!(["p-1", 3])),
            "Payment p-1 failed for 3 items"
        );
        assert_eq!(
            format_template("%(who)s did %r", &json!({"who": "bob"})),
            "bob did %r"
        );
        assert_eq!(
            format_template("{0} and {1} and {}", &json!(["a", "b"])),
            "a and b and a"
        );
        assert_eq!(format_template("{name}!", &json!({"name": "x"})), "x!");
        assert_eq!(
            format_template("100%% of %s", &json!([true])),
            "100% of true"
        );
        assert_eq!(format_template("%s %s", &json!(["only"])), "only %s");
    }

    #[test]
    fn message_string_becomes_logentry() {
        assert_eq!(
            run(json!({"message": "hello"})),
            json!({"formatted": "hello"})
        );
        assert_eq!(
            run(json!({"message": {"message": "a %s", "params": ["b"]}})),
            json!({"formatted": "a b", "message": "a %s", "params": ["b"]})
        );
        assert_eq!(
            run(json!({"logentry": {"message": "x %s", "params": [1]}, "message": "ignored"})),
            json!({"formatted": "x 1", "message": "x %s", "params": [1]})
        );
        assert_eq!(
            run(json!({"logentry": {"message": "same", "params": [], "formatted": null}})),
            json!({"formatted": "same"})
        );
        assert_eq!(run(json!({"message": ""})), Value::Null);
    }
}
