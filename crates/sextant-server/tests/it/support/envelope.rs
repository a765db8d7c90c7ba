//! Builders for hand-written envelopes and events, and the compressions SDKs use.

use std::io::Write;

use serde_json::{Value, json};

/// A new event id: 32 lowercase hex.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format now")
}

/// Serializes an envelope: header line, then each item header (with `length`) and payload.
pub fn envelope(header: &Value, items: &[(Value, Vec<u8>)]) -> Vec<u8> {
    let mut out = serde_json::to_vec(header).expect("header");
    for (item_header, payload) in items {
        let mut item_header = item_header.clone();
        item_header["length"] = json!(payload.len());
        out.push(b'\n');
        out.extend(serde_json::to_vec(&item_header).expect("item header"));
        out.push(b'\n');
        out.extend(payload);
    }
    out.push(b'\n');
    out
}

/// An envelope with one `event` item. Fills `event_id` (when missing) and `timestamp`;
/// returns the event id and the body.
pub fn event_envelope(mut event: Value) -> (String, Vec<u8>) {
    let id = match event.get("event_id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => {
            let id = new_id();
            event["event_id"] = json!(id);
            id
        }
    };
    if event.get("timestamp").is_none() {
        event["timestamp"] = json!(now_rfc3339());
    }
    let body = envelope(
        &json!({"event_id": id, "sent_at": now_rfc3339()}),
        &[(
            json!({"type": "event"}),
            serde_json::to_vec(&event).expect("event"),
        )],
    );
    (id, body)
}

/// A Python-style frame.
pub fn frame(module: &str, function: &str, context_line: &str, lineno: u32, in_app: bool) -> Value {
    json!({
        "module": module,
        "filename": format!("{}.py", module.replace('.', "/")),
        "abs_path": format!("/srv/app/{}.py", module.replace('.', "/")),
        "function": function,
        "lineno": lineno,
        "context_line": context_line,
        "in_app": in_app,
    })
}

/// A Python error event with one exception whose stack is `frames` (oldest first).
pub fn exception_event(ty: &str, value: &str, frames: Vec<Value>) -> Value {
    json!({
        "platform": "python",
        "level": "error",
        "exception": {"values": [{
            "type": ty,
            "value": value,
            "mechanism": {"type": "generic", "handled": true},
            "stacktrace": {"frames": frames},
        }]},
    })
}

/// A message event.
pub fn message_event(message: &str) -> Value {
    json!({"platform": "python", "level": "warning", "message": message})
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// `deflate` as RFC 1950 (zlib-wrapped), what HTTP means and raven sends.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("zlib");
    e.finish().expect("zlib")
}

/// Raw RFC 1951 deflate, which some clients send as `deflate`.
pub fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
        w.write_all(data).expect("brotli");
    }
    out
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

/// A gzip stream that inflates to `decoded_bytes` zeros, built in chunks so the
/// uncompressed data never sits in memory (≈1 MiB per GiB).
pub fn gzip_bomb(decoded_bytes: u64) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    let mut left = decoded_bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        e.write_all(&chunk[..n]).expect("bomb");
        left -= n as u64;
    }
    e.finish().expect("bomb")
}
