//! `user` and `request` (§8.7, §8.8, §13.1): `{{auto}}` IPs, IP inference, header lists,
//! and user-agent derived contexts.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::NormalizeContext;
use super::meta::{At, Meta};
use super::trim::{BagSize, trim_databag, trim_string};
use super::user_agent;
use crate::jsonval::{path_str, scalar_to_string};

const AUTO: &str = "{{auto}}";
const MAX_EMAIL: usize = 75;

pub(super) fn normalize(
    data: &mut Map<String, Value>,
    ctx: &NormalizeContext,
    platform: &str,
    meta: &mut Meta,
) {
    let remote_addr = normalize_request(data, ctx, meta);
    let infer_ip = match data
        .get("sdk")
        .and_then(|s| path_str(s, &["settings", "infer_ip"]))
    {
        Some("never") => false,
        Some("auto") => true,
        _ => matches!(platform, "javascript" | "cocoa" | "objc"),
    };
    let mut user = match data.remove("user") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    user.retain(|_, v| !v.is_null());
    for key in ["id", "email", "username", "name", "ip_address", "segment"] {
        let Some(raw) = user.get(key) else { continue };
        match scalar_to_string(raw) {
            Some(s) if !s.is_empty() => user.insert(key.into(), s.into()),
            _ => user.remove(key),
        };
    }
    if let Some(Value::String(email)) = user.get_mut("email") {
        trim_string(email, MAX_EMAIL);
    }
    let ip = match user.get("ip_address").and_then(Value::as_str) {
        Some(AUTO) => ctx.client_ip.clone(),
        Some(ip) => ip.parse::<IpAddr>().ok().map(|_| ip.to_owned()),
        None if remote_addr.is_some() => remote_addr,
        None if infer_ip => ctx.client_ip.clone(),
        None => None,
    };
    match ip {
        Some(ip) => user.insert("ip_address".into(), ip.into()),
        None => user.remove("ip_address"),
    };
    if !user.is_empty() {
        data.insert("user".into(), Value::Object(user));
    }

    let ua = data
        .get("request")
        .and_then(header_user_agent)
        .or(ctx.user_agent.clone());
    if let Some(ua) = ua {
        user_agent::infer_contexts(data, &ua);
    }
}

/// Normalizes `request`; returns a valid `env.REMOTE_ADDR`.
fn normalize_request(
    data: &mut Map<String, Value>,
    ctx: &NormalizeContext,
    meta: &mut Meta,
) -> Option<String> {
    let Some(Value::Object(request)) = data.get_mut("request") else {
        data.remove("request");
        return None;
    };
    request.retain(|_, v| !v.is_null());
    if let Some(Value::String(method)) = request.get_mut("method") {
        *method = method.to_ascii_uppercase();
    }
    match request.remove("headers").and_then(normalize_headers) {
        Some(headers) => request.insert("headers".into(), headers),
        None => None,
    };
    let at = At::ROOT.key("request");
    for key in ["data", "cookies", "env"] {
        if let Some(bag) = request.get_mut(key) {
            trim_databag(bag, BagSize::REQUEST, &at.key(key), meta);
        }
    }
    let mut remote_addr = None;
    if let Some(Value::Object(env)) = request.get_mut("env") {
        if env.get("REMOTE_ADDR").and_then(Value::as_str) == Some(AUTO) {
            match &ctx.client_ip {
                Some(ip) => env.insert("REMOTE_ADDR".into(), ip.clone().into()),
                None => env.remove("REMOTE_ADDR"),
            };
        }
        remote_addr = env
            .get("REMOTE_ADDR")
            .and_then(Value::as_str)
            .filter(|a| a.parse::<IpAddr>().is_ok())
            .map(str::to_owned);
    }
    if request.is_empty() {
        data.remove("request");
    }
    remote_addr
}

