//! The console's release pages end to end: sessions, a deploy, commits, a new and a
//! regressed issue and an automatic gate verdict, read back as the releases list and the
//! release page HTML of a signed-in member; a member of another organization gets 404.

use serde_json::{Value, json};
use sextant_storage::Role;

use crate::support::envelope::{envelope, exception_event, new_id, now_rfc3339};
use crate::support::event::issue_id;
use crate::support::{TestApp, WAIT, wait_until};

const PASSWORD: &str = "correct horse battery";
const RELEASE: &str = "shop@1.0";

/// One finished session of `did`; crashed or cleanly exited.
fn session(did: &str, crashed: bool) -> (Value, Vec<u8>) {
    let started = (time::OffsetDateTime::now_utc() - time::Duration::minutes(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let payload = json!({
        "sid": new_id(),
        "did": did,
        "init": true,
        "started": started,
        "timestamp": now_rfc3339(),
        "status": if crashed { "crashed" } else { "exited" },
        "errors": i32::from(crashed),
        "attrs": {"release": RELEASE, "environment": "production"},
    });
    (
        json!({"type": "session"}),
        serde_json::to_vec(&payload).unwrap(),
    )
}

fn error_in(release: &str, fingerprint: &str, value: &str) -> Value {
    let mut e = exception_event("KeyError", value, vec![]);
    e["release"] = json!(release);
    e["environment"] = json!("production");
    e["fingerprint"] = json!([fingerprint]);
    e
}

#[test]
fn release_list_and_page_show_health_deploys_commits_issues_and_verdicts() {
    let app = TestApp::spawn_with(|c| {
        c.releases.check_after_secs = vec![0];
        c.releases.poll_ms = 50;
    });
    // An issue of the previous release, resolved, that comes back in this one.
    let old = app.ingest_event(error_in("shop@0.9", "comes-back", "'sku'"));
    let regressed_id = issue_id(&old);
    let (status, _) = app.put(
        &format!("/api/0/organizations/default/issues/{regressed_id}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200);

    let (status, body) = app.put(
        &format!("/api/0/organizations/default/releases/{RELEASE}/"),
        json!({"projects": ["default"], "commits": [
            {"id": "b2b2b2c3c3c3d4d4", "message": "Round discounts <script>alert(1)</script>",
             "author_name": "Ada", "author_email": "ada@example.com",
             "patch_set": [{"path": "shop/discount.py", "type": "M"}]},
        ]}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, d) = app.post(
        &format!("/api/0/organizations/default/releases/{RELEASE}/deploys/"),
        json!({"environment": "production"}),
    );
    assert_eq!(status, 201, "{d}");

    app.ingest_event(error_in(RELEASE, "comes-back", "'sku'"));
    let new = app.ingest_event(error_in(RELEASE, "brand-new", "'coupon-code'"));
    let new_id = issue_id(&new);

    // 4 sessions, 1 crashed (75 % crash-free); 2 users, 1 of them crashed (50 %).
    app.send_ok(envelope(
        &json!({}),
        &[
            session("u1", false),
            session("u1", false),
            session("u2", false),
            session("u2", true),
        ],
    ));
    let health = format!(
        "/api/0/projects/default/default/releases/{RELEASE}/health/?environment=production&statsPeriod=1d"
    );
    let mut last = Value::Null;
    let ok = wait_until(WAIT, || {
        last = app.get(&health).1;
        last["sessions"]["total"] == 4
    });
    assert!(ok, "sessions not counted: {last:#}");
    assert_eq!(last["crashFreeSessions"], json!(75.0), "{last:#}");
    assert_eq!(last["crashFreeUsers"], json!(50.0), "{last:#}");
    let ran = wait_until(WAIT, || {
        last = app
            .get(&format!(
                "/api/0/projects/default/default/releases/{RELEASE}/"
            ))
            .1;
        last["gateChecks"][0]["verdict"].is_string()
    });
    assert!(ran, "the automatic check did not run: {last:#}");
    let verdict = last["gateChecks"][0]["verdict"]
        .as_str()
        .unwrap()
        .to_string();

    app.create_user("ada@example.com", PASSWORD, Some(("default", Role::Member)));
    let ada = app.sign_in("ada@example.com", PASSWORD);

    // The project's issue list links to its releases.
    let issues = app.page(&ada.cookie, "/orgs/default/default/").text();
    assert!(issues.contains("href=\"/orgs/default/default/releases/\""));

    let list = app.page(&ada.cookie, "/orgs/default/default/releases/");
    assert_eq!(list.status, 200, "{}", list.text());
    let list = list.text();
    let row = &list[list
        .find(&format!("data-version=\"{RELEASE}\""))
        .expect("release row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("href=\"/orgs/default/default/releases/shop@1.0/\""),
        "{row}"
    );
    assert!(row.contains("crash-free-sessions\">75%<"), "{row}");
    assert!(row.contains("crash-free-users\">50%<"), "{row}");
    assert!(row.contains("sessions\">4<"), "{row}");
    assert!(row.contains("adoption\">100%<"), "{row}");
    assert!(row.contains("new-issues\">1<"), "{row}");
    assert!(row.contains("production"), "{row}");
    assert!(row.contains(&format!("verdict-{verdict}")), "{row}");
    assert!(list.contains("data-version=\"shop@0.9\""), "{list}");

    let page = app.page(&ada.cookie, "/orgs/default/default/releases/shop@1.0/");
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    for needle in [
        "id=\"crash-free-sessions\">75%<",
        "id=\"crash-free-users\">50%<",
        "id=\"sessions\">4<",
        "id=\"adoption\">100%<",
        "<svg class=\"chart\"",
        "id=\"previous-release\">shop@0.9<",
        "<h3 class=\"env\">production</h3>",
        "b2b2b2c3c3c3",
        "Ada &#60;ada@example.com&#62;",
        "Round discounts &#60;script&#62;",
        "M shop/discount.py",
        &format!("verdict-{verdict}"),
        &format!("href=\"/orgs/default/default/issues/{new_id}/\""),
        &format!("href=\"/orgs/default/default/issues/{regressed_id}/\""),
    ] {
        assert!(html.contains(needle), "missing {needle:?} in:\n{html}");
    }
    assert!(!html.contains("<script>alert"), "unescaped commit message");
    let section = |id: &str| {
        let at = html.find(&format!("id=\"{id}\"")).expect(id);
        html[at..][..html[at..].find("</section>").unwrap()].to_string()
    };
    assert!(section("new-issues").contains(&format!("/issues/{new_id}/")));
    assert!(!section("new-issues").contains(&format!("/issues/{regressed_id}/")));
    assert!(section("regressed-issues").contains(&format!("/issues/{regressed_id}/")));

    let missing = app.page(&ada.cookie, "/orgs/default/default/releases/nope/");
    assert_eq!(missing.status, 404);

    // A member of another organization sees neither page.
    let acme = app
        .block_on(app.store().create_org("acme", "Acme"))
        .expect("org");
    app.block_on(app.store().create_project(acme.id, "shop", "Shop", None))
        .expect("project");
    app.create_user("eve@example.com", PASSWORD, Some(("acme", Role::Owner)));
    let eve = app.sign_in("eve@example.com", PASSWORD);
    for path in [
        "/orgs/default/default/releases/",
        "/orgs/default/default/releases/shop@1.0/",
    ] {
        let r = app.page(&eve.cookie, path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains("b2b2b2"));
    }
    assert_eq!(
        app.page(&eve.cookie, "/orgs/acme/shop/releases/").status,
        200
    );
}
