//! Replays every recorded SDK request in `shared/fixtures/envelopes/` with its recorded
//! method, path, query, headers and framing, and checks the documented effects: response
//! ids, event titles/culprits/levels, grouping, and that non-error items create no issue.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::event::{issue_id, str_field};
use crate::support::{Body, Resp, TestApp};

/// Project id and DSN key the fixtures were captured with; rewritten to the test's.
const RECORDED_PROJECT: &str = "/api/42/";
const RECORDED_KEY: &str = "e12d836b15bb49d7bbf99e64295d995b";

const PY_TYPE_ERROR: &str = "TypeError: unsupported operand type(s) for /: 'int' and 'NoneType'";
const DISK: &str = "Disk usage above 90% on db-1";

/// Expected title of every fixture that carries an error/default event.
const TITLES: &[(&str, &str)] = &[
    ("python-exception", PY_TYPE_ERROR),
    ("python-exception-br", PY_TYPE_ERROR),
    ("python-exception-session-app", PY_TYPE_ERROR),
    ("python-error-in-transaction", PY_TYPE_ERROR),
    (
        "python-exception-chained-attachment",
        "RuntimeError: lookup failed",
    ),
    ("python-message", DISK),
    (
        "python-logentry-fingerprint",
        "Payment p-1 failed for 3 items",
    ),
    (
        "node-exception",
        "TypeError: Cannot apply discount to cart of u-42",
    ),
    (
        "node-exception-large",
        "TypeError: Cannot apply discount to cart of u-42",
    ),
    (
        "node-error-in-transaction",
        "TypeError: Cannot apply discount to cart of u-42",
    ),
    (
        "node-unhandled",
        "TypeError: Cannot apply discount to cart of u-7",
    ),
    ("node-message", DISK),
    ("raven-store-exception", PY_TYPE_ERROR),
    ("raven-store-message", "legacy store message"),
    ("rust-error", "ParseIntError: invalid digit found in string"),
    (
        "rust-error-in-transaction",
        "ParseIntError: invalid digit found in string",
    ),
    (
        "rust-error-with-session",
        "ParseIntError: invalid digit found in string",
    ),
    ("rust-message", DISK),
    ("rust-panic", "panic: index 3 out of range for cart"),
];

/// Expected level where the input is unusual (numeric, fatal, warning).
const LEVELS: &[(&str, &str)] = &[
    ("raven-store-exception", "error"), // `"level": 40`
    ("python-message", "warning"),
    ("node-unhandled", "fatal"),
    ("rust-panic", "fatal"),
    ("rust-error", "error"), // no level sent: default
];

/// Expected culprit: the transaction when set, else "{module} in {function}" of the
/// top in-app frame (protocol doc §14.8).
const CULPRITS: &[(&str, &str)] = &[
    ("python-exception", "__main__ in checkout"),
    ("python-error-in-transaction", "GET /checkout/{id}"),
];

pub struct Recorded {
    pub name: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub chunked: bool,
    pub body: Vec<u8>,
    pub compressed: Option<(String, Vec<u8>)>,
}

impl Recorded {
    fn is_store(&self) -> bool {
        self.path.trim_end_matches('/').ends_with("/store")
    }

    /// Item types in the body (`store` for a legacy store request).
    fn item_types(&self) -> Vec<String> {
        if self.is_store() {
            return vec!["store".into()];
        }
        split_envelope(&self.body)
            .into_iter()
            .skip(1)
            .map(|(h, _)| h["type"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn has_event(&self) -> bool {
        self.item_types()
            .iter()
            .any(|t| t == "event" || t == "store")
    }

    /// The id the server must answer with: the envelope header `event_id` as 32 hex (or
    /// none → `{}`); for `/store/` the body's `event_id`.
    fn expected_id(&self) -> Option<String> {
        let v: Value = if self.is_store() {
            serde_json::from_slice(&self.body).expect("store body")
        } else {
            split_envelope(&self.body).remove(0).0
        };
        v.get("event_id")
            .and_then(Value::as_str)
            .map(|s| s.replace('-', "").to_lowercase())
    }
}

/// `shared/fixtures/envelopes` beside the repository (or `$SEXTANT_FIXTURES_DIR`).
pub fn fixtures_dir() -> PathBuf {
    let dir = match std::env::var_os("SEXTANT_FIXTURES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/envelopes")
        }
    };
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing: the shared/ folder must sit beside the repository \
         (or set SEXTANT_FIXTURES_DIR)",
        dir.display()
    );
    dir
}

