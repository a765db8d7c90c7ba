//! The console's alert pages end to end: rules made from each template and stored as
//! Sentry rules, refused to plain members; channels whose secrets never show; a test
//! notice through the outbox into the delivery log, and its redelivery; and the issue
//! page naming the rule that fired for it.

use serde_json::{Value, json};
use sextant_storage::Role;

use crate::support::TestApp;
use crate::support::accounts::Browser;
use crate::support::envelope::{event_envelope, exception_event};
use crate::support::receiver::Receiver;
use crate::support::{WAIT, wait_until};

const PASSWORD: &str = "correct horse battery";
const RULES: &str = "/orgs/default/default/alerts/";
const CHANNELS: &str = "/orgs/default/alerts/channels";

/// A server that may reach the local receiver, retrying fast.
fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.outbound.allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.alerts.retry_secs = vec![0.05];
        c.alerts.poll_ms = 50;
    })
}

fn member(app: &TestApp, email: &str, role: Role) -> Browser {
    app.create_user(email, PASSWORD, Some(("default", role)));
    app.sign_in(email, PASSWORD)
}

fn within<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_until(WAIT, check).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

fn stored_rules(app: &TestApp) -> Vec<Value> {
    let (status, rules) = app.get("/api/0/projects/default/default/rules/");
    assert_eq!(status, 200, "{rules}");
    rules.as_array().unwrap().clone()
}

fn rule_named<'a>(rules: &'a [Value], name: &str) -> &'a Value {
    rules
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name:?} in {rules:?}"))
}

