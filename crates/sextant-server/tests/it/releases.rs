//! Releases and release health end to end: recorded SDK sessions become crash-free rates,
//! the real `sentry-cli` runs its release flow, suspect commits, regression display, and
//! the automatic post-deploy check.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::fixtures::{fixtures_dir, load_all};
use crate::support::envelope::{envelope, exception_event, now_rfc3339};
use crate::support::event::issue_id;
use crate::support::{TestApp, WAIT, wait_until};

const FIXTURE_RELEASE: &str = "fixture-app@1.2.3";

fn health_path(release: &str, env: &str) -> String {
    format!(
        "/api/0/projects/default/default/releases/{release}/health/?environment={env}&statsPeriod=1d"
    )
}

/// Waits until the release's health shows `total` sessions; returns the health.
fn wait_for_sessions(app: &TestApp, release: &str, env: &str, total: i64) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(WAIT, || {
        let (status, body) = app.get(&health_path(release, env));
        last = body;
        status == 200 && last["sessions"]["total"] == json!(total)
    });
    assert!(
        ok,
        "expected {total} sessions for {release}/{env}: {last:#}"
    );
    last
}

/// The session items of a recorded envelope, with their times moved to now (the
/// recordings age; validation drops sessions older than five days) and no `sent_at`.
fn fresh_session_items(body: &[u8]) -> Vec<(Value, Vec<u8>)> {
    let parsed = sextant_protocol::envelope::parse_envelope(body).expect("fixture parses");
    let now = time::OffsetDateTime::now_utc() - time::Duration::minutes(2);
    let started = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut out = Vec::new();
    for item in &parsed.items {
        let ty = item.headers.item_type.as_str();
        if ty != "session" && ty != "sessions" {
            continue;
        }
        let mut payload: Value = serde_json::from_slice(&item.payload).unwrap();
        if ty == "session" {
            payload["started"] = json!(started);
            payload["timestamp"] = json!(now_rfc3339());
        } else {
            for b in payload["aggregates"].as_array_mut().unwrap() {
                b["started"] = json!(started);
            }
        }
        out.push((json!({"type": ty}), serde_json::to_vec(&payload).unwrap()));
    }
    out
}

#[test]
fn recorded_sdk_sessions_give_crash_free_rates() {
    let app = TestApp::spawn();
    let mut sent = 0;
    for rec in load_all() {
        let items = fresh_session_items(&rec.body);
        if items.is_empty() {
            continue;
        }
        sent += 1;
        app.send_ok(envelope(&json!({}), &items));
    }
    assert_eq!(
        sent,
        7,
        "fixtures with session items under {:?}",
        fixtures_dir()
    );
    // Node init + crash, Python and Rust updates (Rust's second update repeats its
    // session), and two aggregates of 3: 10 sessions, 1 crashed; the errored ones are
    // 4 individual sessions plus 1 per aggregate, minus the crash shown apart.
    let h = wait_for_sessions(&app, FIXTURE_RELEASE, "staging", 10);
    assert_eq!(h["sessions"]["crashed"], 1, "{h:#}");
    assert_eq!(h["sessions"]["errored"], 5, "{h:#}");
    assert_eq!(h["sessions"]["healthy"], 4, "{h:#}");
    assert_eq!(h["crashFreeSessions"], json!(90.0), "{h:#}");
    // One distinct user (u-42), who crashed once.
    assert_eq!(h["users"]["total"], 1, "{h:#}");
    assert_eq!(h["crashFreeUsers"], json!(0.0), "{h:#}");
    assert_eq!(h["adoption"], json!(100.0), "{h:#}");

    // The release was created implicitly and is listed.
    let (status, list) = app.get("/api/0/projects/default/default/releases/");
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|r| r["version"] == FIXTURE_RELEASE),
        "{list:#}"
    );
}

