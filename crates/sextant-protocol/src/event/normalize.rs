//! The normalization pipeline (§13) over the event's JSON object, plus the small
//! top-level field rules (ids, platform, type, level, release/environment validation).

use serde_json::{Map, Value, json};

use super::meta::{At, Meta};
use super::nesting::{self, Nesting};
use super::trim::{BagSize, trim_databag, trim_string};
use super::{Event, EventError, NormalizeContext};
use super::{breadcrumbs, clock, exception, frame_vars, message, tags, user};
use crate::event_id::{new_event_id, normalize_event_id};
use crate::jsonval::scalar_to_string;

const VALID_PLATFORMS: [&str; 19] = [
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "haskell",
    "go",
    "groovy",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
];

/// Types an SDK (or the security endpoint) sets explicitly; everything else is inferred.
const EXPLICIT_TYPES: [&str; 7] = [
    "transaction",
    "feedback",
    "csp",
    "hpkp",
    "expectct",
    "expectstaple",
    "nel",
];

/// Old `sentry.interfaces.*` names still sent by raven-era clients.
const LEGACY_ALIASES: [(&str, &str); 12] = [
    ("sentry.interfaces.Message", "logentry"),
    ("sentry.interfaces.Exception", "exception"),
    ("sentry.interfaces.Stacktrace", "stacktrace"),
    ("sentry.interfaces.Http", "request"),
    ("sentry.interfaces.User", "user"),
    ("sentry.interfaces.Breadcrumbs", "breadcrumbs"),
    ("sentry.interfaces.Threads", "threads"),
    ("sentry.interfaces.Template", "template"),
    ("sentry.interfaces.DebugMeta", "debug_meta"),
    ("sentry.interfaces.Csp", "csp"),
    ("sentry.interfaces.Hpkp", "hpkp"),
    ("sentry.interfaces.ExpectCT", "expectct"),
];

/// A processing error as stored in the event's `errors` list.
pub(super) fn processing_error(kind: &str, name: &str, value: Option<Value>) -> Value {
    let mut e = json!({"type": kind, "name": name});
    if let Some(v) = value {
        e["value"] = v;
    }
    e
}

/// `forced_type` is the envelope item's type (`transaction`/`feedback`), which wins over
/// the payload, as in Relay. `nesting` is what parsing saw of the payload's depth.
pub(super) fn normalize(
    mut data: Map<String, Value>,
    ctx: &NormalizeContext,
    forced_type: Option<&str>,
    nesting: &Nesting,
) -> Result<Event, EventError> {
    let mut meta = Meta::default();
    let mut errors = match data.remove("errors") {
        Some(Value::Array(existing)) => existing,
        _ => Vec::new(),
    };
    for (alias, canonical) in LEGACY_ALIASES {
        if let Some(v) = data.remove(alias)
            && data.get(canonical).is_none_or(Value::is_null)
        {
            data.insert(canonical.into(), v);
        }
    }
    data.retain(|_, v| !v.is_null());

    let event_id = resolve_event_id(&data, ctx, &mut errors);
    data.insert("event_id".into(), event_id.clone().into());
    let platform = match data.get("platform").and_then(Value::as_str) {
        Some(p) if VALID_PLATFORMS.contains(&p) => p.to_owned(),
        _ => "other".to_owned(),
    };
    data.insert("platform".into(), platform.clone().into());

    message::normalize(&mut data);
    exception::normalize(&mut data);
    if let Some(ty) = forced_type {
        data.insert("type".into(), ty.into());
    }
    let event_type = infer_type(&data);
    data.insert("type".into(), event_type.clone().into());
    let level = normalize_level(&mut data, &event_type, &mut errors);

    tags::normalize(&mut data);
    normalize_scalars(&mut data, &mut errors);
    breadcrumbs::normalize(&mut data, &mut meta);
    let timestamp = clock::normalize(&mut data, ctx, &event_type, &mut errors)?;
    user::normalize(&mut data, ctx, &platform, &mut meta);
    normalize_contexts(&mut data, nesting, &mut meta);
    normalize_fingerprint(&mut data, &mut errors);
    match data.get_mut("extra") {
        Some(extra @ Value::Object(_)) => {
            trim_databag(extra, BagSize::EXTRA, &At::ROOT.key("extra"), &mut meta);
        }
        Some(_) => {
            data.remove("extra");
        }
        None => {}
    }

    data.insert("received".into(), json!(ctx.received_at));
    if !errors.is_empty() {
        data.insert("errors".into(), Value::Array(errors));
    }
    // Last, over the event's final shape, so that notes name the paths readers see.
    frame_vars::trim(&mut data, &mut meta);
    if nesting.may_exceed_max() {
        nesting::cap(&mut data, &mut meta);
    }
    meta.apply(&mut data);
    Ok(Event {
        data,
        event_id,
        timestamp,
        level,
        platform,
        event_type,
    })
}

fn resolve_event_id(
    data: &Map<String, Value>,
    ctx: &NormalizeContext,
    errors: &mut Vec<Value>,
) -> String {
    if let Some(id) = ctx
        .envelope_event_id
        .as_deref()
        .and_then(normalize_event_id)
    {
        return id;
    }
    match data.get("event_id") {
        Some(Value::String(s)) => normalize_event_id(s).unwrap_or_else(|| {
            errors.push(processing_error(
                "invalid_data",
                "event_id",
                Some(s.clone().into()),
            ));
            new_event_id()
        }),
        Some(other) => {
            errors.push(processing_error(
                "invalid_data",
                "event_id",
                Some(other.clone()),
            ));
            new_event_id()
        }
        None => new_event_id(),
    }
}

