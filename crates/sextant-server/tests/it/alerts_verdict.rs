//! Deploy-verdict alerts: a post-deploy check that finds its release regressed sends a
//! signed `release_verdict` webhook to the integration a verdict rule names.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::alerting::{APP_ACTION, VERDICT, hmac_hex, integration, wait_for};
use crate::support::envelope::{envelope, new_id};
use crate::support::receiver::Receiver;

const MIN: i64 = 60_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// `sessions` spread over the 30 minutes from `from`, `crashed` of them crashed.
fn traffic(app: &TestApp, release: &str, from: i64, sessions: i64, crashed: i64) {
    let buckets: Vec<Value> = (0..30)
        .map(|m| {
            let share = |n: i64| n / 30 + i64::from(m < n % 30);
            let c = share(crashed);
            json!({"started": iso(from + m * MIN), "exited": share(sessions) - c, "crashed": c})
        })
        .collect();
    let item =
        json!({"attrs": {"release": release, "environment": "production"}, "aggregates": buckets});
    app.send_ok(envelope(
        &json!({"event_id": new_id()}),
        &[(
            json!({"type": "sessions"}),
            serde_json::to_vec(&item).unwrap(),
        )],
    ));
}

fn deploy(app: &TestApp, release: &str, finished: i64) {
    let (status, _) = app.post(
        "/api/0/organizations/default/releases/",
        json!({"version": release, "projects": ["default"]}),
    );
    assert_eq!(status, 201);
    let (status, _) = app.post(
        &format!("/api/0/organizations/default/releases/{release}/deploys/"),
        json!({"environment": "production", "dateFinished": iso(finished)}),
    );
    assert_eq!(status, 201);
}

#[test]
fn a_regressed_deploy_sends_a_release_verdict_alert() {
    let app = TestApp::spawn_with(|c| {
        c.outbound.allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.alerts.poll_ms = 50;
        c.releases.check_after_secs = vec![0];
        c.releases.poll_ms = 50;
    });
    let receiver = Receiver::start();
    let (_, secret, install) = integration(&app, &receiver, &[]);
    let (status, rule) = app.post(
        "/api/0/projects/default/default/rules/",
        json!({
            "name": "Bad deploys",
            "actionMatch": "all",
            "conditions": [{"id": VERDICT, "verdict": "any"}],
            "actions": [{"id": APP_ACTION, "sentryAppInstallationUuid": install}],
        }),
    );
    assert_eq!(status, 201, "{rule}");
    assert_eq!(
        rule["conditions"][0]["name"],
        "A post-deploy check finds the release regressed or recovered"
    );

    let now = now_ms();
    let live = now - 40 * MIN - now.rem_euclid(MIN);
    deploy(&app, "shop@1.0", live - 120 * MIN);
    traffic(&app, "shop@1.0", live - 30 * MIN, 2000, 20);
    traffic(&app, "shop@1.1", live, 2000, 60);
    app.drain();
    deploy(&app, "shop@1.1", live);

    let hook = wait_for(&receiver, "release_verdict webhook", |r| {
        r.header("sentry-hook-resource") == Some("release_verdict")
    });
    assert_eq!(
        hook.header("sentry-hook-signature"),
        Some(hmac_hex(&secret, &hook.body).as_str())
    );
    let body = hook.json();
    assert_eq!(body["action"], "regressed", "{body}");
    let verdict = &body["data"]["release_verdict"];
    assert_eq!(verdict["release"], "shop@1.1");
    assert_eq!(verdict["environment"], "production");
    assert_eq!(verdict["report"]["baseline"], "shop@1.0", "{verdict}");
    assert!(verdict["deployId"].is_string(), "{verdict}");
    assert!(
        verdict["web_url"]
            .as_str()
            .unwrap()
            .ends_with("/releases/shop%401.1/"),
        "{verdict}"
    );
}