fn sentry_cli() -> std::path::PathBuf {
    let bin = crate::support::sdk::python()
        .parent()
        .expect("venv bin")
        .join("sentry-cli");
    assert!(
        bin.exists(),
        "sentry-cli not installed at {}; run scripts/test.sh",
        bin.display()
    );
    bin
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "2026-01-01T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T10:00:00Z")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn real_sentry_cli_release_flow() {
    let app = TestApp::spawn();
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    git(dir, &["config", "user.email", "ada@example.com"]);
    git(dir, &["config", "user.name", "Ada"]);
    std::fs::create_dir(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/app.py"), "x = 1\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "Initial"]);
    std::fs::write(dir.join("src/discount.py"), "def apply(): pass\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-qm", "Add discounts"]);

    let cli = |args: &[&str]| {
        let out = Command::new(sentry_cli())
            .args(args)
            .current_dir(dir)
            .env("SENTRY_URL", &app.base_url)
            .env("SENTRY_AUTH_TOKEN", &app.token)
            .env("SENTRY_ORG", "default")
            .env("SENTRY_PROJECT", "default")
            .env_remove("SENTRY_DSN")
            .env("SENTRY_LOAD_DOTENV", "0")
            .output()
            .expect("run sentry-cli");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "sentry-cli {args:?} failed:\n{text}");
        text
    };
    assert!(cli(&["releases", "new", "shop@2.0.0"]).contains("Created release shop@2.0.0"));
    cli(&["releases", "set-commits", "shop@2.0.0", "--local"]);
    cli(&[
        "releases",
        "deploys",
        "shop@2.0.0",
        "new",
        "-e",
        "production",
    ]);
    cli(&["releases", "finalize", "shop@2.0.0"]);
    assert!(cli(&["releases", "list"]).contains("shop@2.0.0"));
    assert!(cli(&["releases", "info", "shop@2.0.0"]).contains("shop@2.0.0"));
    assert!(cli(&["releases", "deploys", "shop@2.0.0", "list"]).contains("production"));

    let (status, r) = app.get("/api/0/projects/default/default/releases/shop@2.0.0/");
    assert_eq!(status, 200, "{r}");
    assert!(r["dateReleased"].is_string(), "finalized: {r:#}");
    assert_eq!(r["commitCount"], 2, "{r:#}");
    assert_eq!(r["commits"][0]["message"], "Add discounts\n", "{r:#}");
    assert_eq!(r["commits"][0]["author"]["email"], "ada@example.com");
    assert_eq!(r["commits"][0]["files"][0]["filename"], "src/discount.py");
    assert_eq!(
        r["deploysByEnvironment"]["production"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The deploy scheduled the automatic checks.
    assert_eq!(r["gateChecks"].as_array().unwrap().len(), 2, "{r:#}");

    cli(&["releases", "new", "shop@2.0.1"]);
    cli(&["releases", "delete", "shop@2.0.1"]);
    let (status, _) = app.get("/api/0/projects/default/default/releases/shop@2.0.1/");
    assert_eq!(status, 404);
}

fn put_commits(app: &TestApp, release: &str, commits: Value) {
    let (status, body) = app.put(
        &format!("/api/0/organizations/default/releases/{release}/"),
        json!({"projects": ["default"], "commits": commits}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn suspect_commits_rank_the_commit_that_changed_the_crashing_file_first() {
    let app = TestApp::spawn();
    put_commits(
        &app,
        "shop@3.0",
        json!([
            {"id": "a1a1a1", "message": "Tidy README", "author_name": "Bob", "author_email": "bob@example.com",
             "patch_set": [{"path": "README.md", "type": "M"}]},
            {"id": "b2b2b2", "message": "Round discounts", "author_name": "Ada", "author_email": "ada@example.com",
             "patch_set": [{"path": "shop/discount.py", "type": "M"}]},
            {"id": "c3c3c3", "message": "New checkout page", "author_name": "Cy", "author_email": "cy@example.com",
             "patch_set": [{"path": "shop/checkout.py", "type": "M"}]},
        ]),
    );
    let mut frames = vec![
        json!({"filename": "shop/checkout.py", "abs_path": "/srv/app/shop/checkout.py", "function": "pay", "lineno": 10, "in_app": true}),
        json!({"filename": "shop/discount.py", "abs_path": "/srv/app/shop/discount.py", "function": "apply", "lineno": 3, "in_app": true}),
        json!({"filename": "lib/decimal.py", "abs_path": "/usr/lib/decimal.py", "function": "div", "in_app": false}),
    ];
    frames.truncate(3);
    let mut event = exception_event("ZeroDivisionError", "division by zero", frames);
    event["release"] = json!("shop@3.0");
    let stored = app.ingest_event(event);
    let event_id = stored["eventID"]
        .as_str()
        .or(stored["id"].as_str())
        .unwrap()
        .to_string();
    let issue_id = issue_id(&stored);

    let issue = app.issue(&issue_id);
    let suspects = issue["rootCause"]["suspectCommits"].as_array().unwrap();
    assert_eq!(suspects.len(), 2, "{issue:#}");
    assert_eq!(
        suspects[0]["commit"]["id"], "b2b2b2",
        "innermost in-app frame first"
    );
    assert_eq!(suspects[0]["file"], "shop/discount.py");
    assert_eq!(suspects[0]["author"]["email"], "ada@example.com");
    assert_eq!(suspects[0]["commit"]["message"], "Round discounts");
    assert_eq!(suspects[1]["commit"]["id"], "c3c3c3");

    let (status, c) = app.get(&format!(
        "/api/0/projects/default/default/events/{event_id}/committers/"
    ));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["committers"][0]["author"]["name"], "Ada", "{c:#}");
    assert_eq!(c["committers"][0]["commits"][0]["id"], "b2b2b2");
    assert_eq!(
        c["committers"][0]["commits"][0]["suspectCommitType"],
        "via stack trace"
    );
}

#[test]
fn regressions_say_where_they_were_resolved_and_where_they_came_back() {
    let app = TestApp::spawn();
    let event = |release: &str| {
        let mut e = exception_event("KeyError", "'sku'", vec![]);
        e["release"] = json!(release);
        e["environment"] = json!("production");
        e["fingerprint"] = json!(["regression-test"]);
        e
    };
    let first = app.ingest_event(event("1.0"));
    let issue_id = issue_id(&first);
    let (status, _) = app.put(
        &format!("/api/0/organizations/default/issues/{issue_id}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200);
    app.ingest_event(event("1.1"));
    let issue = app.issue(&issue_id);
    assert_eq!(issue["regressedInRelease"], "1.1", "{issue:#}");
    assert_eq!(issue["rootCause"]["regressedInRelease"], "1.1", "{issue:#}");
    assert_eq!(issue["rootCause"]["resolvedInRelease"], "1.0", "{issue:#}");
    assert_eq!(
        issue["rootCause"]["regressionText"],
        "Resolved in 1.0, regressed in 1.1"
    );
    assert!(
        issue["rootCause"]["firstSeenText"]
            .as_str()
            .unwrap()
            .starts_with("First seen in release 1.0"),
        "{issue:#}"
    );
}

#[test]
fn first_seen_names_the_deploy_it_followed() {
    let app = TestApp::spawn();
    let (status, _) = app.post(
        "/api/0/organizations/default/releases/",
        json!({"version": "web@5", "projects": ["default"]}),
    );
    assert_eq!(status, 201);
    let deployed_at = time::OffsetDateTime::now_utc() - time::Duration::minutes(7);
    let (status, d) = app.post(
        "/api/0/organizations/default/releases/web@5/deploys/",
        json!({"environment": "production", "dateFinished": deployed_at.format(&time::format_description::well_known::Rfc3339).unwrap()}),
    );
    assert_eq!(status, 201, "{d}");
    let mut e = exception_event("TypeError", "x is undefined", vec![]);
    e["release"] = json!("web@5");
    e["environment"] = json!("production");
    let stored = app.ingest_event(e);
    let issue = app.issue(&issue_id(&stored));
    let text = issue["rootCause"]["firstSeenText"].as_str().unwrap();
    assert!(
        text.starts_with("First seen in release web@5, deployed to production at ")
            && text.ends_with(" 7 minutes after the deploy"),
        "{text}"
    );
}

#[test]
fn a_registered_deploy_gets_an_automatic_check_on_the_release() {
    let app = TestApp::spawn_with(|c| {
        c.releases.check_after_secs = vec![0];
        c.releases.poll_ms = 50;
    });
    for version in ["api@1", "api@2"] {
        let (status, _) = app.post(
            "/api/0/organizations/default/releases/",
            json!({"version": version, "projects": ["default"]}),
        );
        assert_eq!(status, 201);
        let (status, _) = app.post(
            &format!("/api/0/organizations/default/releases/{version}/deploys/"),
            json!({"environment": "production"}),
        );
        assert_eq!(status, 201);
    }
    let mut last = Value::Null;
    let ran = wait_until(WAIT, || {
        let (_, body) = app.get("/api/0/projects/default/default/releases/api@2/");
        last = body;
        last["gateChecks"][0]["verdict"].is_string()
    });
    assert!(ran, "the check did not run: {last:#}");
    let check = &last["gateChecks"][0];
    assert_eq!(check["environment"], "production");
    // No traffic yet: the verdict is stored, with its reasons, as inconclusive.
    assert_eq!(check["verdict"], "inconclusive", "{check:#}");
    assert_eq!(check["report"]["baseline"], "api@1", "{check:#}");
    let (status, checks) = app.get("/api/0/projects/default/default/releases/api@2/checks/");
    assert_eq!(status, 200);
    assert_eq!(checks.as_array().unwrap().len(), 1);
}

#[test]
fn health_check_endpoint_and_gate_settings() {
    let app = TestApp::spawn();
    let (status, _) = app
        .get("/api/0/projects/default/default/releases/nope/health-check/?environment=production");
    assert_eq!(status, 404);
    let (status, s) = app.put(
        "/api/0/projects/default/default/release-gate/",
        json!({"minSessions": 50}),
    );
    assert_eq!(status, 200, "{s}");
    let (_, s) = app.get("/api/0/projects/default/default/release-gate/");
    assert_eq!(s["minSessions"], 50);
    assert_eq!(s["crashFreeDropPoints"], 0.5);
    let (status, _) = app.put(
        "/api/0/projects/default/default/release-gate/",
        json!({"bogus": 1}),
    );
    assert_eq!(status, 400);
}