fn infer_type(data: &Map<String, Value>) -> String {
    if let Some(t) = data.get("type").and_then(Value::as_str) {
        let t = t.to_ascii_lowercase();
        if EXPLICIT_TYPES.contains(&t.as_str()) {
            return t;
        }
    }
    if data.contains_key("exception") {
        return "error".into();
    }
    // Rust sends transactions without `type`; `start_timestamp` only exists on them.
    if data.contains_key("start_timestamp") {
        return "transaction".into();
    }
    for security in ["csp", "hpkp", "expectct", "expectstaple"] {
        if data.contains_key(security) {
            return security.into();
        }
    }
    "default".into()
}

/// Canonical level name; aliases and Python logging numbers accepted.
pub(super) fn parse_level(value: &Value) -> Option<&'static str> {
    let numeric = |n: u64| match n {
        10 => Some("debug"),
        20 => Some("info"),
        30 => Some("warning"),
        40 => Some("error"),
        50 => Some("fatal"),
        _ => None,
    };
    match value {
        Value::Number(n) => n.as_u64().and_then(numeric),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "fatal" | "critical" => Some("fatal"),
            "error" => Some("error"),
            "warning" | "warn" => Some("warning"),
            "info" | "log" => Some("info"),
            "debug" | "trace" => Some("debug"),
            other => other.parse().ok().and_then(numeric),
        },
        _ => None,
    }
}

fn normalize_level(
    data: &mut Map<String, Value>,
    event_type: &str,
    errors: &mut Vec<Value>,
) -> &'static str {
    let parsed = data.get("level").map(|v| (parse_level(v), v));
    let level = match parsed {
        Some((Some(level), _)) => level,
        other => {
            if let Some((None, raw)) = other {
                errors.push(processing_error("invalid_data", "level", Some(raw.clone())));
            }
            match event_type {
                "transaction" | "feedback" => "info",
                _ => "error",
            }
        }
    };
    data.insert("level".into(), level.into());
    level
}

/// Top-level string fields: coerce scalars, drop empties, trim, validate.
fn normalize_scalars(data: &mut Map<String, Value>, errors: &mut Vec<Value>) {
    for (key, max) in [
        ("logger", 64),
        ("transaction", 200),
        ("culprit", 200),
        ("server_name", 1024),
        ("release", usize::MAX),
        ("dist", usize::MAX),
        ("environment", usize::MAX),
    ] {
        let Some(raw) = data.remove(key) else {
            continue;
        };
        let Some(mut s) = scalar_to_string(&raw) else {
            errors.push(processing_error("invalid_data", key, Some(raw)));
            continue;
        };
        let trimmed = s.trim();
        if trimmed.len() != s.len() {
            s = trimmed.to_owned();
        }
        if s.is_empty() {
            continue;
        }
        trim_string(&mut s, max);
        let problem = match key {
            "release" => release_problem(&s),
            "environment" => environment_problem(&s),
            "dist" if s.chars().count() > 64 => Some("too long"),
            _ => None,
        };
        if let Some(reason) = problem {
            let mut e = processing_error("invalid_attribute", key, Some(s.into()));
            e["reason"] = reason.into();
            errors.push(e);
            continue;
        }
        data.insert(key.into(), s.into());
    }
}

fn has_forbidden_char(s: &str) -> bool {
    s.chars().any(|c| matches!(c, '/' | '\\') || c.is_control())
}

/// Why a release is invalid (§8.1), if it is.
pub fn release_problem(release: &str) -> Option<&'static str> {
    if release.chars().count() > 200 {
        Some("too long")
    } else if release == "." || release == ".." || release.eq_ignore_ascii_case("latest") {
        Some("restricted name")
    } else if has_forbidden_char(release) {
        Some("invalid characters")
    } else {
        None
    }
}

/// Why an environment is invalid (§8.1), if it is.
pub fn environment_problem(environment: &str) -> Option<&'static str> {
    if environment.chars().count() > 64 {
        Some("too long")
    } else if environment == "." || environment == ".." || environment.eq_ignore_ascii_case("none")
    {
        Some("restricted name")
    } else if has_forbidden_char(environment) {
        Some("invalid characters")
    } else {
        None
    }
}

/// The level of a context object (`contexts` is level 2).
const CONTEXT_LEVEL: usize = 3;

fn normalize_contexts(data: &mut Map<String, Value>, nesting: &Nesting, meta: &mut Meta) {
    let Some(Value::Object(contexts)) = data.get_mut("contexts") else {
        data.remove("contexts");
        return;
    };
    // Contexts have no byte budget, so walking them is only needed when something in
    // the payload nests deep enough for a context to hold more levels than it may.
    let deep = nesting.deepest() >= CONTEXT_LEVEL + BagSize::CONTEXT.depth();
    let at = At::ROOT.key("contexts");
    contexts.retain(|key, value| {
        let Value::Object(ctx) = value else {
            return false;
        };
        ctx.retain(|_, v| !v.is_null());
        if !ctx.get("type").is_some_and(Value::is_string) {
            ctx.insert("type".into(), key.clone().into());
        }
        if deep {
            trim_databag(value, BagSize::CONTEXT, &at.key(key), meta);
        }
        true
    });
    if contexts.is_empty() {
        data.remove("contexts");
    }
}

fn normalize_fingerprint(data: &mut Map<String, Value>, errors: &mut Vec<Value>) {
    let Some(raw) = data.remove("fingerprint") else {
        return;
    };
    let Value::Array(items) = raw else {
        errors.push(processing_error("invalid_data", "fingerprint", Some(raw)));
        return;
    };
    let parts: Vec<Value> = items
        .iter()
        .filter_map(scalar_to_string)
        .map(Value::String)
        .collect();
    if !parts.is_empty() {
        data.insert("fingerprint".into(), Value::Array(parts));
    }
}
