//! Regression tests over every captured SDK payload in `shared/fixtures/envelopes/`:
//! authenticate, parse, normalize, group and snapshot.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sextant_protocol::{
    Event, ItemType, NormalizeContext, decode_store_body, group, issue_metadata, normalize_event,
    normalize_event_for_index, normalize_event_item, parse_auth_header, parse_auth_query,
    parse_client_report, parse_envelope, process_event,
};

#[path = "../benches/support/mod.rs"]
#[allow(dead_code)]
mod support;

const PUBLIC_KEY: &str = "e12d836b15bb49d7bbf99e64295d995b";
/// After every fixture's capture time (2026-11-24T09:32:40Z); used when the envelope has
/// no `sent_at`, so results do not depend on the current date.
const FALLBACK_RECEIVED: f64 = 1_795_512_760.0;

fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/envelopes");
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing; it must be at <workspace>/../shared/fixtures/envelopes",
        dir.display()
    );
    dir
}

fn files_with_suffix(suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("read fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path, suffix: &str) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    name.strip_suffix(suffix).unwrap().to_owned()
}

/// Headers of the captured request as (name, value) pairs, plus its query string.
fn request_meta(stem: &str) -> (Vec<(String, String)>, String) {
    let path = fixtures_dir().join(format!("{stem}.request.json"));
    let req: Value = serde_json::from_slice(&std::fs::read(&path).expect("request.json")).unwrap();
    let headers = req["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (
        headers,
        req["query"].as_str().unwrap_or_default().to_owned(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks the request authenticates with the fixture key; returns its User-Agent.
fn authenticate(stem: &str) -> Option<String> {
    let (headers, query) = request_meta(stem);
    let auth = match header(&headers, "x-sentry-auth") {
        Some(value) => parse_auth_header(value).unwrap(),
        None => parse_auth_query(&query).unwrap(),
    }
    .unwrap_or_else(|| panic!("{stem}: no auth carrier"));
    assert_eq!(auth.public_key, PUBLIC_KEY, "{stem}");
    assert!(auth.client.is_some(), "{stem}: sentry_client");
    header(&headers, "user-agent").map(str::to_owned)
}

fn process(payload: &[u8], item_type: &ItemType, ctx: &NormalizeContext) -> Value {
    let processed = process_event(payload, item_type, ctx).expect("normalize");
    // The one-call pipeline and the individual functions must agree.
    let event = normalize_event_item(payload, item_type, ctx).unwrap();
    assert_eq!(processed.event, event);
    assert_eq!(processed.grouping, group(&event));
    assert_eq!(processed.metadata, issue_metadata(&event));
    if *item_type == ItemType::Event {
        assert_index_agrees(payload, ctx, &event);
    }
    let tags: Vec<Value> = processed.tags.iter().map(|(k, v)| json!([k, v])).collect();
    json!({
        "normalized": processed.event,
        "hashes": processed.grouping.hashes,
        "grouping_config": processed.grouping.config,
        "title": processed.metadata.title,
        "culprit": processed.metadata.culprit,
        "metadata": processed.metadata.metadata,
        "tags": tags,
    })
}

/// Processing derives an event's columns from the pruned parse
/// (`normalize_event_for_index`); each of them must equal what the full normalization
/// gives, or the stored columns would disagree with the event read back.
fn assert_index_agrees(payload: &[u8], ctx: &NormalizeContext, full: &Event) {
    let index = normalize_event_for_index(payload, ctx).expect("indexes");
    assert_eq!(group(&index), group(full));
    assert_eq!(issue_metadata(&index), issue_metadata(full));
    assert_eq!(index.event_id(), full.event_id());
    assert_eq!(index.timestamp(), full.timestamp());
    assert_eq!(index.level(), full.level());
    assert_eq!(index.platform(), full.platform());
    assert_eq!(index.event_type(), full.event_type());
    assert_eq!(index.release(), full.release());
    assert_eq!(index.environment(), full.environment());
    assert_eq!(index.transaction(), full.transaction());
    assert_eq!(index.message(), full.message());
    assert_eq!(index.tags(), full.tags());
    assert_eq!(index.user_key(), full.user_key());
    assert_eq!(index.trace_id(), full.trace_id());
    assert_eq!(index.unhandled(), full.unhandled());
}

#[test]
fn index_normalization_of_the_benchmark_event() {
    let payload = support::django_event();
    let ctx = NormalizeContext {
        received_at: FALLBACK_RECEIVED,
        client_ip: Some("203.0.113.7".into()),
        ..NormalizeContext::default()
    };
    let full = normalize_event(&payload, &ctx).unwrap();
    assert_index_agrees(&payload, &ctx, &full);
    let index = normalize_event_for_index(&payload, &ctx).unwrap();
    assert!(full.get("breadcrumbs").is_some() && index.get("breadcrumbs").is_none());
}

fn snapshot(name: &str, value: &Value) {
    insta::with_settings!({sort_maps => true, prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!(name, value);
    });
}

#[test]
fn every_envelope_fixture() {
    let files = files_with_suffix(".envelope");
    assert!(
        files.len() >= 30,
        "expected the captured fixtures, found {}",
        files.len()
    );
    for path in files {
        let stem = stem(&path, ".envelope");
        let user_agent = authenticate(&stem);
        let body = std::fs::read(&path).unwrap();
        let envelope = parse_envelope(&body).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let ctx = NormalizeContext {
            received_at: envelope.headers.sent_at.unwrap_or(FALLBACK_RECEIVED),
            sent_at: envelope.headers.sent_at,
            client_ip: Some("127.0.0.1".into()),
            user_agent,
            envelope_event_id: envelope.headers.event_id.clone(),
        };
        let mut events = Vec::new();
        let mut client_reports = Vec::new();
        for item in &envelope.items {
            if item.headers.item_type.is_event_like() {
                events.push(process(&item.payload, &item.headers.item_type, &ctx));
            } else if item.headers.item_type == ItemType::ClientReport {
                let report = parse_client_report(&item.payload).unwrap();
                let discarded: Vec<Value> = report
                    .discarded
                    .iter()
                    .map(|d| json!({"outcome": d.outcome, "reason": d.reason, "category": d.category, "quantity": d.quantity}))
                    .collect();
                client_reports.push(json!({"timestamp": report.timestamp, "discarded": discarded}));
            }
        }
        let items: Vec<Value> = envelope
            .items
            .iter()
            .map(|i| json!({"type": i.headers.item_type.as_str(), "category": i.headers.item_type.data_category(), "bytes": i.payload.len()}))
            .collect();
        snapshot(
            &stem,
            &json!({
                "event_id": envelope.headers.event_id,
                "items": items,
                "events": events,
                "client_reports": client_reports,
            }),
        );
    }
}

#[test]
fn compressed_originals_match() {
    for path in files_with_suffix(".envelope.gz") {
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_end(&mut decoded)
            .unwrap();
        let plain = path.with_extension("");
        assert_eq!(
            decoded,
            std::fs::read(&plain).unwrap(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn raven_store_bodies() {
    let files = files_with_suffix(".json");
    let bodies: Vec<&PathBuf> = files
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".request.json"))
        .collect();
    assert_eq!(bodies.len(), 2, "raven store fixtures");
    for path in bodies {
        let stem = stem(path, ".json");
        let user_agent = authenticate(&stem);
        let json_body = decode_store_body(&std::fs::read(path).unwrap(), 1 << 20).unwrap();
        let ctx = NormalizeContext {
            received_at: FALLBACK_RECEIVED,
            client_ip: Some("127.0.0.1".into()),
            user_agent,
            ..NormalizeContext::default()
        };
        // Store bodies go through the plain entry point (no envelope item type).
        let event = normalize_event(&json_body, &ctx).unwrap();
        assert_eq!(
            event,
            normalize_event_item(&json_body, &ItemType::Event, &ctx).unwrap()
        );
        snapshot(
            &stem,
            &json!({ "events": [process(&json_body, &ItemType::Event, &ctx)] }),
        );
    }
    // The deflate original decodes to the same event (HTTP layer inflates, then store rules).
    let dir = fixtures_dir();
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(
        std::fs::File::open(dir.join("raven-store-exception.json.deflate")).unwrap(),
    )
    .read_to_end(&mut inflated)
    .unwrap();
    let plain = std::fs::read(dir.join("raven-store-exception.json")).unwrap();
    assert_eq!(
        decode_store_body(&inflated, 1 << 20).unwrap(),
        decode_store_body(&plain, 1 << 20).unwrap()
    );
}