/// `User-Agent` → `User-Agent`, `x-forwarded-for` → `X-Forwarded-For`.
fn header_name(name: &str) -> String {
    let name = name.trim();
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// Headers as a list of `[name, value]` pairs from an object, pair list or raw string.
fn normalize_headers(value: Value) -> Option<Value> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Array(vs) => pairs.extend(
                        vs.iter()
                            .filter_map(scalar_to_string)
                            .map(|s| (k.clone(), s)),
                    ),
                    other => pairs.extend(scalar_to_string(&other).map(|s| (k, s))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Value::Array(pair) = item
                    && let [k, v] = pair.as_slice()
                    && let (Some(k), Some(v)) = (scalar_to_string(k), scalar_to_string(v))
                {
                    pairs.push((k, v));
                }
            }
        }
        Value::String(s) => {
            for line in s.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    pairs.push((k.to_owned(), v.trim().to_owned()));
                }
            }
        }
        _ => {}
    }
    let list: Vec<Value> = pairs
        .into_iter()
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| json!([header_name(&k), v]))
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

fn header_user_agent(request: &Value) -> Option<String> {
    request.get("headers")?.as_array()?.iter().find_map(|pair| {
        let name = pair.get(0)?.as_str()?;
        name.eq_ignore_ascii_case("user-agent")
            .then(|| pair.get(1)?.as_str().map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> NormalizeContext {
        NormalizeContext {
            client_ip: Some("203.0.113.7".into()),
            ..NormalizeContext::new(0.0)
        }
    }

    fn run(input: Value, platform: &str) -> Map<String, Value> {
        let mut data = input.as_object().unwrap().clone();
        normalize(&mut data, &ctx(), platform, &mut Meta::default());
        data
    }

    #[test]
    fn auto_ip_and_inference() {
        let d = run(
            json!({"user": {"id": 42, "ip_address": "{{auto}}"}}),
            "python",
        );
        assert_eq!(d["user"], json!({"id": "42", "ip_address": "203.0.113.7"}));
        assert_eq!(
            run(json!({}), "javascript")["user"]["ip_address"],
            "203.0.113.7"
        );
        assert!(run(json!({}), "python").get("user").is_none());
        let never = json!({"sdk": {"settings": {"infer_ip": "never"}}});
        assert!(run(never, "javascript").get("user").is_none());
        let auto = json!({"sdk": {"settings": {"infer_ip": "auto"}}});
        assert_eq!(run(auto, "python")["user"]["ip_address"], "203.0.113.7");
        let env = json!({"request": {"env": {"REMOTE_ADDR": "{{auto}}"}}});
        let d = run(env, "python");
        assert_eq!(d["request"]["env"]["REMOTE_ADDR"], "203.0.113.7");
        assert_eq!(d["user"]["ip_address"], "203.0.113.7");
    }

    #[test]
    fn header_names_are_capitalized_per_word() {
        for (raw, want) in [
            ("user-agent", "User-Agent"),
            (" x-forwarded-for ", "X-Forwarded-For"),
            ("ACCEPT", "ACCEPT"),
            ("x--y-", "X--Y-"),
            ("ärger-ß", "Ärger-SS"),
            ("", ""),
        ] {
            assert_eq!(header_name(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn headers_become_pairs() {
        for headers in [
            json!({"user-agent": "UA", "Accept": ["a", "b"]}),
            json!([
                ["user-agent", "UA"],
                ["Accept", "a"],
                ["Accept", "b"],
                ["bad"]
            ]),
            json!("user-agent: UA\r\nAccept: a\nAccept: b"),
        ] {
            let d = run(
                json!({"request": {"method": "get", "headers": headers}}),
                "python",
            );
            assert_eq!(d["request"]["method"], "GET");
            let mut got: Vec<Value> = d["request"]["headers"].as_array().unwrap().clone();
            // Object input has no defined order.
            got.sort_by_key(|p| p.to_string());
            assert_eq!(
                got,
                vec![
                    json!(["Accept", "a"]),
                    json!(["Accept", "b"]),
                    json!(["User-Agent", "UA"])
                ]
            );
        }
    }
}
