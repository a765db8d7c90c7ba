//! Alert email end to end, against a real SMTP server (aiosmtpd): a rule's email action
//! mails the organization's members who want alert email, new issues within the digest
//! window arrive as one mail per member (text and HTML, hostile titles escaped, each issue
//! linked), and the delivery log records the mail; the project's digest delays and the
//! user's choice are set through Sentry-shaped API endpoints and the account page.

use serde_json::{Value, json};
use sextant_storage::{Role, TokenScope};

use crate::support::TestApp;
use crate::support::alerting::within;
use crate::support::envelope::{event_envelope, exception_event, frame};
use crate::support::smtp::SmtpSink;

const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const EMAIL_ACTION: &str = "sentry.mail.actions.NotifyEmailAction";
const PROJECT: &str = "/api/0/projects/default/default/";
const OPTIONS: &str = "/api/0/users/me/notification-options/";
const HOSTILE: &str = "<img src=x onerror=alert(1)> & \"q\"";

/// A server mailing through `sink`, with digest delays scaled down so that Sentry's
/// minimum delay of 60 s becomes 3 s (and the largest, 3600 s, three minutes).
fn app(sink: &SmtpSink) -> TestApp {
    let port = sink.port;
    TestApp::spawn_with(move |c| {
        c.alerts.poll_ms = 50;
        c.alerts.retry_secs = vec![0.05];
        c.alerts.email.smtp_host = Some("127.0.0.1".into());
        c.alerts.email.smtp_port = Some(port);
        c.alerts.email.security = sextant_server::alerts::email::config::Security::None;
        c.alerts.email.from = "Sextant Alerts <alerts@sextant.test>".into();
        c.alerts.email.digest_scale = 0.05;
    })
}

/// An error whose type and function make an issue of its own.
fn send_error(app: &TestApp, ty: &str, value: &str) {
    let function = format!("handle_{}", ty.to_lowercase());
    let event = exception_event(
        ty,
        value,
        vec![frame("shop.cart", &function, "raise Error()", 12, true)],
    );
    app.send_ok(event_envelope(event).1);
}

fn email_rule(app: &TestApp) {
    let (status, rule) = app.post(
        &format!("{PROJECT}rules/"),
        json!({
            "name": "Mail new issues",
            "actionMatch": "all",
            "filterMatch": "all",
            "conditions": [{"id": FIRST_SEEN}],
            "actions": [{
                "id": EMAIL_ACTION,
                "targetType": "IssueOwners",
                "fallthroughType": "ActiveMembers",
            }],
        }),
    );
    assert_eq!(status, 201, "{rule}");
}