#[test]
fn rules_from_each_template_are_stored_as_sentry_rules_and_listed() {
    let app = app();
    let ada = member(&app, "ada@example.com", Role::Admin);
    let (status, channel) = app.post(
        "/api/0/organizations/default/alert-channels/",
        json!({"name": "Ops room", "config": {"kind": "discord", "webhook_url": "https://discord.example/api/webhooks/1/x"}}),
    );
    assert_eq!(status, 201, "{channel}");
    let channel_id = channel["id"].as_str().unwrap();

    let settings = app
        .page(&ada.cookie, "/orgs/default/default/settings")
        .text();
    assert!(
        settings.contains(&format!("href=\"{RULES}\"")),
        "{settings}"
    );
    let page = app.page(&ada.cookie, RULES).text();
    let channel_choice = format!("channel:{channel_id}");
    assert!(
        page.contains(&format!("value=\"{channel_choice}\"")),
        "{page}"
    );

    let create = "/orgs/default/default/alerts/rules";
    let forms: [&[(&str, &str)]; 3] = [
        &[("template", "new_issue"), ("action", "webhooks")],
        &[
            ("template", "regression"),
            ("name", "Came back"),
            ("action", &channel_choice),
            ("frequency", "1440"),
        ],
        &[
            ("template", "frequency"),
            ("value", "12"),
            ("interval", "1h"),
            ("action", "webhooks"),
            ("frequency", "60"),
        ],
    ];
    for form in forms {
        let r = app.browser_post(&ada, create, form);
        assert_eq!(r.status, 303, "{form:?}: {}", r.text());
        assert_eq!(r.header("location"), Some(RULES));
    }

    let rules = stored_rules(&app);
    assert_eq!(rules.len(), 3, "{rules:?}");
    let new_issue = rule_named(&rules, "New issue");
    assert_eq!(
        new_issue["conditions"][0]["id"],
        "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"
    );
    assert_eq!(
        new_issue["actions"][0]["id"],
        "sentry.rules.actions.notify_event_service.NotifyEventServiceAction"
    );
    assert_eq!(new_issue["actions"][0]["service"], "webhooks");
    assert_eq!(new_issue["frequency"], 30);
    assert_eq!(new_issue["createdBy"]["email"], "ada@example.com");
    let regression = rule_named(&rules, "Came back");
    assert_eq!(
        regression["conditions"][0]["id"],
        "sentry.rules.conditions.regression_event.RegressionEventCondition"
    );
    assert_eq!(
        regression["actions"][0]["channel"].to_string(),
        channel_id,
        "{regression}"
    );
    assert_eq!(regression["frequency"], 1440);
    let frequency = rule_named(&rules, "More than 12 events in 1h");
    let condition = &frequency["conditions"][0];
    assert_eq!(
        condition["id"],
        "sentry.rules.conditions.event_frequency.EventFrequencyCondition"
    );
    assert_eq!(
        (&condition["value"], &condition["interval"]),
        (&json!(12), &json!("1h"))
    );
    assert_eq!(frequency["frequency"], 60);

    let page = app.page(&ada.cookie, RULES).text();
    for needle in [
        "Came back",
        "A new issue is created",
        "The issue changes state from resolved to unresolved",
        "The issue is seen more than 12 times in 1h",
        "Send a notification via webhooks",
        "Send a notification to Ops room (Discord)",
        "every day per issue",
    ] {
        assert!(page.contains(needle), "missing {needle:?} in:\n{page}");
    }

    // The crash-free template makes a Sentry metric alert, listed on the same page.
    let crash_free = [
        ("template", "crash_free"),
        ("threshold", "99.5"),
        ("action", channel_choice.as_str()),
    ];
    let r = app.browser_post(&ada, create, &crash_free);
    assert_eq!(r.status, 303, "{}", r.text());
    let (_, metric) = app.get("/api/0/organizations/default/alert-rules/");
    let metric = &metric[0];
    assert_eq!(
        metric["name"], "Crash-free sessions below 99.5%",
        "{metric}"
    );
    assert_eq!(
        metric["aggregate"],
        "percentage(sessions_crashed, sessions) AS _crash_rate_alert_aggregate"
    );
    assert_eq!(metric["thresholdType"], 1);
    assert_eq!(metric["projects"], json!(["default"]));
    assert_eq!(metric["triggers"][0]["alertThreshold"], 99.5, "{metric}");
    let page = app.page(&ada.cookie, RULES).text();
    assert!(
        page.contains("critical: crash-free rate below 99.5"),
        "{page}"
    );
    let plugin_only = [
        ("template", "crash_free"),
        ("threshold", "99"),
        ("action", "webhooks"),
    ];
    assert_eq!(app.browser_post(&ada, create, &plugin_only).status, 400);

    // The rule's own validation judges the template's values; nothing is stored.
    let refused = app.browser_post(
        &ada,
        create,
        &[
            ("template", "frequency"),
            ("value", "-1"),
            ("interval", "1h"),
            ("action", "webhooks"),
        ],
    );
    assert_eq!(refused.status, 400);
    assert!(
        refused.text().contains("id=\"rule-error\""),
        "{}",
        refused.text()
    );

    // A member reads the rules but may not change them.
    let bob = member(&app, "bob@example.com", Role::Member);
    let read = app.page(&bob.cookie, RULES);
    assert_eq!(read.status, 200);
    assert!(read.text().contains("Came back"));
    assert!(
        !read.text().contains("template-new_issue"),
        "no forms for members"
    );
    let denied = app.browser_post(
        &bob,
        create,
        &[("template", "new_issue"), ("action", "webhooks")],
    );
    assert_eq!(denied.status, 403, "{}", denied.text());
    let id = rule_named(&stored_rules(&app), "Came back")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let delete = format!("/orgs/default/default/alerts/rules/{id}/delete");
    assert_eq!(app.browser_post(&bob, &delete, &[]).status, 403);
    assert_eq!(stored_rules(&app).len(), 3);

    assert_eq!(app.browser_post(&ada, &delete, &[]).status, 303);
    let left = stored_rules(&app);
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|r| r["name"] != "Came back"));
}

