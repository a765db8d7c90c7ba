//! The storm guard: a burst of new issues reaches a chat channel as a handful of
//! messages, a summary per window after the first few, and every issue stays reachable
//! from them (each summary lists every message it took, and links the issue list).

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::alerting::{CHANNEL_ACTION, FIRST_SEEN, within};
use crate::support::envelope::{event_envelope, exception_event, frame};
use crate::support::receiver::Receiver;

const ISSUES: usize = 500;
const THRESHOLD: u32 = 5;
const WINDOW_SECS: f64 = 2.0;

/// Issue ids linked from a text (`…/issues/<id>/`).
fn linked_issues(text: &str) -> HashSet<String> {
    text.split("/issues/")
        .skip(1)
        .filter_map(|rest| {
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!id.is_empty() && rest[id.len()..].starts_with('/')).then_some(id)
        })
        .collect()
}

#[test]
fn a_burst_of_new_issues_becomes_a_few_messages_that_reach_every_issue() {
    let app = TestApp::spawn_with(|c| {
        c.outbound.allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.alerts.poll_ms = 50;
        c.alerts.burst_threshold = THRESHOLD;
        c.alerts.burst_window_secs = WINDOW_SECS;
        c.alerts.channel_per_minute = 1000;
    });
    let receiver = Receiver::start();
    let (status, channel) = app.post(
        "/api/0/organizations/default/alert-channels/",
        json!({"name": "ops", "config": {"kind": "slack", "webhook_url": format!("{}/slack/T0/B0/secret", receiver.url)}}),
    );
    assert_eq!(status, 201, "{channel}");
    assert!(
        !channel.to_string().contains("secret"),
        "the webhook URL's secret is never shown: {channel}"
    );
    let (status, rule) = app.post(
        "/api/0/projects/default/default/rules/",
        json!({
            "name": "New issues to ops",
            "actionMatch": "all",
            "conditions": [{"id": FIRST_SEEN}],
            "actions": [{"id": CHANNEL_ACTION, "channel": channel["id"]}],
        }),
    );
    assert_eq!(status, 201, "{rule}");

    let started = Instant::now();
    for i in 0..ISSUES {
        let event = exception_event(
            &format!("Storm{i}Error"),
            "boom",
            vec![frame("shop.storm", &format!("step{i}"), "raise", 1, true)],
        );
        app.send_ok(event_envelope(event).1);
    }
    app.drain();
    // Every notification is accounted for: sent alone, or collapsed into a summary
    // that was sent.
    let log = within("every notification settled", || {
        let (_, list) = app.get("/api/0/organizations/default/alert-deliveries/?state=held");
        if !list.as_array()?.is_empty() {
            return None;
        }
        let (_, pending) = app.get("/api/0/organizations/default/alert-deliveries/?state=pending");
        pending.as_array()?.is_empty().then_some(())?;
        let all = all_deliveries(&app);
        let settled = all.iter().filter(|d| d["resource"] != "summary").count();
        (settled == ISSUES).then_some(all)
    });
    let elapsed = started.elapsed().as_secs_f64();

    let messages = receiver.received();
    let windows = (elapsed / WINDOW_SECS).ceil() as usize + 1;
    assert!(
        messages.len() <= THRESHOLD as usize + windows,
        "{} messages for {ISSUES} issues in {elapsed:.1} s",
        messages.len()
    );
    let summaries: Vec<&Value> = log.iter().filter(|d| d["resource"] == "summary").collect();
    assert!(!summaries.is_empty());

    let mut reachable: HashSet<String> = HashSet::new();
    for m in &messages {
        reachable.extend(linked_issues(&String::from_utf8_lossy(&m.body)));
    }
    for summary in &summaries {
        let (_, detail) = app.get(&format!(
            "/api/0/organizations/default/alert-deliveries/{}/",
            summary["id"].as_str().unwrap()
        ));
        assert_eq!(detail["state"], "delivered", "{detail}");
        let payload = &detail["payload"];
        assert!(
            payload["title"].as_str().unwrap().contains("new issues in"),
            "{payload}"
        );
        for item in payload["items"].as_array().unwrap() {
            reachable.extend(linked_issues(item["url"].as_str().unwrap()));
        }
    }
    let (_, issues) = app.get("/api/0/projects/default/default/issues/?limit=100&query=");
    assert!(!issues.as_array().unwrap().is_empty());
    assert_eq!(
        reachable.len(),
        ISSUES,
        "every issue is linked from a message"
    );
}

fn all_deliveries(app: &TestApp) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = app.get(&format!(
            "/api/0/organizations/default/alert-deliveries/{cursor}"
        ));
        let page = page.as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else {
            return out;
        };
        cursor = format!("?cursor={}", last["id"].as_str().unwrap());
        let full = page.len() == 100;
        out.extend(page);
        if !full {
            return out;
        }
    }
}