/// Every recorded POST. Header-only GET captures (`*-trace-propagation`) are outbound
/// SDK→application requests carrying `sentry-trace`/`baggage`, not requests to us.
pub fn load_all() -> Vec<Recorded> {
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read fixture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".request.json").map(str::to_string))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let meta: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.request.json"))).expect("read request.json"),
        )
        .unwrap_or_else(|e| panic!("{name}.request.json: {e}"));
        let method = meta["method"].as_str().expect("method").to_string();
        if method != "POST" {
            continue;
        }
        let body_file = meta["body_file"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no body_file"));
        let body = std::fs::read(dir.join(body_file))
            .unwrap_or_else(|e| panic!("{name}: {body_file}: {e}"));
        let compressed = meta["compressed_original_file"].as_str().map(|f| {
            let encoding = meta["content_encoding"]
                .as_str()
                .expect("content_encoding")
                .to_string();
            (
                encoding,
                std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{name}: {f}: {e}")),
            )
        });
        let headers = meta["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.push(Recorded {
            name,
            method,
            path: meta["path"].as_str().unwrap().to_string(),
            query: meta["query"].as_str().unwrap_or("").to_string(),
            headers,
            chunked: meta["transfer_chunked"].as_bool().unwrap_or(false),
            body,
            compressed,
        });
    }
    assert!(
        out.len() >= 40,
        "expected the full fixture set, found {} recorded POSTs",
        out.len()
    );
    out
}

/// Splits an envelope into (header, payload) pairs; the first is the envelope header.
pub fn split_envelope(body: &[u8]) -> Vec<(Value, Vec<u8>)> {
    let line_end = |from: usize| {
        body[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| from + p)
    };
    let end = line_end(0);
    let mut out = vec![(
        serde_json::from_slice(&body[..end]).expect("envelope header"),
        Vec::new(),
    )];
    let mut pos = end + 1;
    while pos < body.len() {
        if body[pos..].iter().all(u8::is_ascii_whitespace) {
            break;
        }
        let hend = line_end(pos);
        let header: Value = serde_json::from_slice(&body[pos..hend]).expect("item header");
        let start = (hend + 1).min(body.len());
        let stop = match header.get("length").and_then(Value::as_u64) {
            Some(len) => start + len as usize,
            None => line_end(start),
        };
        out.push((header, body[start..stop].to_vec()));
        pos = stop + 1;
    }
    out
}

fn rewrite(app: &TestApp, s: &str) -> String {
    s.replace(RECORDED_PROJECT, &format!("/api/{}/", app.project_id))
        .replace(RECORDED_KEY, &app.public_key)
}

