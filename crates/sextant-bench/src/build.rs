//! Envelope bodies: one event item in the framing the Python SDK uses, optionally
//! gzip-compressed, and the parallel pre-build of every body before timing starts.

use serde_json::{Value, json};

use super::payload::{Rng, Template};

/// The SDK identity put in envelope headers.
pub fn sdk_header() -> Value {
    json!({"name": "sentry.python.django", "version": "2.19.2"})
}

/// A one-item envelope: `{"event_id","sent_at","sdk"}` header, an `event` item with an
/// explicit `length`, as the Python SDK sends it.
pub fn envelope(event_id: &str, sent_at: &str, event: &[u8]) -> Vec<u8> {
    let header = json!({"event_id": event_id, "sent_at": sent_at, "sdk": sdk_header()});
    let mut body = serde_json::to_vec(&header).unwrap_or_default();
    body.push(b'\n');
    body.extend_from_slice(
        format!("{{\"type\":\"event\",\"length\":{}}}\n", event.len()).as_bytes(),
    );
    body.extend_from_slice(event);
    body.push(b'\n');
    body
}

/// One ready-to-send body for a fresh event of `template`: a new random event id (so
/// repeated runs against one database never collide), the current time, and gzip when
/// asked. Returns the event id with the body.
pub fn body(template: &Template, rng: &mut Rng, gzip: bool) -> (String, Vec<u8>) {
    let event_id = uuid::Uuid::new_v4().simple().to_string();
    let now = time::OffsetDateTime::now_utc();
    let unix = now.unix_timestamp_nanos() as f64 / 1e9;
    let sent_at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let event = serde_json::to_vec(&template.event(rng, &event_id, unix)).unwrap_or_default();
    let raw = envelope(&event_id, &sent_at, &event);
    let body = if gzip { gzip_bytes(&raw) } else { raw };
    (event_id, body)
}

fn gzip_bytes(raw: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(raw);
    encoder.finish().unwrap_or_default()
}

/// Bodies for `count` events, template `i % templates` for the i-th, built on all cores
/// before timing starts so the load phase only sends.
pub fn build_all(count: usize, templates: usize, gzip: bool, seed: u64) -> Vec<Vec<u8>> {
    let templates = Template::all(templates.max(1));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|first| {
                let templates = &templates;
                scope.spawn(move || {
                    let mut rng = Rng::new(seed ^ (first as u64).wrapping_mul(0x2545_F491));
                    (first..(first + chunk).min(count))
                        .map(|i| body(&templates[i % templates.len()], &mut rng, gzip).1)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_header_and_sized_item() {
        let body = envelope("ab", "2026-01-01T00:00:00Z", b"{\"x\":1}");
        let text = String::from_utf8(body).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(header["event_id"], "ab");
        assert_eq!(header["sdk"]["name"], "sentry.python.django");
        assert_eq!(lines[1], "{\"type\":\"event\",\"length\":7}");
        assert_eq!(lines[2], "{\"x\":1}");
    }
}