/// Every signal evaluated and every digest mailed.
fn settled(app: &TestApp) {
    within("signals and digests handled", || {
        let signals = app.block_on(app.store().signals_pending()).unwrap();
        let digests = app.block_on(app.store().digests_pending()).unwrap();
        (signals == 0 && digests == (0, 0)).then_some(())
    });
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn new_issues_in_the_digest_window_arrive_as_one_mail_per_member() {
    let sink = SmtpSink::start();
    let app = app(&sink);
    let member = Some(("default", Role::Member));
    let ann = app.create_user("ann@example.com", "long-password-1", member);
    app.create_user("dev@example.com", "long-password-2", member);
    let bob = app.create_user("bob@example.com", "long-password-3", member);
    app.create_user("out@example.com", "long-password-4", None);

    // Bob opts out with his own token; an instance token belongs to no user.
    let bob_token = bearer(&app.user_token(bob, TokenScope::Write));
    let r = app.api_as(&bob_token, "GET", OPTIONS, None);
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"alerts:email": "always"}))
    );
    let r = app.api_as(
        &bob_token,
        "PUT",
        OPTIONS,
        Some(json!({"alerts:email": "never"})),
    );
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"alerts:email": "never"}))
    );
    let r = app.api_as(
        &bob_token,
        "PUT",
        OPTIONS,
        Some(json!({"alerts:email": "often"})),
    );
    assert_eq!(r.status, 400);
    assert!(r.json().get("alerts:email").is_some(), "{}", r.text());
    let (status, _) = app.get(OPTIONS);
    assert_eq!(status, 400, "the admin token is no user's");
    let reader = bearer(&app.user_token(ann, TokenScope::Read));
    let r = app.api_as(
        &reader,
        "PUT",
        OPTIONS,
        Some(json!({"alerts:email": "never"})),
    );
    assert_eq!(r.status, 403, "changing settings needs the write scope");

    let (status, project) = app.put(
        PROJECT,
        json!({"digestsMinDelay": 60, "digestsMaxDelay": 300}),
    );
    assert_eq!(status, 200, "{project}");
    assert_eq!(
        (&project["digestsMinDelay"], &project["digestsMaxDelay"]),
        (&json!(60), &json!(300))
    );
    email_rule(&app);

    send_error(&app, "CartError", "cart is empty");
    send_error(&app, "XssError", HOSTILE);
    send_error(&app, "StockError", "no stock");
    let mails = within("two mails", || {
        let got = sink.received();
        (got.len() >= 2).then_some(got)
    });
    settled(&app);
    assert_eq!(sink.received().len(), 2, "one mail per member: {mails:?}");

    let mut recipients: Vec<String> = mails.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["ann@example.com", "dev@example.com"],
        "members who did not opt out, and no outsider"
    );
    let (_, issues) = app.get(&format!("{PROJECT}issues/"));
    let issues = issues.as_array().expect("issues").clone();
    assert_eq!(issues.len(), 3);
    for mail in &mails {
        assert_eq!(
            mail.header("subject"),
            Some("[Sextant] 3 new alerts in default")
        );
        assert_eq!(
            mail.header("from"),
            Some("Sextant Alerts <alerts@sextant.test>")
        );
        for issue in &issues {
            let id = issue["id"].as_str().unwrap();
            let url = format!("{}/orgs/default/default/issues/{id}/", app.base_url);
            assert_eq!(mail.text().matches(&url).count(), 1, "{}", mail.text());
            assert!(
                mail.html().contains(&format!("<a href=\"{url}\">")),
                "{}",
                mail.html()
            );
        }
        assert!(
            mail.text().contains(HOSTILE),
            "plain text as is: {}",
            mail.text()
        );
        assert!(!mail.html().contains("<img"), "{}", mail.html());
        assert!(
            mail.html()
                .contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"),
            "{}",
            mail.html()
        );
        assert!(mail.text().contains(&format!("{}/account", app.base_url)));
        assert!(
            mail.raw().contains("Content-Type: multipart/alternative"),
            "{}",
            mail.raw()
        );
    }

    // The delivery log has each mail, sent once, with the id the message carries. The
    // attempt is recorded once the SMTP server has answered, so possibly after the sink
    // wrote the mail.
    let sent = within("both mails recorded as delivered", || {
        let (_, log) = app.get("/api/0/organizations/default/alert-deliveries/");
        let sent: Vec<Value> = log
            .as_array()?
            .iter()
            .filter(|d| d["target"]["type"] == "email")
            .cloned()
            .collect();
        sent.iter()
            .all(|d| d["state"] == "delivered")
            .then_some(sent)
    });
    assert_eq!(sent.len(), 2, "{sent:?}");
    for delivery in &sent {
        let address = delivery["target"]["address"].as_str().unwrap();
        let mail = mails
            .iter()
            .find(|m| m.rcpt_tos == [address])
            .expect("a mail to the delivery's address");
        let request_id = delivery["requestId"].as_str().unwrap();
        assert_eq!(mail.header("x-sextant-request-id"), Some(request_id));
        assert!(
            mail.header("message-id")
                .is_some_and(|id| id.contains(request_id)),
            "{mail:?}"
        );
        let (_, detail) = app.get(&format!(
            "/api/0/organizations/default/alert-deliveries/{}/",
            delivery["id"].as_str().unwrap()
        ));
        assert_eq!(detail["attemptLog"][0]["statusCode"], 250, "{detail}");
    }
    assert!(
        app.metrics()
            .contains("sextant_alert_emails_skipped_total{reason=\"opted_out\"} 3"),
        "bob was left out of each of the three alerts"
    );
}

