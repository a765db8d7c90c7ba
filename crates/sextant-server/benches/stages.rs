//! Per-stage microbenchmarks of the server's share of the work per event: undoing
//! `Content-Encoding` on ingest, packing a body for the inbox, compressing event JSON,
//! and the whole pure pipeline step (`process_rows`: inbox rows → storage batch).
//!
//! Run with `cargo bench -p sextant-server --bench stages`.

/// The server's allocator, so that allocation costs here what it costs in `sextant serve`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../sextant-protocol/benches/support/mod.rs"]
mod support;

use std::io::Write;

use bytes::Bytes;
use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use sextant_protocol::{NormalizeContext, normalize_event};
use sextant_server::ingest::decode::decode_body;
use sextant_server::memory_budget::MemoryBudget;
use sextant_server::pipeline::{codec, process_rows};
use sextant_storage::{InboxEntry, InboxKind, InboxRow};

fn main() {
    divan::main();
}

/// The decoded-size limit ingest uses by default (generous: no bench input reaches it).
const MAX_DECODED: usize = 20 << 20;

/// `coding/input`: recorded wire bodies where a capture kept one, and the 23 KiB Django
/// envelope compressed by each coding so the codings can be compared on one input.
const BODIES: &[&str] = &[
    "gzip/python-exception",
    "gzip/node-exception-large",
    "br/python-exception",
    "deflate/raven-store-exception",
    "gzip/django-23k",
    "br/django-23k",
    "zstd/django-23k",
    "deflate/django-23k",
];

fn compress(coding: &str, plain: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(plain).expect("gzip into memory");
            enc.finish().expect("gzip into memory")
        }
        "deflate" => {
            let mut enc =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(plain).expect("zlib into memory");
            enc.finish().expect("zlib into memory")
        }
        "br" => {
            let mut out = Vec::new();
            brotli::CompressorWriter::new(&mut out, 4096, 5, 22)
                .write_all(plain)
                .expect("brotli into memory");
            out
        }
        "zstd" => zstd::encode_all(plain, 3).expect("zstd into memory"),
        other => panic!("unknown coding {other}"),
    }
}

/// The wire body for a `BODIES` entry and its decoded size.
fn wire_body(spec: &str) -> (Vec<u8>, usize) {
    let (coding, input) = spec.split_once('/').expect("coding/input");
    if input == "django-23k" {
        let plain = support::envelope_of(&support::django_event());
        return (compress(coding, &plain), plain.len());
    }
    let (wire, plain) = match (coding, input) {
        ("gzip", name) => (format!("{name}.envelope.gz"), format!("{name}.envelope")),
        ("br", name) => (
            format!("{name}-br.envelope.br"),
            format!("{name}-br.envelope"),
        ),
        ("deflate", name) => (format!("{name}.json.deflate"), format!("{name}.json")),
        _ => panic!("no recorded {spec} body"),
    };
    (support::fixture(&wire), support::fixture(&plain).len())
}

#[divan::bench(args = BODIES)]
fn decode(bencher: Bencher, spec: &str) {
    let (wire, decoded_len) = wire_body(spec);
    let coding = spec.split('/').next();
    let wire = Bytes::from(wire);
    let budget = MemoryBudget::new(usize::MAX);
    bencher.counter(BytesCount::new(decoded_len)).bench(|| {
        decode_body(coding, black_box(wire.clone()), MAX_DECODED, &budget).expect("decodes")
    });
}

const EVENTS: &[&str] = &[
    "python-exception",
    "node-exception",
    "rust-panic",
    "django-23k",
];

fn payload(name: &str) -> Vec<u8> {
    match name {
        "django-23k" => support::django_event(),
        fixture => support::event_payload(&format!("{fixture}.envelope")),
    }
}

/// zstd level 3 of the normalized JSON (what processing stored before payloads kept
/// their inbox frame; still the cost for bodies too small to be packed).
#[divan::bench(args = EVENTS)]
fn compress_event(bencher: Bencher, name: &str) {
    let event = normalize_event(&payload(name), &NormalizeContext::new(1_795_512_730.0))
        .expect("payload normalizes");
    let json = event.to_json();
    bencher
        .counter(BytesCount::of_slice(&json))
        .bench(|| zstd::encode_all(black_box(&json[..]), 3).expect("zstd into memory"));
}

/// The same with one reused compression context: `encode_all` builds a fresh zstd
/// context per call, a fixed cost that dominates for small events.
#[divan::bench(args = EVENTS)]
fn compress_event_reused_context(bencher: Bencher, name: &str) {
    let event = normalize_event(&payload(name), &NormalizeContext::new(1_795_512_730.0))
        .expect("payload normalizes");
    bench_compressor(bencher, &event.to_json(), 3);
}

/// Compressions of `data` at `level` with one reused context.
fn bench_compressor(bencher: Bencher, data: &[u8], level: i32) {
    let mut compressor = zstd::bulk::Compressor::new(level).expect("zstd context");
    bencher.counter(BytesCount::of_slice(data)).bench_local(|| {
        compressor
            .compress(black_box(data))
            .expect("zstd into memory")
    });
}

/// Speed of the zstd levels considered for inbox bodies and stored payloads, on the
/// 23 KiB event (the ratio is printed once per level, for the trade-off).
#[divan::bench(args = [-5, -1, 1, 3])]
fn compress_levels_django(bencher: Bencher, level: i32) {
    let json = payload("django-23k");
    let packed = zstd::bulk::compress(&json, level).expect("zstd into memory");
    eprintln!(
        "zstd level {level}: {} -> {} bytes ({:.1}x)",
        json.len(),
        packed.len(),
        json.len() as f64 / packed.len() as f64
    );
    bench_compressor(bencher, &json, level);
}

/// Packing an accepted body for the inbox, on the request path (`codec::pack_inbox`).
#[divan::bench(args = EVENTS)]
fn pack_inbox(bencher: Bencher, name: &str) {
    let body = envelope(name);
    bencher
        .counter(BytesCount::of_slice(&body))
        .bench(|| codec::pack_inbox(black_box(&body)));
}

/// An inbox row holding `envelope` as ingest stores it.
fn row(id: i64, envelope: &[u8]) -> InboxRow {
    InboxRow {
        id,
        entry: InboxEntry {
            project_id: 1,
            kind: InboxKind::Envelope,
            received_at: 1_795_512_730_000,
            client_ip: Some("203.0.113.7".into()),
            user_agent: Some("sentry.python/2.75.0".into()),
            body: codec::pack_inbox(envelope),
        },
    }
}

fn envelope(name: &str) -> Vec<u8> {
    match name {
        "django-23k" => support::envelope_of(&support::django_event()),
        fixture => support::fixture(&format!("{fixture}.envelope")),
    }
}

/// One inbox row through the whole pure pipeline: unpack, parse the envelope, normalize,
/// group, derive metadata and tags.
#[divan::bench(args = EVENTS)]
fn process_row(bencher: Bencher, name: &str) {
    let rows = [row(1, &envelope(name))];
    bencher.bench(|| {
        let (batch, _notes) = process_rows(black_box(&rows));
        assert_eq!(batch.events.len(), 1);
        batch
    });
}

/// A processor batch of 100 Django rows; throughput is rows (= events) per second.
#[divan::bench(sample_count = 30)]
fn process_rows_batch_100(bencher: Bencher) {
    let body = envelope("django-23k");
    let rows: Vec<InboxRow> = (1..=100).map(|id| row(id, &body)).collect();
    bencher.counter(ItemsCount::new(rows.len())).bench(|| {
        let (batch, _notes) = process_rows(black_box(&rows));
        batch
    });
}
