//! Per-stage microbenchmarks of the pure protocol work done for every event: envelope
//! framing, lenient parse + normalization, grouping and serialization of the result.
//!
//! Run with `cargo bench -p sextant-protocol --bench stages`.

/// The server's allocator, so that allocation costs here what it costs in `sextant serve`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support;

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use sextant_protocol::{
    Event, NormalizeContext, check_event_json, group, issue_metadata, normalize_event,
    normalize_event_for_index, parse_envelope,
};

fn main() {
    divan::main();
}

/// Event payloads by bench argument name.
fn payload(name: &str) -> Vec<u8> {
    match name {
        "django-23k" => support::django_event(),
        fixture => support::event_payload(&format!("{fixture}.envelope")),
    }
}

fn ctx() -> NormalizeContext {
    NormalizeContext {
        received_at: 1_795_512_730.0,
        sent_at: Some(1_795_512_725.0),
        client_ip: Some("203.0.113.7".into()),
        user_agent: Some("sentry.python/2.75.0".into()),
        envelope_event_id: None,
    }
}

fn normalized(name: &str) -> Event {
    normalize_event(&payload(name), &ctx()).expect("bench payload normalizes")
}

const ENVELOPES: &[&str] = &[
    "python-exception",
    "python-exception-chained-attachment",
    "python-transaction",
    "node-exception",
    "node-exception-large",
    "rust-panic",
    "django-23k",
];

const EVENTS: &[&str] = &[
    "python-exception",
    "node-exception",
    "rust-panic",
    "django-23k",
];

#[divan::bench(args = ENVELOPES)]
fn envelope_parse(bencher: Bencher, name: &str) {
    let body = match name {
        "django-23k" => support::envelope_of(&support::django_event()),
        fixture => support::fixture(&format!("{fixture}.envelope")),
    };
    bencher
        .counter(BytesCount::of_slice(&body))
        .bench(|| parse_envelope(black_box(&body)).expect("fixture parses"));
}

#[divan::bench(args = EVENTS)]
fn normalize(bencher: Bencher, name: &str) {
    let data = payload(name);
    let ctx = ctx();
    bencher
        .counter(BytesCount::of_slice(&data))
        .bench(|| normalize_event(black_box(&data), &ctx).expect("payload normalizes"));
}

/// What ingest does per event item before acknowledging it: a JSON syntax check, so a
/// broken event is refused with a 400 instead of being lost in processing.
#[divan::bench(args = EVENTS)]
fn json_syntax_check(bencher: Bencher, name: &str) {
    let data = payload(name);
    bencher
        .counter(BytesCount::of_slice(&data))
        .bench(|| check_event_json(black_box(&data)).expect("valid JSON"));
}

/// What processing does per event: normalization of only the parts the stored columns
/// and grouping read (the full one happens when the event is read).
#[divan::bench(args = EVENTS)]
fn normalize_for_index(bencher: Bencher, name: &str) {
    let data = payload(name);
    let ctx = ctx();
    bencher
        .counter(BytesCount::of_slice(&data))
        .bench(|| normalize_event_for_index(black_box(&data), &ctx).expect("payload normalizes"));
}

#[divan::bench(args = EVENTS)]
fn group_and_metadata(bencher: Bencher, name: &str) {
    let event = normalized(name);
    bencher.bench(|| {
        let event = black_box(&event);
        (group(event), issue_metadata(event))
    });
}

#[divan::bench(args = EVENTS)]
fn to_json(bencher: Bencher, name: &str) {
    let event = normalized(name);
    bencher.bench(|| black_box(&event).to_json());
}

#[divan::bench(args = EVENTS)]
fn tags(bencher: Bencher, name: &str) {
    let event = normalized(name);
    bencher.bench(|| black_box(&event).tags());
}
