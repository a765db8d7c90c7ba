//! Metric alerts end to end: a crash-free-sessions rule created through Sentry's
//! `alert-rules` API, real session envelopes that push the rate below its critical
//! threshold (a signed `metric_alert` `critical` webhook reaches the local receiver, and
//! the incident shows in the API) and then back past its resolve threshold (`resolved`);
//! the rule's round trip through the API; and refusals that name their field.

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::alerting::{app_with, hmac_hex, integration, wait_for};
use crate::support::envelope::{envelope, new_id, now_rfc3339};
use crate::support::receiver::{Received, Receiver};

const RULES: &str = "/api/0/organizations/default/alert-rules/";
const INCIDENTS: &str = "/api/0/organizations/default/incidents/";
const CRASH_FREE: &str = "percentage(sessions_crashed, sessions) AS _crash_rate_alert_aggregate";

/// A server that may reach the local receiver and evaluates metric rules every 200 ms.
fn app() -> TestApp {
    app_with(|c| c.alerts.metric_eval_ms = 200)
}

fn crash_free_rule(install: &str) -> Value {
    json!({
        "name": "Checkout crash-free sessions",
        "projects": ["default"],
        "dataset": "metrics",
        "aggregate": CRASH_FREE,
        "query": "",
        "environment": "production",
        "timeWindow": 60,
        "thresholdType": 1,
        "resolveThreshold": 95,
        "triggers": [{
            "label": "critical",
            "alertThreshold": 90,
            "actions": [{
                "type": "sentry_app",
                "targetType": "sentry_app",
                "sentryAppInstallationUuid": install,
            }],
        }],
    })
}

/// One envelope of ended sessions, as SDKs send them: `crashed` of them crashed, the
/// others exited cleanly.
fn sessions(app: &TestApp, exited: usize, crashed: usize) {
    let started = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let items: Vec<(Value, Vec<u8>)> = (0..exited + crashed)
        .map(|i| {
            let status = if i < crashed { "crashed" } else { "exited" };
            let session = json!({
                "sid": new_id(),
                "did": format!("user-{i}"),
                "init": true,
                "started": started,
                "timestamp": now_rfc3339(),
                "status": status,
                "errors": usize::from(status == "crashed"),
                "duration": 12.5,
                "attrs": {"release": "shop@2.4.0", "environment": "production"},
            });
            (
                json!({"type": "session"}),
                serde_json::to_vec(&session).unwrap(),
            )
        })
        .collect();
    app.send_ok(envelope(&json!({"sent_at": now_rfc3339()}), &items));
}

fn wait_for_hook(receiver: &Receiver, action: &str) -> Received {
    wait_for(receiver, &format!("the {action} webhook"), |r| {
        r.json()["action"] == action
    })
}

fn incidents(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("{INCIDENTS}{query}"));
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

#[test]
fn crash_free_rule_opens_and_resolves_an_incident_with_signed_webhooks() {
    let app = app();
    let receiver = Receiver::start();
    let (_, secret, install) = integration(&app, &receiver, &[]);
    let (status, rule) = app.post(RULES, crash_free_rule(&install));
    assert_eq!(status, 201, "{rule}");
    let rule_id = rule["id"].as_str().unwrap().to_string();
    assert_eq!(rule["aggregate"], CRASH_FREE);
    assert_eq!(rule["triggers"][0]["actions"][0]["type"], "sentry_app");
    assert!(
        rule["triggers"][0]["actions"][0]["sentryAppId"].is_i64(),
        "{rule}"
    );

    // 8 of 10 sessions crash-free: 80 %, below the critical 90 %.
    sessions(&app, 8, 2);
    let critical = wait_for_hook(&receiver, "critical");
    assert_eq!(critical.path, "/hook");
    assert_eq!(
        critical.header("sentry-hook-resource"),
        Some("metric_alert")
    );
    assert_eq!(
        critical.header("sentry-hook-signature"),
        Some(hmac_hex(&secret, &critical.body).as_str()),
        "signed with the integration's secret"
    );
    let body = critical.json();
    assert_eq!(body["installation"]["uuid"], install.as_str());
    assert_eq!(body["actor"]["type"], "application");
    let data = &body["data"];
    assert_eq!(
        data["description_title"],
        "Critical: Checkout crash-free sessions"
    );
    assert_eq!(
        data["description_text"],
        "80.0% sessions crash free rate in the last 60 minutes"
    );
    let incident = &data["metric_alert"];
    assert_eq!(incident["status"], 20);
    assert_eq!(incident["identifier"], "1");
    assert_eq!(incident["date_closed"], Value::Null);
    assert_eq!(incident["alert_rule"]["id"], rule_id.as_str());
    assert_eq!(incident["alert_rule"]["aggregate"], CRASH_FREE);
    assert!(
        data["web_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/alerts/rules/details/{rule_id}/?alert=1")),
        "{data}"
    );
    let open = incidents(&app, "?status=open");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["status"], 20);
    assert_eq!(open[0]["alertRule"]["id"], rule_id.as_str());

    // 40 healthy sessions more: 48 of 50, 96 %, past the resolve threshold of 95 %.
    sessions(&app, 40, 0);
    let resolved = wait_for_hook(&receiver, "resolved");
    assert_eq!(
        resolved.header("sentry-hook-signature"),
        Some(hmac_hex(&secret, &resolved.body).as_str())
    );
    assert_ne!(resolved.header("request-id"), critical.header("request-id"));
    let data = &resolved.json()["data"];
    assert_eq!(
        data["description_title"],
        "Resolved: Checkout crash-free sessions"
    );
    assert_eq!(data["metric_alert"]["status"], 2);
    assert_eq!(data["metric_alert"]["identifier"], "1");
    assert!(incidents(&app, "?status=open").is_empty());
    assert_eq!(incidents(&app, "?status=closed").len(), 1);

    let (status, detail) = app.get(&format!("{INCIDENTS}1/?expand=activities"));
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["status"], 2);
    assert!(detail["dateClosed"].is_string(), "{detail}");
    let changes: Vec<(Value, Value)> = detail["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == 2)
        .map(|a| (a["previousValue"].clone(), a["value"].clone()))
        .collect();
    assert_eq!(
        changes,
        [(json!("1"), json!("20")), (json!("20"), json!("2"))]
    );
    // Exactly one incident, one critical and one resolved webhook.
    let hooks: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| r.json()["action"].clone())
        .collect();
    assert_eq!(hooks, [json!("critical"), json!("resolved")]);
}

