//! Alerts end to end: rules and internal integrations created through Sentry's API, real
//! events in, and the webhooks a local receiver gets: signed `issue.created` from the
//! real Python SDK, frequency rules firing on the event past their threshold, the legacy
//! plugin payload, retries with one `Request-ID`, and the outbound policy.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::alerting::{
    APP_ACTION, FIRST_SEEN, FREQUENCY, SERVICE_ACTION, app, hmac_hex, integration, send_error,
    wait_for, within,
};
use crate::support::receiver::Receiver;
use crate::support::sdk::python_driver;

#[test]
fn real_sdk_error_sends_a_signed_issue_created_webhook() {
    let app = app();
    let receiver = Receiver::start();
    let (_, secret, install) = integration(&app, &receiver, &["issue"]);

    let run = python_driver(&app.dsn, "handled", &[]);
    run.assert_success();
    let hook = wait_for(&receiver, "issue.created webhook", |r| {
        r.header("sentry-hook-resource") == Some("issue")
    });

    assert_eq!(hook.method, "POST");
    assert_eq!(hook.path, "/hook");
    assert_eq!(hook.header("content-type"), Some("application/json"));
    assert_eq!(
        hook.header("sentry-hook-signature"),
        Some(hmac_hex(&secret, &hook.body).as_str()),
        "the signature is the HMAC of the exact body"
    );
    let request_id = hook.header("request-id").expect("Request-ID");
    assert_eq!(request_id.len(), 32);
    let sent_at: i64 = hook
        .header("sentry-hook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent_at > 1_700_000_000);
    let body = hook.json();
    assert_eq!(body["action"], "created");
    assert_eq!(body["installation"]["uuid"], install.as_str());
    assert_eq!(body["actor"]["type"], "application");
    let issue = &body["data"]["issue"];
    assert!(
        issue["title"].as_str().unwrap().starts_with("TypeError"),
        "{issue}"
    );
    assert_eq!(issue["project"]["slug"], "default");
    assert_eq!(issue["status"], "unresolved");
    assert!(
        issue["web_url"]
            .as_str()
            .unwrap()
            .starts_with(&app.base_url)
    );

    // Resolving it tells the integration too.
    let (status, _) = app.put(
        &format!(
            "/api/0/organizations/default/issues/{}/",
            issue["id"].as_str().unwrap()
        ),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200);
    let resolved = wait_for(&receiver, "issue.resolved webhook", |r| {
        r.json()["action"] == "resolved"
    });
    assert_eq!(resolved.json()["data"]["issue"]["status"], "resolved");
}

#[test]
fn a_frequency_rule_fires_on_the_event_past_its_threshold() {
    let app = app();
    let receiver = Receiver::start();
    let (_, secret, install) = integration(&app, &receiver, &[]);
    let (status, rule) = app.post(
        "/api/0/projects/default/default/rules/",
        json!({
            "name": "More than 3 in an hour",
            "actionMatch": "all",
            "filterMatch": "all",
            "frequency": 5,
            "conditions": [{"id": FREQUENCY, "value": 3, "interval": "1h"}],
            "filters": [],
            "actions": [{"id": APP_ACTION, "sentryAppInstallationUuid": install, "settings": []}],
        }),
    );
    assert_eq!(status, 201, "{rule}");
    assert_eq!(
        rule["conditions"][0]["name"],
        "The issue is seen more than 3 times in 1h"
    );

    for _ in 0..3 {
        send_error(&app, "cart is empty");
    }
    app.drain();
    // Every signal of those three events has been evaluated, and none fired.
    within("signals evaluated", || {
        (app.block_on(app.store().signals_pending()).unwrap() == 0).then_some(())
    });
    assert!(
        receiver.received().is_empty(),
        "three events are not more than three"
    );

    let fourth = send_error(&app, "cart is empty");
    let alert = wait_for(&receiver, "event_alert webhook", |r| {
        r.header("sentry-hook-resource") == Some("event_alert")
    });
    assert_eq!(
        alert.header("sentry-hook-signature"),
        Some(hmac_hex(&secret, &alert.body).as_str())
    );
    let body = alert.json();
    assert_eq!(body["action"], "triggered");
    assert_eq!(body["data"]["triggered_rule"], "More than 3 in an hour");
    assert_eq!(body["data"]["event"]["event_id"], fourth.as_str());

    // The rule acts at most once per issue per `frequency` minutes.
    send_error(&app, "cart is empty");
    app.drain();
    within("signals evaluated", || {
        (app.block_on(app.store().signals_pending()).unwrap() == 0).then_some(())
    });
    let alerts = receiver
        .received()
        .iter()
        .filter(|r| r.header("sentry-hook-resource") == Some("event_alert"))
        .count();
    assert_eq!(alerts, 1);
}

#[test]
fn the_legacy_webhooks_plugin_gets_its_unsigned_payload() {
    let app = app();
    let receiver = Receiver::start();
    let (status, plugin) = app.put(
        "/api/0/projects/default/default/plugins/webhooks/",
        json!({"urls": format!("{}/legacy\n", receiver.url)}),
    );
    assert_eq!(status, 200, "{plugin}");
    assert_eq!(plugin["enabled"], true);
    let (status, rule) = app.post(
        "/api/0/projects/default/default/rules/",
        json!({
            "name": "New issues to the plugin",
            "actionMatch": "any",
            "filterMatch": "all",
            "conditions": [{"id": FIRST_SEEN}],
            "actions": [{"id": SERVICE_ACTION, "service": "webhooks"}],
        }),
    );
    assert_eq!(status, 201, "{rule}");

    let event_id = send_error(&app, "no stock");
    let hook = wait_for(&receiver, "legacy webhook", |r| r.path == "/legacy");
    assert_eq!(hook.header("sentry-hook-signature"), None);
    let body = hook.json();
    assert_eq!(body["project_slug"], "default");
    assert_eq!(
        body["triggering_rules"],
        json!(["New issues to the plugin"])
    );
    assert_eq!(body["event"]["event_id"], event_id.as_str());
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with("?referrer=webhooks_plugin"),
        "{body}"
    );
}

