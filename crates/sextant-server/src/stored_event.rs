//! The stored form of an event's payload: what processing writes and every reader
//! decodes.
//!
//! Processing keeps the event as the SDK sent it, in the zstd frame ingest already wrote
//! to the inbox, behind a zstd *skippable* frame that holds the request facts
//! normalization needs. Readers normalize again (`decode`), which gives the same JSON
//! processing derived its columns from: normalization is a pure function of the payload
//! and these facts. Compressing the normalized JSON a second time on the processing path
//! cost more than a tenth of the CPU per event; a read normalizes one event in a tenth of
//! a millisecond.
//!
//! Payloads without the skippable frame hold normalized JSON (what earlier versions
//! wrote) and are read as they are.
//!
//! A payload that cannot be decoded at all is shown through [`unreadable`], never as a
//! failed request: the event's stored columns remain valid.

use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sextant_protocol::{
    Event, EventError, NormalizeContext, normalize_event, normalize_event_for_index,
};
use sextant_storage::EventRecord;

/// Decompressed payloads larger than this are refused rather than expanded without
/// bound; events are limited to a few MiB at ingest, so this is generous.
const MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;
/// A zstd skippable frame (magic `0x184D2A5?`); standard decoders pass over it.
const CONTEXT_MAGIC: [u8; 4] = 0x184D_2A53_u32.to_le_bytes();

/// The normalization facts, as stored. Field names are part of the stored format.
#[derive(Serialize, Deserialize)]
struct Facts {
    received_at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
}

/// The stored payload of an event whose raw JSON is `compressed` (one or more zstd
/// frames) and was normalized with `ctx`.
pub fn encode(ctx: &NormalizeContext, compressed: &[u8]) -> Vec<u8> {
    let facts = serde_json::to_vec(&Facts {
        received_at: ctx.received_at,
        sent_at: ctx.sent_at,
        client_ip: ctx.client_ip.clone(),
        user_agent: ctx.user_agent.clone(),
        event_id: ctx.envelope_event_id.clone(),
    })
    .expect("plain fields serialize");
    let len = u32::try_from(facts.len()).expect("facts are a few hundred bytes");
    let mut out = Vec::with_capacity(8 + facts.len() + compressed.len());
    out.extend_from_slice(&CONTEXT_MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&facts);
    out.extend_from_slice(compressed);
    out
}

/// The normalized event JSON of a stored payload.
pub fn decode(payload: &[u8]) -> Result<Value, String> {
    decode_with(payload, normalize_event)
}

/// The normalized event without what `normalize_event_for_index` leaves out
/// (breadcrumbs, `extra`, frame locals and context lines, …), at about half the cost of
/// [`decode`]: for event lists, which show only the message, location and user.
pub fn decode_summary(payload: &[u8]) -> Result<Value, String> {
    decode_with(payload, normalize_event_for_index)
}

type Normalize = fn(&[u8], &NormalizeContext) -> Result<Event, EventError>;

fn decode_with(payload: &[u8], normalize: Normalize) -> Result<Value, String> {
    match split(payload)? {
        Some((ctx, frames)) => {
            let event = normalize(&decompress(frames)?, &ctx)
                .map_err(|e| format!("stored event no longer normalizes: {e}"))?;
            Ok(Value::Object(event.into_data()))
        }
        None => serde_json::from_slice(&decompress(payload)?)
            .map_err(|e| format!("stored event is not JSON: {e}")),
    }
}

/// `errors[].type` of the stand-in [`unreadable`] gives.
pub const UNREADABLE: &str = "unreadable_event";

/// What readers show for a stored event whose payload cannot be decoded (damaged, or in a
/// form this version does not read): the event id, a notice in place of the message and
/// the reason in `errors`. The record's columns (title, tags, release, …) are still
/// valid, so the event stays listed and every page that opens it answers.
pub fn unreadable(event_id: &str, reason: &str) -> Value {
    tracing::warn!(event_id, reason, "stored event payload cannot be read");
    json!({
        "event_id": event_id,
        "message": format!("[The stored data of this event cannot be read: {reason}]"),
        "errors": [{"type": UNREADABLE, "name": "payload", "value": reason}],
    })
}

/// The normalized event as JSON text.
pub fn decode_json(payload: &[u8]) -> Result<Vec<u8>, String> {
    match split(payload)? {
        Some(_) => Ok(serde_json::to_vec(&decode(payload)?).expect("a JSON value serializes")),
        None => decompress(payload),
    }
}

// What readers call: a record's event, or its [`unreadable`] stand-in, so one damaged
// event never fails a page or a response.

/// [`decode`] of a record, or its stand-in.
pub fn read(record: &EventRecord) -> Value {
    decode(&record.payload).unwrap_or_else(|e| unreadable(&record.event_id, &e))
}

/// [`decode_summary`] of a record, or its stand-in.
pub fn read_summary(record: &EventRecord) -> Value {
    decode_summary(&record.payload).unwrap_or_else(|e| unreadable(&record.event_id, &e))
}

/// [`decode_json`] of a record, or its stand-in as JSON text.
pub fn read_json(record: &EventRecord) -> Vec<u8> {
    decode_json(&record.payload).unwrap_or_else(|e| {
        serde_json::to_vec(&unreadable(&record.event_id, &e)).expect("a JSON value serializes")
    })
}