#[test]
fn metric_rules_round_trip_through_the_api() {
    let app = app();
    let receiver = Receiver::start();
    let (_, _, install) = integration(&app, &receiver, &[]);
    let mut body = crash_free_rule(&install);
    body["triggers"] = json!([
        {"label": "critical", "alertThreshold": 90, "actions": []},
        {"label": "warning", "alertThreshold": 93, "actions": [
            {"type": "email", "targetType": "team", "targetIdentifier": "7"},
        ]},
    ]);
    let (status, created) = app.post(RULES, body.clone());
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["timeWindow"], 60.0);
    assert_eq!(created["thresholdPeriod"], 1);
    assert_eq!(created["projects"], json!(["default"]));
    assert_eq!(created["eventTypes"], json!([]));
    assert_eq!(created["triggers"][1]["label"], "warning");
    assert_eq!(
        created["triggers"][1]["actions"][0]["targetIdentifier"],
        "7"
    );
    let critical_id = created["triggers"][0]["id"].clone();

    body["name"] = json!("Renamed");
    body["triggers"].as_array_mut().unwrap().truncate(1);
    let (status, updated) = app.put(&format!("{RULES}{id}/"), body);
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["triggers"].as_array().unwrap().len(), 1);
    assert_eq!(updated["triggers"][0]["id"], critical_id);

    let (status, listed) = app.get(RULES);
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (status, _) = app.delete(&format!("{RULES}{id}/"));
    assert_eq!(status, 204);
    let (status, _) = app.get(&format!("{RULES}{id}/"));
    assert_eq!(status, 404);
}

#[test]
fn refused_metric_rules_name_their_field() {
    let app = app();
    let receiver = Receiver::start();
    let (_, _, install) = integration(&app, &receiver, &[]);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = crash_free_rule(&install);
        change(&mut body);
        body
    };
    let count = |b: &mut Value| {
        b["aggregate"] = json!("count()");
        b["dataset"] = json!("events");
        b["thresholdType"] = json!(0);
        b["resolveThreshold"] = json!(null);
        b["timeWindow"] = json!(5);
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(&|b| b["timeWindow"] = json!(5)), "timeWindow", "30"),
        (
            with(&|b| b["aggregate"] = json!("p95(transaction.duration)")),
            "aggregate",
            "p95",
        ),
        (
            with(&|b| b["projects"] = json!(["nope"])),
            "projects",
            "nope",
        ),
        (with(&|b| b["projects"] = json!([])), "projects", "required"),
        (
            with(&|b| b["resolveThreshold"] = json!(80)),
            "resolveThreshold",
            "below",
        ),
        (
            with(&|b| {
                b["triggers"][0]["actions"][0]["sentryAppInstallationUuid"] = json!("missing")
            }),
            "triggers",
            "triggers[0].actions[0]",
        ),
        (
            with(&|b| b["triggers"][0]["actions"][0]["type"] = json!("slack")),
            "triggers",
            "sextant_channel",
        ),
        (
            with(&|b| {
                count(b);
                b["query"] = json!("is:unresolved");
            }),
            "query",
            "is:unresolved",
        ),
        (
            with(&|b| {
                count(b);
                b["query"] = json!("release:latest");
            }),
            "query",
            "release:latest",
        ),
    ];
    for (body, field, words) in cases {
        let (status, answer) = app.post(RULES, body);
        assert_eq!(status, 400, "{field}: {answer}");
        let message = answer[field][0].as_str().unwrap_or_default();
        assert!(message.contains(words), "{field}: {answer}");
    }
    let (_, listed) = app.get(RULES);
    assert_eq!(listed, json!([]), "nothing refused was stored");
    // An error count with an event query is accepted.
    let (status, rule) = app.post(
        RULES,
        with(&|b| {
            count(b);
            b["query"] = json!("level:error !release:shop@2.3.0");
            b["triggers"][0]["alertThreshold"] = json!(100);
        }),
    );
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["eventTypes"], json!(["default", "error"]));
    assert_eq!(rule["queryType"], 0);
    assert!(rule.get("eventQuery").is_none(), "{rule}");
}
