//! Every channel kind, end to end: a new issue with a hostile title reaches each one in
//! its own wire format (escaped, with no mention injection), and resolving the issue
//! resolves the PagerDuty incident the alert opened.

use serde_json::{Value, json};

use crate::support::alerting::{CHANNEL_ACTION, FIRST_SEEN, app, wait_for, within};
use crate::support::envelope::{event_envelope, exception_event, frame};
use crate::support::receiver::{Received, Receiver};

const HOSTILE: &str = "<!channel> @everyone & <http://evil.example|click>";

#[test]
fn each_channel_gets_its_own_format_and_pagerduty_resolves() {
    let app = app();
    let receiver = Receiver::start();
    let r = &receiver.url;
    let configs = [
        json!({"kind": "slack", "webhook_url": format!("{r}/slack")}),
        json!({"kind": "discord", "webhook_url": format!("{r}/discord")}),
        json!({"kind": "msteams", "webhook_url": format!("{r}/teams")}),
        json!({"kind": "google_chat", "webhook_url": format!("{r}/gchat")}),
        json!({"kind": "mattermost", "webhook_url": format!("{r}/mattermost")}),
        json!({"kind": "telegram", "bot_token": "123:abc", "chat_id": "-100", "api_base": r}),
        json!({"kind": "ntfy", "base_url": r, "topic": "alerts", "token": "tk_secret"}),
        json!({"kind": "pagerduty", "routing_key": "R0UT1NG", "events_url": format!("{r}/pd")}),
    ];
    let mut actions = Vec::new();
    for config in &configs {
        let (status, channel) = app.post(
            "/api/0/organizations/default/alert-channels/",
            json!({"config": config}),
        );
        assert_eq!(status, 201, "{config} → {channel}");
        actions.push(json!({"id": CHANNEL_ACTION, "channel": channel["id"]}));
    }
    let (status, rule) = app.post(
        "/api/0/projects/default/default/rules/",
        json!({"name": "Everywhere", "actionMatch": "all", "conditions": [{"id": FIRST_SEEN}], "actions": actions}),
    );
    assert_eq!(status, 201, "{rule}");

    let event = exception_event(HOSTILE, "x", vec![frame("app", "f", "raise", 1, true)]);
    app.send_ok(event_envelope(event).1);
    let got = within("a message on every channel", || {
        let got = receiver.received();
        (got.len() >= configs.len()).then_some(got)
    });
    let at = |path: &str| -> &Received {
        got.iter()
            .find(|m| m.path == path)
            .unwrap_or_else(|| panic!("nothing at {path}: {got:#?}"))
    };
    for m in &got {
        assert!(m.header("request-id").is_some_and(|id| id.len() == 32));
        // Where `<…>` is markup (Slack's mentions and links, HTML), user text is escaped;
        // Teams, ntfy and PagerDuty show it as plain text, and Discord's mentions are off.
        let markup = ["/slack", "/mattermost", "/gchat", "/bot123:abc/sendMessage"];
        if markup.contains(&m.path.as_str()) {
            let body = String::from_utf8_lossy(&m.body);
            assert!(!body.contains("<!channel>"), "{}: {body}", m.path);
            assert!(!body.contains("<http://evil"), "{}: {body}", m.path);
        }
    }

    let slack = at("/slack").json();
    assert!(
        slack["text"].is_string() && slack["blocks"].is_array(),
        "{slack}"
    );
    let discord = at("/discord").json();
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]), "{discord}");
    assert!(discord["embeds"][0]["title"].is_string(), "{discord}");
    let teams = at("/teams").json();
    assert_eq!(teams["type"], "message");
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
    let gchat = at("/gchat").json();
    assert!(
        gchat["cardsV2"][0]["card"]["sections"].is_array(),
        "{gchat}"
    );
    let mattermost = at("/mattermost").json();
    assert!(mattermost["text"].is_string(), "{mattermost}");
    let telegram = at("/bot123:abc/sendMessage").json();
    assert_eq!(telegram["chat_id"], "-100");
    assert_eq!(telegram["parse_mode"], "HTML");
    assert!(
        telegram["text"]
            .as_str()
            .unwrap()
            .contains("&lt;!channel&gt;"),
        "{telegram}"
    );
    let ntfy = at("/");
    assert_eq!(ntfy.header("authorization"), Some("Bearer tk_secret"));
    assert_eq!(ntfy.json()["topic"], "alerts");
    let pd = at("/pd").json();
    assert_eq!(pd["routing_key"], "R0UT1NG");
    assert_eq!(pd["event_action"], "trigger");
    let key = pd["dedup_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sextant-issue-"), "{pd}");

    // Resolving the issue resolves the incident, and tells the others.
    let issue_id = key.trim_start_matches("sextant-issue-");
    let (status, _) = app.put(
        &format!("/api/0/organizations/default/issues/{issue_id}/"),
        json!({"status": "resolved"}),
    );
    assert_eq!(status, 200);
    let resolve: Value = wait_for(&receiver, "PagerDuty resolve", |m| {
        m.path == "/pd" && m.json()["event_action"] == "resolve"
    })
    .json();
    assert_eq!(resolve["dedup_key"], key.as_str());
    assert_eq!(resolve["routing_key"], "R0UT1NG");
    within("a resolve on every channel", || {
        (receiver.received().len() >= 2 * configs.len()).then_some(())
    });
}
