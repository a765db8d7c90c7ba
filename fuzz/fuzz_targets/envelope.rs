//! `parse_envelope` on arbitrary bytes; whatever parses must survive `to_bytes` and parse
//! back to the same items.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_protocol::parse_envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = parse_envelope(data) else {
        return;
    };
    let _ = envelope.event_id();
    let again = parse_envelope(&envelope.to_bytes()).expect("to_bytes output parses");
    assert_eq!(again.headers.event_id, envelope.headers.event_id);
    assert_eq!(again.items.len(), envelope.items.len());
    for (a, b) in again.items.iter().zip(&envelope.items) {
        assert_eq!(a.headers.item_type, b.headers.item_type);
        assert_eq!(a.payload, b.payload);
    }
    // Event items then go through the event pipeline, as the processor does.
    for item in &envelope.items {
        sextant_fuzz::check_event(&item.payload);
    }
});
