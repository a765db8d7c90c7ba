//! Microsoft Teams through a Workflows (Power Automate) webhook: a message carrying one
//! Adaptive Card (schema 1.4). The retired Office 365 connectors' MessageCard is not sent.
//!
//! Card text is a Markdown subset with links as `[text](url)` and no escape character,
//! so a zero-width space goes before every `(` in user text: it looks the same and no
//! title can become a link. Teams refuses messages over 28 KB, hence the caps below.

use serde_json::{Value, json};

use super::text::{Measure, facts, fit_escaped, item_lines, link, one_line};
use crate::alerts::notice::{Notice, Severity};

const TITLE_MAX: usize = 500;
const TEXT_MAX: usize = 500;
const FACT_NAME_MAX: usize = 100;
const FACT_VALUE_MAX: usize = 300;
const MAX_FACTS: usize = 25;
const MAX_ITEMS: usize = 20;
const ITEMS_MAX: usize = 5000;
const URL_MAX: usize = 2000;

fn no_links(c: char) -> Option<&'static str> {
    match c {
        '(' => Some("\u{200B}("),
        _ => None,
    }
}

fn card_text(text: &str, max: usize) -> String {
    fit_escaped(&one_line(text), max, Measure::Chars, no_links)
}

fn text_block(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

pub(super) fn body(notice: &Notice) -> Value {
    let url = link(&notice.url).filter(|u| u.len() <= URL_MAX);
    let color = if notice.kind.resolves() {
        "Good"
    } else {
        match notice.severity() {
            Severity::Critical | Severity::Error => "Attention",
            Severity::Warning => "Warning",
            Severity::Info => "Default",
        }
    };
    let mut card_body = vec![json!({
        "type": "TextBlock",
        "text": card_text(&notice.headline(), TITLE_MAX),
        "weight": "Bolder",
        "size": "Medium",
        "color": color,
        "wrap": true,
    })];
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        let mut block = text_block(card_text(culprit, TEXT_MAX));
        block["isSubtle"] = Value::Bool(true);
        card_body.push(block);
    }
    if !notice.items.is_empty() {
        let lines = item_lines(
            &notice.items,
            MAX_ITEMS,
            ITEMS_MAX,
            Measure::Chars,
            |item| {
                let title = card_text(&item.title, 200);
                match link(&item.url).filter(|u| u.len() <= URL_MAX) {
                    Some(url) => format!("- [{title}]({url})"),
                    None => format!("- {title}"),
                }
            },
            |more| format!("- …and {more} more"),
        );
        card_body.push(text_block(lines.join("\n")));
    }
    let facts: Vec<Value> = facts(notice)
        .into_iter()
        .take(MAX_FACTS)
        .map(|(name, value)| {
            json!({
                "title": card_text(&name, FACT_NAME_MAX),
                "value": card_text(&value, FACT_VALUE_MAX),
            })
        })
        .collect();
    card_body.push(json!({"type": "FactSet", "facts": facts}));
    card_body.push(json!({
        "type": "TextBlock",
        "text": format!("Sextant · {}", crate::clock::format_ms(notice.timestamp_ms)),
        "isSubtle": true,
        "size": "Small",
        "wrap": true,
    }));

    let actions: Vec<Value> = url
        .into_iter()
        .map(|url| json!({"type": "Action.OpenUrl", "title": "Open", "url": url}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": card_body,
                "actions": actions,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    fn render(notice: &Notice) -> Value {
        let config = ChannelConfig::MsTeams {
            webhook_url: "https://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=secret".into(),
        };
        let request = config.render(notice).unwrap().expect("teams speaks");
        assert!(request.url.ends_with("sig=secret"));
        fixtures::json(&request)
    }

    fn card(body: &Value) -> &Value {
        &body["attachments"][0]["content"]
    }

    #[test]
    fn renders_an_adaptive_card() {
        let fact = |t: &str, v: &str| json!({"title": t, "value": v});
        let expected = json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "New issue: TypeError: x is undefined", "weight": "Bolder", "size": "Medium", "color": "Attention", "wrap": true},
                        {"type": "TextBlock", "text": "checkout.js in pay", "isSubtle": true, "wrap": true},
                        {"type": "FactSet", "facts": [
                            fact("project", "web"),
                            fact("environment", "production"),
                            fact("level", "error"),
                            fact("release", "1.4.2"),
                            fact("events", "37"),
                            fact("users", "5"),
                        ]},
                        {"type": "TextBlock", "text": "Sextant · 2026-01-01T10:00:00.123Z", "isSubtle": true, "size": "Small", "wrap": true},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": ISSUE_URL}],
                },
            }],
        });
        assert_eq!(render(&fixtures::notice()), expected);
    }

    #[test]
    fn user_text_cannot_become_a_link() {
        let mut notice = fixtures::summary(2);
        notice.title = "[click](http://evil.example)".into();
        notice.items[0].title = "[x](http://evil.example)".into();
        let body = render(&notice);
        let blocks = card(&body)["body"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"],
            "Summary: [click]\u{200B}(http://evil.example)"
        );
        assert_eq!(
            blocks[1]["text"],
            "- [[x]\u{200B}(http://evil.example)](https://sextant.example/issues/1/)\n\
             - [Issue 2](https://sextant.example/issues/2/)"
        );
        for text in fixtures::strings(&body) {
            assert!(!text.contains("](http://evil"), "{text}");
        }
    }

    #[test]
    fn resolves_are_good_and_long_lists_are_capped() {
        let body = render(&fixtures::resolved());
        assert_eq!(card(&body)["body"][0]["color"], "Good");
        assert_eq!(
            card(&body)["body"][0]["text"],
            "Resolved: TypeError: x is undefined"
        );

        let body = render(&fixtures::summary(100));
        let list = card(&body)["body"][1]["text"].as_str().unwrap();
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), MAX_ITEMS + 1);
        assert_eq!(lines[MAX_ITEMS], "- …and 80 more");
        // Far below Teams' 28 KB.
        assert!(serde_json::to_vec(&body).unwrap().len() < 28 * 1024);
    }
}
