//! Processing against the inbox forms ingest writes now and wrote before.

use serde_json::json;
use sextant_storage::{InboxEntry, InboxKind};

use super::*;
use crate::pipeline::codec::{pack_inbox, unpack_inbox};

const EVENT_ID: &str = "0123456789abcdef0123456789abcdef";

fn envelope() -> Vec<u8> {
    let event = json!({
        "event_id": EVENT_ID,
        "timestamp": 1_795_512_700.25,
        "platform": "python",
        "user": {"ip_address": "{{auto}}"},
        "breadcrumbs": {"values": [{"message": "step"}]},
        "exception": {"values": [{
            "type": "KeyError",
            "value": "'sku'",
            "stacktrace": {"frames": [{
                "filename": "shop/cart.py", "function": "add", "in_app": true,
                "context_line": "item = catalog[sku]",
                "pre_context": vec!["def add(sku):"; 20],
                "vars": {"sku": "A-1".repeat(40)}
            }]}
        }]},
    });
    let transaction = json!({
        "type": "transaction", "transaction": "/cart", "start_timestamp": 1_795_512_700.0,
        "timestamp": 1_795_512_700.5, "spans": vec![json!({"op": "db", "description": "SELECT 1"}); 20],
    });
    format!(
        "{{\"event_id\":\"{EVENT_ID}\",\"sent_at\":\"2026-11-24T09:31:41Z\"}}\n\
         {{\"type\":\"event\"}}\n{event}\n{{\"type\":\"transaction\"}}\n{transaction}\n"
    )
    .into_bytes()
}

fn row(body: Vec<u8>) -> InboxRow {
    InboxRow {
        id: 1,
        entry: InboxEntry {
            project_id: 1,
            kind: InboxKind::Envelope,
            received_at: 1_795_512_701_000,
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some("sentry.python/2.75.0".into()),
            body,
        },
    }
}

#[test]
fn stored_payloads_reuse_the_inbox_frames() {
    let body = envelope();
    let packed = pack_inbox(&body);
    let (batch, _) = process_rows(&[row(packed.clone())]);
    assert_eq!((batch.events.len(), batch.raw_items.len()), (1, 1));

    let unpacked = unpack_inbox(&packed).unwrap();
    let (_, items) = sextant_protocol::parse_envelope_spans(&body).unwrap();
    let event_frame = unpacked.frame(&items[0].payload).expect("event frame");
    let transaction_frame = unpacked
        .frame(&items[1].payload)
        .expect("transaction frame");
    assert!(batch.events[0].payload.ends_with(event_frame));
    assert_eq!(batch.raw_items[0].payload, transaction_frame);

    let stored = crate::stored_event::decode(&batch.events[0].payload).unwrap();
    assert_eq!(stored["event_id"], EVENT_ID);
    assert_eq!(stored["user"]["ip_address"], "203.0.113.9");
    assert!(stored.get("breadcrumbs").is_some(), "read back in full");
}

#[test]
fn rows_packed_by_earlier_versions_store_the_same_event() {
    let body = envelope();
    // Earlier versions packed the whole envelope into one frame.
    let legacy = zstd::bulk::compress(&body, 1).unwrap();
    let (now, _) = process_rows(&[row(pack_inbox(&body))]);
    let (before, _) = process_rows(&[row(legacy)]);
    let decode = |batch: &Batch| crate::stored_event::decode(&batch.events[0].payload).unwrap();
    assert_eq!(decode(&before), decode(&now));
    let columns = |batch: &Batch| {
        let e = &batch.events[0];
        (
            e.title.clone(),
            e.culprit.clone(),
            e.hashes.clone(),
            e.tags.clone(),
        )
    };
    assert_eq!(columns(&before), columns(&now));
    assert_eq!(
        zstd::decode_all(&before.raw_items[0].payload[..]).unwrap(),
        zstd::decode_all(&now.raw_items[0].payload[..]).unwrap()
    );
}

#[test]
fn an_inbox_body_that_does_not_decompress_is_counted() {
    let mut packed = pack_inbox(&envelope());
    packed.truncate(packed.len() / 2);
    let (batch, _) = process_rows(&[row(packed)]);
    assert!(batch.events.is_empty());
    assert_eq!(batch.outcomes.len(), 1);
    assert_eq!(batch.outcomes[0].reason, "invalid_envelope");
}