/// The normalization facts and the frames after them, for payloads that have them.
fn split(payload: &[u8]) -> Result<Option<(NormalizeContext, &[u8])>, String> {
    if !payload.starts_with(&CONTEXT_MAGIC) {
        return Ok(None);
    }
    let truncated = || "stored event payload is truncated".to_string();
    let len = payload.get(4..8).ok_or_else(truncated)?;
    let len = u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
    let facts = payload.get(8..8 + len).ok_or_else(truncated)?;
    let facts: Facts =
        serde_json::from_slice(facts).map_err(|e| format!("stored event facts: {e}"))?;
    let ctx = NormalizeContext {
        received_at: facts.received_at,
        sent_at: facts.sent_at,
        client_ip: facts.client_ip,
        user_agent: facts.user_agent,
        envelope_event_id: facts.event_id,
    };
    Ok(Some((ctx, &payload[8 + len..])))
}

/// Inflates zstd frames, refusing output beyond [`MAX_PAYLOAD_BYTES`].
fn decompress(frames: &[u8]) -> Result<Vec<u8>, String> {
    let decoder = zstd::Decoder::new(frames).map_err(|e| format!("zstd: {e}"))?;
    let mut out = Vec::new();
    decoder
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("zstd: {e}"))?;
    if out.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err("stored event payload exceeds the decompression limit".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_event() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "event_id": "0123456789abcdef0123456789abcdef",
            "timestamp": 1_700_000_000.5,
            "level": "warning",
            "message": "disk almost full",
            "user": {"ip_address": "{{auto}}"},
            "request": {"headers": {"User-Agent": "curl/8.0"}},
            "extra": {"padding": "x".repeat(2000)},
        }))
        .unwrap()
    }

    fn ctx() -> NormalizeContext {
        NormalizeContext {
            received_at: 1_700_000_003.25,
            sent_at: Some(1_700_000_001.0),
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some("sentry.python/2.0".into()),
            envelope_event_id: Some("0123456789abcdef0123456789abcdef".into()),
        }
    }

    #[test]
    fn decoding_normalizes_with_the_stored_facts() {
        let raw = raw_event();
        let payload = encode(&ctx(), &zstd::encode_all(&raw[..], 1).unwrap());
        let expected = Value::Object(normalize_event(&raw, &ctx()).unwrap().into_data());
        assert_eq!(decode(&payload).unwrap(), expected);
        assert_eq!(
            serde_json::from_slice::<Value>(&decode_json(&payload).unwrap()).unwrap(),
            expected
        );
        let summary = decode_summary(&payload).unwrap();
        for key in [
            "message",
            "logentry",
            "user",
            "exception",
            "level",
            "timestamp",
        ] {
            assert_eq!(summary.get(key), expected.get(key), "{key}");
        }
        assert!(expected.get("extra").is_some() && summary.get("extra").is_none());
        // The facts matter: `{{auto}}` became the stored client address.
        assert_eq!(expected["user"]["ip_address"], "203.0.113.9");
        // Any zstd decoder still reads the raw event past the facts.
        assert_eq!(zstd::decode_all(&payload[..]).unwrap(), raw);
    }

    #[test]
    fn payloads_of_normalized_json_read_as_they_are() {
        let normalized = br#"{"event_id":"0123456789abcdef0123456789abcdef","level":"error"}"#;
        let payload = zstd::encode_all(&normalized[..], 3).unwrap();
        assert_eq!(
            decode(&payload).unwrap(),
            serde_json::from_slice::<Value>(normalized).unwrap()
        );
        assert_eq!(decode_json(&payload).unwrap(), normalized);
    }

    #[test]
    fn deep_payloads_decode_within_the_read_limit() {
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let raw = format!(r#"{{"message": "deep", "extra": {{"k": {deep}}}, "other": {deep}}}"#);
        let payload = encode(&ctx(), &zstd::encode_all(raw.as_bytes(), 1).unwrap());
        let text = decode_json(&payload).unwrap();
        let event: Value = serde_json::from_slice(&text).expect("reads with default limits");
        assert_eq!(event["logentry"]["formatted"], "deep");
        assert!(event["_meta"]["extra"]["k"].is_object());
        assert!(event["_meta"]["other"].is_object());
        assert!(decode_summary(&payload).is_ok());
    }

    #[test]
    fn unreadable_payloads_have_a_stand_in() {
        let err = decode(b"not zstd").unwrap_err();
        let stand_in = unreadable("0123456789abcdef0123456789abcdef", &err);
        assert_eq!(stand_in["errors"][0]["type"], UNREADABLE);
        assert!(stand_in["message"].as_str().unwrap().contains(&err));
    }

    #[test]
    fn damaged_payloads_are_errors() {
        assert!(decode(b"not zstd").is_err());
        let payload = encode(&ctx(), &zstd::encode_all(&raw_event()[..], 1).unwrap());
        assert!(decode(&payload[..6]).is_err(), "cut inside the length");
        assert!(decode(&payload[..20]).is_err(), "cut inside the facts");
        assert!(decode(&payload[..payload.len() - 10]).is_err(), "cut frame");
    }
}