#[test]
fn a_failing_receiver_gets_one_delivery_retried_with_one_request_id() {
    let app = app();
    let receiver = Receiver::start();
    receiver.answer(&[503, 503]);
    integration(&app, &receiver, &["issue"]);

    send_error(&app, "payment declined");
    let delivered = within("third attempt", || {
        let got = receiver.received();
        (got.len() >= 3).then_some(got)
    });
    let ids: Vec<&str> = delivered
        .iter()
        .map(|r| r.header("request-id").unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");

    let log = within("delivered state", || {
        let (_, list) = app.get("/api/0/organizations/default/alert-deliveries/");
        let first = list.as_array()?.first()?.clone();
        (first["state"] == "delivered").then_some(first)
    });
    assert_eq!(log["requestId"], ids[0]);
    let (status, detail) = app.get(&format!(
        "/api/0/organizations/default/alert-deliveries/{}/",
        log["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200);
    let statuses: Vec<Value> = detail["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect();
    assert_eq!(statuses, vec![json!(503), json!(503), json!(200)]);
    assert_eq!(
        receiver.received().len(),
        3,
        "nothing is sent after success"
    );
}

#[test]
fn a_private_address_is_refused_without_an_allow_list() {
    let app = TestApp::spawn_with(|c| c.alerts.poll_ms = 50);
    let receiver = Receiver::start();
    integration(&app, &receiver, &["issue"]);
    send_error(&app, "refused");
    let failed = within("failed delivery", || {
        let (_, list) = app.get("/api/0/organizations/default/alert-deliveries/?state=failed");
        list.as_array()?.first().cloned()
    });
    let (_, detail) = app.get(&format!(
        "/api/0/organizations/default/alert-deliveries/{}/",
        failed["id"].as_str().unwrap()
    ));
    let error = detail["attemptLog"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("refused"), "{detail}");
    assert!(receiver.received().is_empty(), "no connection was made");
}

#[test]
fn invalid_rules_get_a_400_naming_the_field() {
    let app = app();
    let base = json!({
        "name": "r",
        "actionMatch": "all",
        "filterMatch": "all",
        "frequency": 30,
        "conditions": [{"id": FIRST_SEEN}],
        "actions": [{"id": SERVICE_ACTION, "service": "webhooks"}],
    });
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("frequency", json!(4)), "frequency"),
        (with("frequency", json!(43201)), "frequency"),
        (
            with(
                "conditions",
                json!([{"id": "sentry.rules.conditions.nope"}]),
            ),
            "conditions",
        ),
        (
            with(
                "conditions",
                json!([{"id": FREQUENCY, "value": 1, "interval": "2m"}]),
            ),
            "conditions",
        ),
        (with("actions", json!([])), "actions"),
        (
            with(
                "actions",
                json!([{"id": APP_ACTION, "sentryAppInstallationUuid": "nope"}]),
            ),
            "actions",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post("/api/0/projects/default/default/rules/", body.clone());
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(answer.get(field).is_some(), "{body} → {answer}");
    }
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("actionMatch");
    let (status, answer) = app.post("/api/0/projects/default/default/rules/", missing);
    assert_eq!(status, 400);
    assert!(answer.get("actionMatch").is_some(), "{answer}");
    let (_, rules) = app.get("/api/0/projects/default/default/rules/");
    assert_eq!(rules, json!([]), "nothing was stored");
}
