//! Request bodies and routes SDKs use: every Content-Encoding, chunked framing, the legacy
//! store endpoint (base64+zlib, NaN), routes without trailing slash, CORS, rate limits.

use base64::Engine;
use serde_json::json;

use crate::ingest_auth::assert_rejected;
use crate::support::envelope::{
    brotli, event_envelope, gzip, message_event, new_id, raw_deflate, zlib, zstd,
};
use crate::support::{Body, TestApp};

#[test]
fn every_supported_content_encoding_is_decoded() {
    let app = TestApp::spawn();
    type Encoder = fn(&[u8]) -> Vec<u8>;
    let identity: Encoder = |b| b.to_vec();
    let cases: &[(&str, Encoder)] = &[
        ("gzip", gzip),
        ("x-gzip", gzip),
        ("deflate", zlib),
        ("deflate", raw_deflate),
        ("br", brotli),
        ("zstd", zstd),
        ("", identity),
        ("utf-8", identity),
        ("UTF-8", identity),
        ("identity", identity),
    ];
    let mut failures = Vec::new();
    let mut sent = Vec::new();
    for (i, (encoding, encode)) in cases.iter().enumerate() {
        let title = format!("encoded with '{encoding}' #{i}");
        let (id, body) = event_envelope(message_event(&title));
        let r = app.send_envelope(encode(&body), &[("Content-Encoding", encoding)]);
        if r.status != 200 || r.json()["id"] != json!(id) {
            failures.push(format!(
                "Content-Encoding '{encoding}' (case {i}): {} {}",
                r.status,
                r.text()
            ));
        } else {
            sent.push((id, title));
        }
    }
    assert!(failures.is_empty(), "rejected:\n{}", failures.join("\n"));
    for (id, title) in sent {
        assert_eq!(app.wait_for_event(&id)["title"], json!(title));
    }
}

