//! Lenient typed readers over `serde_json::Value`, shared by normalization and grouping.

use serde_json::{Map, Value};

/// A non-empty string at `key`.
pub(crate) fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Follows object keys; a non-object on the way yields `None`.
pub(crate) fn path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, k| v.as_object()?.get(*k))
}

/// A non-empty string reached by `keys`.
pub(crate) fn path_str<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a str> {
    match path(value, keys) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// `{"values": items}`, moving the items in. (`json!({"values": items})` would serialize a
/// deep copy of them, the costliest step of normalizing a large stack trace.)
pub(crate) fn values_object(items: Vec<Value>) -> Value {
    let mut container = Map::new();
    container.insert("values".into(), Value::Array(items));
    Value::Object(container)
}

/// Scalar → string the way SDK-side coercion works (`42` → `"42"`, `true` → `"true"`);
/// containers and null have no string form.
pub(crate) fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