#[test]
fn channels_hide_secrets_and_a_test_notice_is_logged_and_redelivered() {
    let app = app();
    let receiver = Receiver::start();
    let ada = member(&app, "ada@example.com", Role::Owner);
    let org = app.page(&ada.cookie, "/orgs/default/settings").text();
    assert!(org.contains(&format!("href=\"{CHANNELS}\"")), "{org}");

    let hook = format!("{}/services/T0/B0/hooksecret", receiver.url);
    for form in [
        &[
            ("kind", "slack"),
            ("name", "Team chat"),
            ("webhook_url", hook.as_str()),
        ][..],
        &[
            ("kind", "telegram"),
            ("bot_token", "123456:tokensecret"),
            ("chat_id", "-100200"),
        ],
    ] {
        let r = app.browser_post(&ada, CHANNELS, form);
        assert_eq!(r.status, 303, "{}", r.text());
    }
    let bad = app.browser_post(
        &ada,
        CHANNELS,
        &[("kind", "slack"), ("webhook_url", "ftp://x")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("webhook_url"), "{}", bad.text());

    let page = app.page(&ada.cookie, CHANNELS).text();
    assert!(
        page.contains("Team chat") && page.contains("Slack"),
        "{page}"
    );
    assert!(
        page.contains("Telegram") && page.contains("-100200"),
        "{page}"
    );
    for secret in ["hooksecret", "tokensecret", "/services/T0"] {
        assert!(!page.contains(secret), "{secret:?} shown in:\n{page}");
    }

    // "Send test" queues a delivery and shows it; the worker sends it to the webhook.
    let (_, channels) = app.get("/api/0/organizations/default/alert-channels/");
    let slack_id = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "slack")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = app.browser_post(&ada, &format!("{CHANNELS}/{slack_id}/test"), &[]);
    assert_eq!(sent.status, 303, "{}", sent.text());
    let detail = sent.header("location").unwrap().to_string();
    assert!(
        detail.starts_with("/orgs/default/alerts/deliveries/"),
        "{detail}"
    );
    let posted = within("test notice", || receiver.received().into_iter().next());
    assert_eq!(posted.path, "/services/T0/B0/hooksecret");
    let shown = within("delivered state", || {
        let html = app.page(&ada.cookie, &detail).text();
        html.contains("id=\"delivery-state\">delivered<")
            .then_some(html)
    });
    assert!(shown.contains("class=\"attempt-status\">200<"), "{shown}");
    assert!(!shown.contains("hooksecret"), "{shown}");
    let log = app
        .page(
            &ada.cookie,
            "/orgs/default/alerts/deliveries?state=delivered",
        )
        .text();
    assert!(
        log.contains("test / test") && log.contains("Team chat (Slack)"),
        "{log}"
    );
    let failed = app
        .page(&ada.cookie, "/orgs/default/alerts/deliveries?state=failed")
        .text();
    assert!(failed.contains("id=\"no-deliveries\""), "{failed}");

    // Redelivery sends it again with the same Request-ID, logged as a second attempt.
    let again = app.browser_post(&ada, &format!("{detail}/redeliver"), &[]);
    assert_eq!(again.status, 303, "{}", again.text());
    let both = within("redelivery", || {
        let got = receiver.received();
        (got.len() == 2).then_some(got)
    });
    assert_eq!(both[0].header("request-id"), both[1].header("request-id"));
    within("second attempt logged", || {
        let html = app.page(&ada.cookie, &detail).text();
        (html.contains("id=\"delivery-attempts\">2<") && html.contains("delivered<")).then_some(())
    });

    let bob = member(&app, "bob@example.com", Role::Member);
    assert_eq!(app.page(&bob.cookie, &detail).status, 200);
    let redeliver = app.browser_post(&bob, &format!("{detail}/redeliver"), &[]);
    assert_eq!(redeliver.status, 403);
    let delete = format!("{CHANNELS}/{slack_id}/delete");
    assert_eq!(app.browser_post(&bob, &delete, &[]).status, 403);
    assert_eq!(app.browser_post(&ada, &delete, &[]).status, 303);
    assert!(!app.page(&ada.cookie, CHANNELS).text().contains("Team chat"));
}

#[test]
fn the_issue_page_names_the_rule_that_fired() {
    let app = app();
    let receiver = Receiver::start();
    let ada = member(&app, "ada@example.com", Role::Admin);
    let (status, plugin) = app.put(
        "/api/0/projects/default/default/plugins/webhooks/",
        json!({"urls": format!("{}/legacy", receiver.url)}),
    );
    assert_eq!(status, 200, "{plugin}");
    let r = app.browser_post(
        &ada,
        "/orgs/default/default/alerts/rules",
        &[
            ("template", "new_issue"),
            ("name", "Page the shop"),
            ("action", "webhooks"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());

    let (_, body) = event_envelope(exception_event("CheckoutError", "no stock", vec![]));
    app.send_ok(body);
    let hook = within("plugin webhook", || receiver.received().into_iter().next());
    let issue_id = hook.json()["id"].as_str().expect("issue id").to_string();

    let page = app.page(
        &ada.cookie,
        &format!("/orgs/default/default/issues/{issue_id}/"),
    );
    assert_eq!(page.status, 200);
    let html = page.text();
    let at = html.find("id=\"issue-alerts\"").expect("alerts panel");
    let panel = &html[at..][..html[at..].find("</section>").unwrap()];
    assert!(panel.contains("Page the shop"), "{panel}");
    assert!(panel.contains("just now"), "{panel}");

    let rules = app.page(&ada.cookie, RULES).text();
    let row = &rules[rules.find("Page the shop").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("just now") && !row.contains("never"), "{row}");
}
