//! Issue search and listing: every query form against seeded issues, sorting, cursor
//! pagination via the Link header, tag values, malformed queries and API token scopes.

use std::collections::HashSet;

use serde_json::{Value, json};
use sextant_storage::TokenScope;

use crate::support::envelope::{exception_event, frame, message_event};
use crate::support::event::issue_id;
use crate::support::{TestApp, encode};

struct Seeded {
    type_error: String,
    disk: String,
    value_error: String,
}

fn with(mut e: Value, level: &str, release: &str, env: &str, email: &str, browser: &str) -> Value {
    e["level"] = json!(level);
    e["release"] = json!(release);
    e["environment"] = json!(env);
    e["user"] = json!({"id": email.split('@').next().unwrap(), "email": email});
    e["tags"] = json!({"browser": browser});
    e
}

fn seed(app: &TestApp) -> Seeded {
    let stack = |f: &str| vec![frame("shop.cart", f, "do_it()", 3, true)];
    let type_error = issue_id(&app.ingest_event(with(
        exception_event("TypeError", "cart is None", stack("add_item")),
        "error",
        "app@1.0",
        "production",
        "ada@example.com",
        "firefox",
    )));
    let disk = issue_id(&app.ingest_event(with(
        message_event("Disk full on db-1"),
        "warning",
        "app@2.0",
        "staging",
        "bob@example.com",
        "chrome",
    )));
    let value_error = issue_id(&app.ingest_event(with(
        exception_event("ValueError", "bad quantity", stack("set_quantity")),
        "fatal",
        "app@2.0",
        "production",
        "cy@example.com",
        "chrome",
    )));
    let (status, body) = app.put(
        &format!("/api/0/organizations/default/issues/{value_error}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200, "{body}");
    Seeded {
        type_error,
        disk,
        value_error,
    }
}

fn ids(issues: &[Value]) -> HashSet<String> {
    issues
        .iter()
        .map(|i| i["id"].as_str().expect("issue id is a string").to_string())
        .collect()
}

fn set(items: &[&String]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_search_form_selects_the_right_issues() {
    let app = TestApp::spawn();
    let s = seed(&app);
    let (te, disk, ve) = (&s.type_error, &s.disk, &s.value_error);

    // No query at all: unresolved only.
    let (status, default) = app.get("/api/0/projects/default/default/issues/");
    assert_eq!(status, 200, "{default}");
    assert_eq!(
        ids(default.as_array().unwrap()),
        set(&[te, disk]),
        "default is is:unresolved"
    );

    let cases: &[(&str, HashSet<String>)] = &[
        ("is:unresolved", set(&[te, disk])),
        ("is:resolved", set(&[ve])),
        ("is:unresolved level:warning", set(&[disk])),
        ("is:resolved level:fatal", set(&[ve])),
        ("is:unresolved !level:warning", set(&[te])),
        ("is:unresolved release:app@2.0", set(&[disk])),
        ("is:resolved release:app@2.0", set(&[ve])),
        ("is:unresolved environment:staging", set(&[disk])),
        ("is:unresolved environment:production", set(&[te])),
        ("is:unresolved user.email:ada@example.com", set(&[te])),
        ("is:unresolved browser:chrome", set(&[disk])),
        ("is:unresolved !browser:chrome", set(&[te])),
        ("is:unresolved TypeError", set(&[te])),
        ("is:unresolved \"Disk full\"", set(&[disk])),
        ("is:unresolved \"full on\" level:warning", set(&[disk])),
        ("is:unresolved first-seen:-24h", set(&[te, disk])),
        ("is:unresolved first-seen:+24h", set(&[])),
        ("is:unresolved nothing-matches-this-text", set(&[])),
    ];
    let mut failures = Vec::new();
    for (query, expected) in cases {
        let got = ids(&app.issues(query));
        if &got != expected {
            failures.push(format!("{query:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "search failures (te={te}, disk={disk}, ve={ve}):\n{}",
        failures.join("\n")
    );
}

#[test]
fn malformed_query_is_400_with_a_position() {
    let app = TestApp::spawn();
    for query in ["is:unresolved \"unterminated", "level:", "is:nonsense"] {
        let path = format!(
            "/api/0/projects/default/default/issues/?query={}",
            encode(query)
        );
        let (status, body) = app.get(&path);
        assert_eq!(status, 400, "{query:?}: {body}");
        let detail = body["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail: {body}"))
            .to_lowercase();
        if query.contains('"') || query == "level:" {
            assert!(
                ["position", "column", "offset", "at "]
                    .iter()
                    .any(|w| detail.contains(w))
                    && detail.chars().any(|c| c.is_ascii_digit()),
                "{query:?}: the detail should say where: {detail}"
            );
        }
    }
}

#[test]
fn sort_by_frequency_and_walk_pages_with_the_link_header() {
    let app = TestApp::spawn();
    // 30 issues; the last one gets three events so `sort=freq` puts it first.
    let mut all = HashSet::new();
    for i in 0..30 {
        let mut e = message_event(&format!("page item {i}"));
        e["fingerprint"] = json!([format!("page-{i}")]);
        all.insert(issue_id(&app.ingest_event(e)));
    }
    let mut hot = String::new();
    for _ in 0..2 {
        let mut e = message_event("page item 29");
        e["fingerprint"] = json!(["page-29"]);
        hot = issue_id(&app.ingest_event(e));
    }
    let freq = app.issues_sorted("freq");
    assert_eq!(freq[0]["id"], json!(hot), "sort=freq: most events first");

    let mut seen = Vec::new();
    let mut next =
        Some("/api/0/projects/default/default/issues/?query=is:unresolved&limit=10".to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        assert!(pages <= 10, "pagination does not terminate");
        let r = app.api("GET", &url, None);
        assert_eq!(r.status, 200, "{}", r.text());
        seen.extend(ids(r.json().as_array().unwrap()));
        let link = r
            .header("link")
            .unwrap_or_else(|| panic!("no Link header: {:?}", r.headers))
            .to_string();
        next = next_link(&link);
    }
    assert!(pages >= 2, "30 issues must not fit one page ({pages} page)");
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an issue appeared on two pages");
    assert_eq!(unique, all, "the walk must visit every issue once");
}

/// The `rel="next"` URL of a Sentry Link header, when `results="true"`.
fn next_link(header: &str) -> Option<String> {
    header.split(", <").find_map(|part| {
        let part = part.trim_start_matches('<');
        let (url, attrs) = part.split_once('>')?;
        (attrs.contains("rel=\"next\"") && attrs.contains("results=\"true\""))
            .then(|| url.to_string())
    })
}

#[test]
fn tag_values_are_counted_most_frequent_first() {
    let app = TestApp::spawn();
    let event = |browser: &str| {
        let mut e = exception_event(
            "TypeError",
            "x",
            vec![frame("shop.cart", "add_item", "do_it()", 3, true)],
        );
        e["tags"] = json!({"browser": browser});
        e
    };
    let id = issue_id(&app.ingest_event(event("firefox")));
    app.ingest_event(event("chrome"));
    app.ingest_event(event("firefox"));
    let (status, values) = app.get(&format!(
        "/api/0/organizations/default/issues/{id}/tags/browser/values/"
    ));
    assert_eq!(status, 200, "{values}");
    let list = values
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {values}"));
    let pairs: Vec<(String, i64)> = list
        .iter()
        .map(|v| {
            let count = v["count"]
                .as_i64()
                .or_else(|| v["count"].as_str().and_then(|c| c.parse().ok()));
            (
                v["value"].as_str().unwrap_or_default().to_string(),
                count.unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![("firefox".to_string(), 2), ("chrome".to_string(), 1)]
    );
}

#[test]
fn api_requires_a_token_with_the_right_scope() {
    let app = TestApp::spawn();
    let id = issue_id(&app.ingest_event(message_event("scoped")));
    let issue = format!("/api/0/organizations/default/issues/{id}/");

    assert_eq!(app.api_as("", "GET", &issue, None).status, 401, "no token");
    assert_eq!(
        app.api_as("Bearer sxt_not_a_real_token", "GET", &issue, None)
            .status,
        401,
        "unknown token"
    );
    assert_eq!(
        app.api_as(&format!("Token {}", app.token), "GET", &issue, None)
            .status,
        401,
        "wrong scheme"
    );

    let read = sextant_server::accounts::token::generate_token();
    let hash = sextant_server::accounts::token::hash_token(&read);
    app.block_on(
        app.store()
            .create_token(&hash, TokenScope::Read, "e2e read"),
    )
    .expect("read token");
    let read_auth = format!("Bearer {read}");
    assert_eq!(
        app.api_as(&read_auth, "GET", &issue, None).status,
        200,
        "read token can read"
    );
    let r = app.api_as(
        &read_auth,
        "PUT",
        &issue,
        Some(json!({"status": "resolved"})),
    );
    assert_eq!(r.status, 403, "read token cannot write: {}", r.text());
    assert!(r.json()["detail"].is_string());
    assert_eq!(
        app.issue(&id)["status"],
        json!("unresolved"),
        "the refused update changed nothing"
    );
}

impl TestApp {
    fn issues_sorted(&self, sort: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!(
            "/api/0/projects/default/default/issues/?query=is:unresolved&sort={sort}"
        ));
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().expect("array")
    }
}
