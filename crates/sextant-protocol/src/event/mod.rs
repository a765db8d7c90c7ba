//! Events (error, message, transaction, feedback): lenient parsing, normalization (§13)
//! and typed accessors over the normalized JSON that gets stored.

mod breadcrumbs;
mod clock;
mod exception;
mod frame_vars;
mod frames;
mod message;
mod meta;
mod nesting;
mod normalize;
mod prune;
mod tags;
mod trim;
mod user;
mod user_agent;

use serde::de::DeserializeSeed;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::envelope::ItemType;
use crate::jsonval::{path, path_str, str_field};

pub use nesting::MAX_DEPTH;
pub use trim::trim_string;

use nesting::{Bounded, Nesting};

/// Request-derived facts normalization needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizeContext {
    /// Server receive time, unix seconds.
    pub received_at: f64,
    /// Envelope `sent_at`, unix seconds (drives clock-drift correction).
    pub sent_at: Option<f64>,
    /// Client IP for `{{auto}}` and IP inference.
    pub client_ip: Option<String>,
    /// `User-Agent` of the ingest request.
    pub user_agent: Option<String>,
    /// Envelope header `event_id` (wins over the payload's).
    pub envelope_event_id: Option<String>,
}

impl NormalizeContext {
    pub fn new(received_at: f64) -> Self {
        Self {
            received_at,
            ..Self::default()
        }
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("payload is not a JSON object")]
    NotAnObject,
    #[error("invalid transaction: {0}")]
    InvalidTransaction(String),
}

/// A normalized event. Serializes to the normalized JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    data: Map<String, Value>,
    event_id: String,
    timestamp: f64,
    level: &'static str,
    platform: String,
    event_type: String,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

/// Lenient parse of an event/transaction/feedback JSON item plus normalization (§13).
pub fn normalize_event(payload: &[u8], ctx: &NormalizeContext) -> Result<Event, EventError> {
    normalize_with_type(payload, ctx, None)
}

/// Like [`normalize_event`], but the envelope item type decides `transaction`/`feedback`
/// even when the payload omits `type` (Rust transactions do).
pub fn normalize_event_item(
    payload: &[u8],
    item_type: &ItemType,
    ctx: &NormalizeContext,
) -> Result<Event, EventError> {
    let forced = match item_type {
        ItemType::Transaction => Some("transaction"),
        ItemType::Feedback => Some("feedback"),
        _ => None,
    };
    normalize_with_type(payload, ctx, forced)
}

/// The check an event payload passes before ingest acknowledges it: a well-formed JSON
/// object, parsed into nothing, so a payload that processing would discard is refused
/// with a 400 rather than accepted and then lost.
pub fn check_event_json(payload: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)?;
    check_event_object(payload)
}

/// The object half of [`check_event_json`], for callers that parse the payload anyway:
/// valid JSON whose first token opens an object is an object.
pub fn check_event_object(payload: &[u8]) -> Result<(), serde_json::Error> {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace());
    let kind = match first {
        Some(b'{') => return Ok(()),
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Err(serde::de::Error::custom(format!(
        "an event must be a JSON object, not {kind}"
    )))
}

/// [`normalize_event`] of only the parts an event's index fields derive from: every
/// accessor and [`crate::group`] / [`crate::issue_metadata`] give the same answers as on
/// the fully normalized event, but breadcrumbs, `extra`, frame locals and context lines
/// are left out of [`Event::data`] (see `prune`). For processing that stores the payload
/// as sent and normalizes it in full when it is read.
pub fn normalize_event_for_index(
    payload: &[u8],
    ctx: &NormalizeContext,
) -> Result<Event, EventError> {
    let nesting = Nesting::default();
    let value = parse_lenient(payload, prune::parse, &nesting)?;
    match value {
        Value::Object(map) => normalize::normalize(map, ctx, None, &nesting),
        _ => Err(EventError::NotAnObject),
    }
}

type Parse = fn(&[u8], &Nesting) -> serde_json::Result<Value>;

