//! Breadcrumbs (§8.6): object or bare-array container, float timestamps, last 100 kept.

use serde_json::{Map, Value, json};

use super::meta::{At, Meta};
use super::normalize::parse_level;
use super::trim::{BagSize, trim_databag, trim_string};
use crate::jsonval::values_object;
use crate::timestamp::parse_timestamp;

const MAX_BREADCRUMBS: usize = 100;
const MAX_MESSAGE: usize = 8192;

pub(super) fn normalize(data: &mut Map<String, Value>, meta: &mut Meta) {
    let items = match data.remove("breadcrumbs") {
        Some(Value::Array(items)) => items,
        Some(Value::Object(mut map)) => match map.remove("values") {
            Some(Value::Array(items)) => items,
            _ => return,
        },
        _ => return,
    };
    let skip = items.len().saturating_sub(MAX_BREADCRUMBS);
    let at = At::ROOT.key("breadcrumbs");
    let at = at.key("values");
    let mut crumbs: Vec<Value> = Vec::with_capacity(items.len() - skip);
    for item in items.into_iter().skip(skip) {
        if let Value::Object(map) = item {
            let crumb = normalize_crumb(map, &at.index(crumbs.len()), meta);
            crumbs.push(Value::Object(crumb));
        }
    }
    if !crumbs.is_empty() {
        data.insert("breadcrumbs".into(), values_object(crumbs));
    }
}

/// `at` is where the breadcrumb ends up in the event.
fn normalize_crumb(
    mut crumb: Map<String, Value>,
    at: &At<'_>,
    meta: &mut Meta,
) -> Map<String, Value> {
    crumb.retain(|_, v| !v.is_null());
    match crumb.get("timestamp").map(parse_timestamp) {
        Some(Some(ts)) => crumb.insert("timestamp".into(), json!(ts)),
        _ => crumb.remove("timestamp"),
    };
    match crumb.get("level").map(parse_level) {
        Some(Some(level)) => crumb.insert("level".into(), level.into()),
        _ => crumb.remove("level"),
    };
    if let Some(Value::String(m)) = crumb.get_mut("message") {
        trim_string(m, MAX_MESSAGE);
    }
    match crumb.get_mut("data") {
        Some(data @ Value::Object(_)) => {
            trim_databag(data, BagSize::BREADCRUMB, &at.key("data"), meta);
        }
        Some(_) => {
            crumb.remove("data");
        }
        None => {}
    }
    crumb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bare_array_and_keeps_latest() {
        let crumbs: Vec<Value> = (0..120)
            .map(|i| json!({"timestamp": format!("2026-11-24T09:31:{:02}Z", i % 60), "message": i, "level": "warn"}))
            .collect();
        let mut data = json!({ "breadcrumbs": crumbs })
            .as_object()
            .unwrap()
            .clone();
        normalize(&mut data, &mut Meta::default());
        let values = data["breadcrumbs"]["values"].as_array().unwrap();
        assert_eq!(values.len(), 100);
        assert_eq!(values[0]["message"], 20);
        assert_eq!(values[0]["level"], "warning");
        assert!(values[0]["timestamp"].is_f64());
    }
}