#[test]
fn a_single_alert_names_its_issue_and_the_console_turns_mail_off() {
    let sink = SmtpSink::start();
    let app = app(&sink);
    app.create_user(
        "ann@example.com",
        "long-password-1",
        Some(("default", Role::Owner)),
    );
    let browser = app.sign_in("ann@example.com", "long-password-1");
    let page = app.page(&browser.cookie, "/account").text();
    assert!(page.contains("id=\"alert-email\" checked"), "on by default");
    let (status, _) = app.put(
        PROJECT,
        json!({"digestsMinDelay": 60, "digestsMaxDelay": 60}),
    );
    assert_eq!(status, 200);
    email_rule(&app);

    send_error(&app, "TimeoutError", "upstream took too long");
    let mail = within("a mail", || sink.received().into_iter().next());
    assert_eq!(mail.rcpt_tos, ["ann@example.com"]);
    assert_eq!(
        mail.header("subject"),
        Some("[Sextant] New issue: TimeoutError: upstream took too long")
    );
    assert!(
        mail.text().contains("New issue: TimeoutError"),
        "{}",
        mail.text()
    );

    // An unchecked box is no field at all: the form turns alert email off.
    let r = app.browser_post(&browser, "/account/alert-email", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("id=\"alert-email\">"), "unchecked now");
    send_error(&app, "QuotaError", "over quota");
    app.drain();
    settled(&app);
    assert_eq!(sink.received().len(), 1, "no mail after opting out");
}

#[test]
fn digest_delays_are_validated_like_sentrys_and_no_smtp_host_skips_mail() {
    let app = TestApp::spawn_with(|c| c.alerts.poll_ms = 50);
    let (_, project) = app.get(PROJECT);
    assert_eq!(
        (&project["digestsMinDelay"], &project["digestsMaxDelay"]),
        (&json!(300), &json!(1800)),
        "Sentry's defaults"
    );
    let cases = [
        (json!({"digestsMinDelay": 59}), "digestsMinDelay"),
        (json!({"digestsMaxDelay": 3601}), "digestsMaxDelay"),
        (json!({"digestsMinDelay": "soon"}), "digestsMinDelay"),
        (
            json!({"digestsMinDelay": 600, "digestsMaxDelay": 120}),
            "digestsMaxDelay",
        ),
        (json!({"digestsMinDelay": 2000}), "digestsMaxDelay"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.put(PROJECT, body.clone());
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(answer[field].is_array(), "{body} → {answer}");
    }
    let (status, project) = app.put(PROJECT, json!({"name": "Renamed", "digestsMaxDelay": 600}));
    assert_eq!(status, 200, "{project}");
    assert_eq!(project["name"], "Renamed");
    assert_eq!(
        (&project["digestsMinDelay"], &project["digestsMaxDelay"]),
        (&json!(300), &json!(600))
    );
    let (_, again) = app.get(PROJECT);
    assert_eq!(again["digestsMaxDelay"], 600, "stored");

    app.create_user(
        "ann@example.com",
        "long-password-1",
        Some(("default", Role::Member)),
    );
    email_rule(&app);
    send_error(&app, "CartError", "cart is empty");
    app.drain();
    settled(&app);
    assert!(
        app.metrics()
            .contains("sextant_alert_emails_skipped_total{reason=\"no_smtp_host\"} 1"),
        "{}",
        app.metrics()
    );
    let (_, log) = app.get("/api/0/organizations/default/alert-deliveries/");
    assert_eq!(log, json!([]), "nothing to send without an SMTP server");
}