/// `parse`, retried once with non-finite numbers replaced on failure: Python clients may
/// emit NaN/Infinity even inside envelopes, and the common path pays nothing for it.
fn parse_lenient(payload: &[u8], parse: Parse, nesting: &Nesting) -> Result<Value, EventError> {
    parse(payload, nesting).or_else(|e| {
        parse(&crate::store_body::replace_non_finite(payload), nesting)
            .map_err(|_| EventError::InvalidJson(e.to_string()))
    })
}

/// The whole of `payload` as JSON, read by `seed`. serde_json's byte reader checks each
/// string it builds as UTF-8 on its own; checking the whole text at once and reading it
/// as text is cheaper (a word at a time while it is ASCII; 8% of a full normalization).
/// Text that is not UTF-8 as a whole takes the byte reader, so what is accepted or
/// refused stays the same (the index parse never checks the strings it skips).
fn parse_with<S, T>(payload: &[u8], seed: S) -> serde_json::Result<T>
where
    S: for<'de> DeserializeSeed<'de, Value = T>,
{
    fn read_all<'de, R: serde_json::de::Read<'de>, S: DeserializeSeed<'de>>(
        mut de: serde_json::Deserializer<R>,
        seed: S,
    ) -> serde_json::Result<S::Value> {
        let value = seed.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }
    match std::str::from_utf8(payload) {
        Ok(text) => read_all(serde_json::Deserializer::from_str(text), seed),
        Err(_) => read_all(serde_json::Deserializer::from_slice(payload), seed),
    }
}

/// The whole payload, bounded in depth (`nesting`).
fn parse_json(payload: &[u8], nesting: &Nesting) -> serde_json::Result<Value> {
    parse_with(payload, Bounded::new(1, nesting))
}

fn normalize_with_type(
    payload: &[u8],
    ctx: &NormalizeContext,
    forced_type: Option<&str>,
) -> Result<Event, EventError> {
    let nesting = Nesting::default();
    let value = parse_lenient(payload, parse_json, &nesting)?;
    match value {
        Value::Object(map) => normalize::normalize(map, ctx, forced_type, &nesting),
        _ => Err(EventError::NotAnObject),
    }
}

impl Event {
    /// 32 lowercase hex.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// Unix seconds, after clock-drift correction.
    pub fn timestamp(&self) -> f64 {
        self.timestamp
    }

    pub fn level(&self) -> &str {
        self.level
    }

    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// `error`, `default`, `transaction`, `feedback`, `csp`, …
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    pub fn release(&self) -> Option<&str> {
        str_field(&self.data, "release")
    }

    pub fn environment(&self) -> Option<&str> {
        str_field(&self.data, "environment")
    }

    pub fn transaction(&self) -> Option<&str> {
        str_field(&self.data, "transaction")
    }

    pub fn logger(&self) -> Option<&str> {
        str_field(&self.data, "logger")
    }

    /// Formatted message (`logentry.formatted`), `""` if none.
    pub fn message(&self) -> String {
        let entry = self.data.get("logentry");
        entry
            .and_then(|e| path_str(e, &["formatted"]).or_else(|| path_str(e, &["message"])))
            .unwrap_or_default()
            .to_owned()
    }

    /// `user.id` → `email` → `username` → `ip_address`, prefixed with the kind.
    pub fn user_key(&self) -> Option<String> {
        let user = self.data.get("user")?;
        [
            ("id", "id"),
            ("email", "email"),
            ("username", "username"),
            ("ip_address", "ip"),
        ]
        .iter()
        .find_map(|(field, kind)| path_str(user, &[field]).map(|v| format!("{kind}:{v}")))
    }

    /// `contexts.trace.trace_id`.
    pub fn trace_id(&self) -> Option<&str> {
        self.data
            .get("contexts")
            .and_then(|c| path_str(c, &["trace", "trace_id"]))
    }

    /// Any exception mechanism says `handled: false`.
    pub fn unhandled(&self) -> bool {
        self.exceptions()
            .iter()
            .any(|e| path(e, &["mechanism", "handled"]).and_then(Value::as_bool) == Some(false))
    }

    /// Normalized exception values, oldest first.
    pub fn exceptions(&self) -> &[Value] {
        self.data
            .get("exception")
            .and_then(|e| path(e, &["values"]))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// A top-level normalized field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// The whole normalized object.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    pub fn into_data(self) -> Map<String, Value> {
        self.data
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.data).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
