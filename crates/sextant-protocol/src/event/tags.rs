//! Tags (§8.10): normalization of the event's own tags, and the derived tag set that
//! search and issue stats use (level, release, user, browser, …).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::Event;
use super::trim::trim_string;
use crate::jsonval::{path, path_str, scalar_to_string, str_field};

const MAX_TAG_LEN: usize = 200;
/// Relay removes these client tags: they are derived from event fields instead.
const RESERVED: [&str; 6] = [
    "release",
    "dist",
    "user",
    "filename",
    "function",
    "device.class",
];

pub(super) fn normalize(data: &mut Map<String, Value>) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    match data.remove("tags") {
        Some(Value::Object(map)) => {
            for (k, v) in map {
                pairs.extend(scalar_to_string(&v).map(|v| (k, v)));
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                let pair = match &item {
                    Value::Array(p) if p.len() == 2 => {
                        scalar_to_string(&p[0]).zip(scalar_to_string(&p[1]))
                    }
                    _ => None,
                };
                pairs.extend(pair);
            }
        }
        _ => {}
    }
    for field in ["server_name", "site"] {
        if let Some(v) = data.get(field).and_then(scalar_to_string) {
            pairs.push((field.to_owned(), v));
        }
    }
    // `site` exists only as a tag in Sentry; `server_name` stays as a field too.
    data.remove("site");

    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (mut key, mut value) in pairs {
        key = key.trim().to_owned();
        value = value.trim().to_owned();
        if key.is_empty() || value.is_empty() || RESERVED.contains(&key.as_str()) {
            continue;
        }
        if key == "environment" {
            if str_field(data, "environment").is_none() {
                data.insert("environment".into(), value.into());
            }
            continue;
        }
        trim_string(&mut key, MAX_TAG_LEN);
        trim_string(&mut value, MAX_TAG_LEN);
        if seen.insert(key.clone()) {
            out.push(Value::Array(vec![Value::String(key), Value::String(value)]));
        }
    }
    if !out.is_empty() {
        data.insert("tags".into(), Value::Array(out));
    }
}

/// `"{name} {version}"` of a context, e.g. `CPython 3.11.7`.
fn name_version(ctx: &Value) -> Option<(String, String)> {
    let name = path_str(ctx, &["name"])?.trim();
    if name.is_empty() {
        return None;
    }
    let full = match path(ctx, &["version"]).and_then(scalar_to_string) {
        Some(v) if !v.trim().is_empty() => format!("{name} {}", v.trim()),
        _ => name.to_owned(),
    };
    Some((name.to_owned(), full))
}

impl Event {
    /// The event's own tags plus derived ones; an explicit tag wins over a derived one.
    pub fn tags(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .data
            .get("tags")
            .and_then(Value::as_array)
            .map(|pairs| {
                pairs
                    .iter()
                    .filter_map(|p| {
                        let k = p.get(0)?.as_str()?;
                        let v = p.get(1)?.as_str()?;
                        Some((k.to_owned(), v.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        // About fifteen derived tags: a scan of the keys so far for each costs less than
        // hashing every key into a set.
        let mut add = |k: &str, v: Option<String>| {
            if let Some(mut v) = v.filter(|v| !v.is_empty())
                && !out.iter().any(|(key, _)| key == k)
            {
                trim_string(&mut v, MAX_TAG_LEN);
                out.push((k.to_owned(), v));
            }
        };
        let field = |k: &str| str_field(&self.data, k).map(str::to_owned);

        add("level", Some(self.level.to_owned()));
        add("environment", field("environment"));
        add("release", field("release"));
        add("dist", field("dist"));
        add("transaction", field("transaction"));
        add("logger", field("logger"));
        add("server_name", field("server_name"));
        let user = self.data.get("user");
        add("user", self.user_key());
        add(
            "user.id",
            user.and_then(|u| path_str(u, &["id"])).map(str::to_owned),
        );
        add(
            "user.email",
            user.and_then(|u| path_str(u, &["email"]))
                .map(str::to_owned),
        );
        let request_url = self.data.get("request").and_then(|r| path_str(r, &["url"]));
        add("url", request_url.map(str::to_owned));

        if let Some(contexts) = self.data.get("contexts") {
            for kind in ["browser", "os", "runtime"] {
                if let Some((name, full)) = contexts.get(kind).and_then(name_version) {
                    add(kind, Some(full));
                    add(&format!("{kind}.name"), Some(name));
                }
            }
            if let Some(device) = contexts.get("device") {
                add("device", path_str(device, &["model"]).map(str::to_owned));
                add(
                    "device.family",
                    path_str(device, &["family"]).map(str::to_owned),
                );
            }
        }

        let mechanisms: Vec<&Value> = self
            .exceptions()
            .iter()
            .filter_map(|e| e.get("mechanism"))
            .collect();
        let handled: Vec<bool> = mechanisms
            .iter()
            .filter_map(|m| m.get("handled").and_then(Value::as_bool))
            .collect();
        if !handled.is_empty() {
            let all = handled.iter().all(|h| *h);
            add("handled", Some(if all { "yes" } else { "no" }.to_owned()));
        }
        let mechanism = mechanisms.last().and_then(|m| path_str(m, &["type"]));
        add("mechanism", mechanism.map(str::to_owned));
        out
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
    fn map_and_pairs_forms() {
        let d = run(
            json!({"tags": {"a": 1, "b": true, "c": null, "d": "", "release": "x", "user": "u"}}),
        );
        assert_eq!(d["tags"], json!([["a", "1"], ["b", "true"]]));
        let d = run(
            json!({"tags": [["a", "x"], ["a", "y"], ["b"], ["c", {"o": 1}]], "server_name": "h", "site": "s"}),
        );
        assert_eq!(
            d["tags"],
            json!([["a", "x"], ["server_name", "h"], ["site", "s"]])
        );
        assert_eq!(d["server_name"], "h");
        assert!(d.get("site").is_none());
    }

    #[test]
    fn environment_tag_moves_to_field() {
        let d = run(json!({"tags": {"environment": "prod"}}));
        assert_eq!(d["environment"], "prod");
        assert!(d.get("tags").is_none());
        let d = run(json!({"tags": {"environment": "prod"}, "environment": "staging"}));
        assert_eq!(d["environment"], "staging");
    }

    #[test]
    fn long_tags_are_trimmed() {
        let d = run(json!({"tags": {"k": "v".repeat(300)}}));
        assert_eq!(d["tags"][0][1].as_str().unwrap().len(), 200);
    }
}