#[test]
fn chunked_bodies_are_read_whole() {
    let app = TestApp::spawn();
    let auth = app.auth_header();
    let (id, body) = event_envelope(message_event("sent chunked"));
    let r = app.request(
        "POST",
        &app.envelope_path(),
        &[("X-Sentry-Auth", &auth)],
        Body::Chunked(body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Chunked and gzipped, the way @sentry/node sends large bodies.
    let mut event = message_event("sent chunked and gzipped");
    event["extra"] = json!({"blob": "q".repeat(40 * 1024)});
    let (gz_id, body) = event_envelope(event);
    let r = app.request(
        "POST",
        &app.envelope_path(),
        &[("X-Sentry-Auth", &auth), ("Content-Encoding", "gzip")],
        Body::Chunked(gzip(&body)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.wait_for_event(&id)["title"], json!("sent chunked"));
    assert_eq!(
        app.wait_for_event(&gz_id)["title"],
        json!("sent chunked and gzipped")
    );
}

#[test]
fn store_endpoint_takes_json_base64_zlib_and_nan() {
    let app = TestApp::spawn();
    let auth = app.auth_header();
    let post = |body: Vec<u8>, extra: &[(&str, &str)]| {
        let mut headers = vec![("X-Sentry-Auth", auth.as_str())];
        headers.extend_from_slice(extra);
        app.request("POST", &app.store_path(), &headers, Body::Bytes(body))
    };

    let plain_id = new_id();
    let plain = json!({"event_id": plain_id, "message": "store plain", "level": "error"});
    let r = post(
        plain.to_string().into_bytes(),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(
        (r.status, r.json()["id"].clone()),
        (200, json!(plain_id)),
        "{}",
        r.text()
    );

    // Old JS/Python clients: base64(zlib(json)) with no Content-Encoding.
    let b64_id = new_id();
    let legacy = json!({"event_id": b64_id, "message": "store base64 zlib", "level": 40});
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(zlib(legacy.to_string().as_bytes()));
    let r = post(encoded.into_bytes(), &[]);
    assert_eq!(
        (r.status, r.json()["id"].clone()),
        (200, json!(b64_id)),
        "{}",
        r.text()
    );

    // raven-python writes NaN/Infinity for float("nan") in local variables.
    let nan_id = new_id();
    let nan = format!(
        r#"{{"event_id":"{nan_id}","message":"store with NaN","level":"error","extra":{{"ratio":NaN,"max":Infinity,"min":-Infinity}}}}"#
    );
    let r = post(zlib(nan.as_bytes()), &[("Content-Encoding", "deflate")]);
    assert_eq!(
        (r.status, r.json()["id"].clone()),
        (200, json!(nan_id)),
        "{}",
        r.text()
    );

    // Dashed event ids are normalised to 32 hex.
    let dashed = uuid::Uuid::new_v4();
    let r = post(
        json!({"event_id": dashed.hyphenated().to_string(), "message": "store dashed"})
            .to_string()
            .into_bytes(),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], json!(dashed.simple().to_string()));

    assert_eq!(app.wait_for_event(&plain_id)["title"], json!("store plain"));
    let legacy_event = app.wait_for_event(&b64_id);
    assert_eq!(legacy_event["title"], json!("store base64 zlib"));
    assert_eq!(
        legacy_event["level"],
        json!("error"),
        "numeric level 40 is error"
    );
    assert_eq!(
        app.wait_for_event(&nan_id)["title"],
        json!("store with NaN")
    );
    app.wait_for_event(&dashed.simple().to_string());
}

#[test]
fn routes_without_trailing_slash_work() {
    let app = TestApp::spawn();
    let auth = app.auth_header();
    let (id, body) = event_envelope(message_event("no slash envelope"));
    let r = app.request(
        "POST",
        app.envelope_path().trim_end_matches('/'),
        &[("X-Sentry-Auth", &auth)],
        Body::Bytes(body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let store_id = new_id();
    let r = app.request(
        "POST",
        app.store_path().trim_end_matches('/'),
        &[("X-Sentry-Auth", &auth)],
        Body::Bytes(
            json!({"event_id": store_id, "message": "no slash store"})
                .to_string()
                .into_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    app.wait_for_event(&id);
    app.wait_for_event(&store_id);
}

#[test]
fn cors_preflight_needs_no_auth_and_exposes_rate_limit_headers() {
    let app = TestApp::spawn();
    for path in [app.envelope_path(), app.store_path()] {
        let r = app.request(
            "OPTIONS",
            &path,
            &[
                ("Origin", "https://shop.example.com"),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "content-type,x-sentry-auth",
                ),
            ],
            Body::None,
        );
        assert!(
            (200..300).contains(&r.status),
            "OPTIONS {path}: {} {}",
            r.status,
            r.text()
        );
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("*"),
            "{path}: {:?}",
            r.headers
        );
        let methods = r
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_lowercase();
        assert!(methods.contains("post"), "allow-methods: {methods}");
        let allow_headers = r
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            allow_headers.contains("x-sentry-auth"),
            "allow-headers: {allow_headers}"
        );
    }
    // Simple CORS requests (the browser SDK) read the answer too.
    let (_, body) = event_envelope(message_event("from a browser"));
    let q = format!(
        "{}?sentry_key={}&sentry_version=7",
        app.envelope_path(),
        app.public_key
    );
    let r = app.request(
        "POST",
        &q,
        &[
            ("Origin", "https://shop.example.com"),
            ("Content-Type", "text/plain;charset=UTF-8"),
        ],
        Body::Bytes(body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_exposes_sentry_headers(&r);
    // Errors carry them as well, or the SDK cannot read X-Sentry-Error.
    let r = app.request(
        "POST",
        &app.envelope_path(),
        &[("Origin", "https://shop.example.com")],
        Body::Bytes(b"{}".to_vec()),
    );
    assert_rejected(&r, 401);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_exposes_sentry_headers(&r);
}

/// Expose-Headers matters on actual responses (browsers ignore it on preflights): without
/// it a browser SDK cannot read rate limits or the error reason.
fn assert_exposes_sentry_headers(r: &crate::support::Resp) {
    let expose = r
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_lowercase();
    for h in ["x-sentry-error", "x-sentry-rate-limits", "retry-after"] {
        assert!(
            expose.contains(h),
            "Access-Control-Expose-Headers lacks {h}: {:?}",
            r.headers
        );
    }
}

#[test]
fn rate_limited_key_gets_429_with_retry_after_and_sentry_rate_limits() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit.count = 2;
        // Windows are fixed and aligned to the clock: an hour makes it practically
        // impossible for the three requests to straddle a window boundary.
        c.rate_limit.window_secs = 3600;
    });
    let mut accepted = Vec::new();
    for _ in 0..2 {
        let (id, body) = event_envelope(message_event("within the limit"));
        let r = app.send_envelope(body, &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        accepted.push(id);
    }
    let (limited_id, body) = event_envelope(message_event("over the limit"));
    let r = app.send_envelope(body, &[]);
    assert_eq!(r.status, 429, "{}", r.text());
    let retry_after: u64 = r
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("429 needs an integer Retry-After: {:?}", r.headers));
    assert!(
        (1..=3600).contains(&retry_after),
        "retry-after {retry_after} outside the one-hour window"
    );
    let limits = r
        .header("x-sentry-rate-limits")
        .unwrap_or_else(|| panic!("no X-Sentry-Rate-Limits: {:?}", r.headers));
    let first = limits.split(',').next().unwrap().trim();
    let parts: Vec<&str> = first.split(':').collect();
    assert!(
        parts.len() >= 3,
        "retry_after:categories:scope expected, got {limits}"
    );
    assert!(
        parts[0].parse::<f64>().is_ok(),
        "retry_after is a number: {limits}"
    );

    // Nothing from the limited request is stored; the accepted ones are.
    for id in &accepted {
        app.wait_for_event(id);
    }
    assert_eq!(app.event_count(), 2);
    let (status, _) = app.get(&app.event_path(&limited_id));
    assert_eq!(status, 404);
}