/// Replays `rec` as recorded. `compressed` sends the original compressed body with its
/// `Content-Encoding`; otherwise the decoded body without it.
pub fn replay(app: &TestApp, rec: &Recorded, compressed: bool) -> Resp {
    let mut target = rewrite(app, &rec.path);
    if !rec.query.is_empty() {
        target = format!("{target}?{}", rewrite(app, &rec.query));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in &rec.headers {
        let lower = k.to_ascii_lowercase();
        // Framing and connection headers are the client library's business.
        if matches!(
            lower.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if lower == "content-encoding" && !compressed {
            continue;
        }
        headers.push((k.clone(), rewrite(app, v)));
    }
    let body = match (&rec.compressed, compressed) {
        (Some((_, bytes)), true) => bytes.clone(),
        (None, true) => panic!("{} has no compressed original", rec.name),
        _ => rec.body.clone(),
    };
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = if rec.chunked {
        Body::Chunked(body)
    } else {
        Body::Bytes(body)
    };
    app.request(&rec.method, &target, &header_refs, body)
}

fn assert_accepted(rec: &Recorded, resp: &Resp) {
    assert_eq!(
        resp.status,
        200,
        "{}: {} {}",
        rec.name,
        resp.status,
        resp.text()
    );
    let json = resp.json();
    match rec.expected_id() {
        Some(id) => assert_eq!(
            json["id"].as_str(),
            Some(id.as_str()),
            "{}: response {json}",
            rec.name
        ),
        None => assert_eq!(
            json,
            serde_json::json!({}),
            "{}: an envelope without event_id answers {{}}",
            rec.name
        ),
    }
}

fn lookup(table: &[(&'static str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[test]
fn every_recorded_request_is_accepted_and_events_are_served() {
    let app = TestApp::spawn();
    let all = load_all();
    for rec in &all {
        assert_accepted(rec, &replay(&app, rec, false));
    }

    let mut groups: HashMap<String, String> = HashMap::new();
    for rec in all.iter().filter(|r| r.has_event()) {
        let title = lookup(TITLES, &rec.name).unwrap_or_else(|| {
            panic!(
                "fixture {} carries an event but has no expected title in TITLES",
                rec.name
            )
        });
        let id = rec
            .expected_id()
            .unwrap_or_else(|| panic!("{}: event without id", rec.name));
        let event = app.wait_for_event(&id);
        assert_eq!(
            str_field(&event, &["title"]),
            Some(title),
            "{}: title of {event}",
            rec.name
        );
        if let Some(level) = lookup(LEVELS, &rec.name) {
            assert_eq!(
                str_field(&event, &["level"]),
                Some(level),
                "{}: level",
                rec.name
            );
        }
        if let Some(culprit) = lookup(CULPRITS, &rec.name) {
            assert_eq!(
                str_field(&event, &["culprit"]),
                Some(culprit),
                "{}: culprit",
                rec.name
            );
        }
        groups.insert(rec.name.clone(), issue_id(&event));
    }
    // Same scenario, different compression: one issue.
    assert_eq!(groups["python-exception"], groups["python-exception-br"]);
    // Same message from Python and Rust: grouped by the message.
    assert_eq!(groups["python-message"], groups["rust-message"]);
    // node's captureMessage groups by its synthetic stack, not the message.
    assert_ne!(groups["python-message"], groups["node-message"]);
    assert_ne!(groups["python-exception"], groups["node-exception"]);
    assert_ne!(groups["rust-error"], groups["rust-panic"]);

    let issue = app.issue(&groups["python-exception"]);
    assert_eq!(str_field(&issue, &["title"]), Some(PY_TYPE_ERROR));
    let count: i64 = issue["count"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .or_else(|| issue["count"].as_i64())
        .unwrap_or(0);
    assert!(
        count >= 2,
        "python-exception and -br are two events of one issue: {issue}"
    );
}

#[test]
fn compressed_originals_are_accepted_with_their_content_encoding() {
    let app = TestApp::spawn();
    let with_original: Vec<Recorded> = load_all()
        .into_iter()
        .filter(|r| r.compressed.is_some())
        .collect();
    let encodings: Vec<&str> = with_original
        .iter()
        .map(|r| r.compressed.as_ref().unwrap().0.as_str())
        .collect();
    for expected in ["gzip", "br", "deflate"] {
        assert!(
            encodings.contains(&expected),
            "no {expected} original among the fixtures: {encodings:?}"
        );
    }
    for rec in &with_original {
        assert_accepted(rec, &replay(&app, rec, true));
        let id = rec.expected_id().expect("compressed fixtures carry events");
        let event = app.wait_for_event(&id);
        assert_eq!(
            str_field(&event, &["title"]),
            lookup(TITLES, &rec.name),
            "{}",
            rec.name
        );
    }
}

#[test]
fn non_error_items_are_accepted_without_creating_issues() {
    let app = TestApp::spawn();
    let others: Vec<Recorded> = load_all().into_iter().filter(|r| !r.has_event()).collect();
    let mut types: Vec<String> = others.iter().flat_map(Recorded::item_types).collect();
    types.sort();
    types.dedup();
    for t in [
        "transaction",
        "span",
        "session",
        "sessions",
        "feedback",
        "client_report",
        "user_report",
        "log",
        "check_in",
    ] {
        assert!(types.iter().any(|x| x == t), "no fixture with a {t} item");
    }
    for rec in &others {
        assert_accepted(rec, &replay(&app, rec, false));
    }
    // Processing is in order, so once the barrier is served every fixture above is done.
    let barrier = app.barrier();
    assert_eq!(
        app.event_count(),
        1,
        "only the barrier may be stored as an event"
    );
    let issues = app.issues("");
    assert_eq!(
        issues.len(),
        1,
        "only the barrier's issue may exist: {issues:#?}"
    );
    assert_eq!(
        issues[0]["id"].as_str().map(str::to_string),
        Some(issue_id(&barrier))
    );
    for id in others.iter().filter_map(Recorded::expected_id) {
        let (status, _) = app.get(&app.event_path(&id));
        assert_eq!(
            status, 404,
            "a transaction/feedback id must not be served as an error event: {id}"
        );
    }
}

#[test]
fn non_error_items_are_kept_raw_and_client_reports_counted() {
    let app = TestApp::spawn();
    for rec in load_all().into_iter().filter(|r| !r.has_event()) {
        assert_accepted(&rec, &replay(&app, &rec, false));
    }
    app.barrier();
    let store = app.store();
    let raw = |t: &str| {
        app.block_on(store.count_raw_items(app.project_id, t))
            .expect("count_raw_items")
    };
    assert!(
        raw("transaction") >= 3,
        "python/node/rust transactions kept: {}",
        raw("transaction")
    );
    assert!(raw("span") >= 1, "span v2 container kept");
    assert!(raw("feedback") >= 2, "both node feedback items kept");
    // Sessions become release-health rollups (tests/it/releases.rs), not raw rows.
    assert_eq!(
        raw("session") + raw("sessions"),
        0,
        "sessions are rolled up"
    );
    let outcomes = app
        .block_on(store.outcome_totals(app.project_id))
        .expect("outcome_totals");
    let before_send: i64 = outcomes
        .iter()
        .filter(|o| o.reason == "before_send")
        .map(|o| o.quantity)
        .sum();
    assert_eq!(
        before_send, 2,
        "python-client-report discarded 2 events in before_send: {outcomes:#?}"
    );
}
