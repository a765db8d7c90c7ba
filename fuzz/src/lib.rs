//! Shared checks for the fuzz targets: the event pipeline every event-shaped input goes
//! through, with the properties that must hold for any input that normalizes.

use sextant_protocol::{
    Event, NormalizeContext, group, issue_metadata, normalize_event, normalize_event_for_index,
};

/// The request context the targets normalize with: a drifting `sent_at` so clock
/// correction runs, and a client IP so `{{auto}}` and IP inference run.
pub fn context() -> NormalizeContext {
    NormalizeContext {
        received_at: 1_795_512_730.0,
        sent_at: Some(1_795_512_000.0),
        client_ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36".into()),
        envelope_event_id: None,
    }
}

/// normalize → group → metadata → tags → JSON, then the stored JSON must normalize
/// again (the API and reprocessing read it back) and group to a non-empty hash list.
pub fn check_event(payload: &[u8]) {
    let ctx = context();
    let Ok(event) = normalize_event(payload, &ctx) else {
        return;
    };
    let grouping = group(&event);
    let _ = (
        issue_metadata(&event),
        event.tags(),
        event.message(),
        event.user_key(),
        event.unhandled(),
    );
    assert!(
        grouping.hashes.iter().all(|h| h.len() == 32),
        "hashes are 32-hex MD5: {grouping:?}"
    );
    assert!(
        event.event_type() == "transaction" || !grouping.hashes.is_empty(),
        "a non-transaction event has a primary hash"
    );
    let json = event.to_json();
    assert!(
        json.first() == Some(&b'{'),
        "normalized event serializes to an object"
    );
    if let Err(err) = normalize_event(&json, &ctx) {
        panic!("normalized output does not normalize again: {err}");
    }
    check_index(payload, &event);
}

/// Processing derives the stored columns from the pruned normalization; for any input,
/// they must equal what the full normalization (done when the event is read) gives.
fn check_index(payload: &[u8], full: &Event) {
    // As in processing, where the envelope always names the event.
    let ctx = NormalizeContext {
        envelope_event_id: Some(full.event_id().to_string()),
        ..context()
    };
    let index = normalize_event_for_index(payload, &ctx)
        .unwrap_or_else(|err| panic!("normalizes in full but not for the index: {err}"));
    assert_eq!(group(&index), group(full), "grouping");
    assert_eq!(issue_metadata(&index), issue_metadata(full), "metadata");
    assert_eq!(index.event_id(), full.event_id());
    assert_eq!(index.timestamp().to_bits(), full.timestamp().to_bits());
    assert_eq!(
        (index.level(), index.platform(), index.event_type()),
        (full.level(), full.platform(), full.event_type())
    );
    assert_eq!(
        (index.release(), index.environment(), index.trace_id()),
        (full.release(), full.environment(), full.trace_id())
    );
    assert_eq!(
        (index.message(), index.tags(), index.user_key(), index.unhandled()),
        (full.message(), full.tags(), full.user_key(), full.unhandled())
    );
}
