//! Google Chat space webhooks: a fallback `text` and one `cardsV2` card.
//!
//! Card text widgets render a subset of HTML, so user text there has `&`, `<`, `>` as
//! entities. The card header is plain text and holds only Sextant's own words (the kind
//! and the project slug). The fallback `text` uses Chat's message syntax, where
//! `<users/all>` mentions everyone and `<url|text>` links: a zero-width joiner after every
//! `<` leaves such syntax as text.

use serde_json::{Value, json};

use super::text::{Measure, facts, fit, fit_escaped, html_entities, item_lines, link, one_line};
use crate::alerts::notice::Notice;

const TEXT_MAX: usize = 1000;
const TITLE_MAX: usize = 500;
const FACT_NAME_MAX: usize = 100;
const FACT_VALUE_MAX: usize = 500;
const MAX_FACTS: usize = 25;
const MAX_ITEMS: usize = 25;
const ITEMS_MAX: usize = 8000;
const URL_MAX: usize = 2000;

fn html(text: &str, max: usize) -> String {
    fit_escaped(&one_line(text), max, Measure::Chars, html_entities)
}

fn chat_text(c: char) -> Option<&'static str> {
    match c {
        '<' => Some("<\u{200D}"),
        _ => None,
    }
}

/// `<a href="url">text</a>`, or the text alone without a usable URL.
fn anchor(url: Option<&str>, text: String) -> String {
    match url {
        Some(url) => format!("<a href=\"{}\">{text}</a>", html(url, usize::MAX)),
        None => text,
    }
}

pub(super) fn body(notice: &Notice) -> Value {
    let url = link(&notice.url).filter(|u| u.len() <= URL_MAX);
    let title = anchor(url.as_deref(), html(&notice.title, TITLE_MAX));
    let mut widgets = vec![json!({"textParagraph": {"text": format!("<b>{title}</b>")}})];
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        widgets.push(json!({"decoratedText": {"topLabel": "culprit", "text": html(culprit, FACT_VALUE_MAX)}}));
    }
    if !notice.items.is_empty() {
        let lines = item_lines(
            &notice.items,
            MAX_ITEMS,
            ITEMS_MAX,
            Measure::Chars,
            |item| {
                let item_url = link(&item.url).filter(|u| u.len() <= URL_MAX);
                format!("• {}", anchor(item_url.as_deref(), html(&item.title, 200)))
            },
            |more| format!("…and {more} more"),
        );
        widgets.push(json!({"textParagraph": {"text": lines.join("<br>")}}));
    }
    for (name, value) in facts(notice).into_iter().take(MAX_FACTS) {
        widgets.push(json!({"decoratedText": {
            "topLabel": html(&name, FACT_NAME_MAX),
            "text": html(&value, FACT_VALUE_MAX),
        }}));
    }
    if let Some(url) = &url {
        widgets.push(json!({"buttonList": {"buttons": [
            {"text": "Open", "onClick": {"openLink": {"url": url}}},
        ]}}));
    }

    let header = json!({
        "title": notice.kind.label(),
        "subtitle": fit(&one_line(&notice.project), 200),
    });
    let fallback = fit_escaped(
        &one_line(&notice.headline()),
        TEXT_MAX,
        Measure::Chars,
        chat_text,
    );
    json!({
        "text": fallback,
        "cardsV2": [{
            "cardId": "sextant-notice",
            "card": {"header": header, "sections": [{"widgets": widgets}]},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, HOSTILE, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    const HOOK: &str = "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=secret";

    fn render(notice: &Notice) -> Value {
        let config = ChannelConfig::GoogleChat {
            webhook_url: HOOK.into(),
        };
        let request = config.render(notice).unwrap().expect("google chat speaks");
        assert_eq!(request.url, HOOK);
        fixtures::json(&request)
    }

    #[test]
    fn renders_a_card() {
        let fact = |l: &str, t: &str| json!({"decoratedText": {"topLabel": l, "text": t}});
        let expected = json!({
            "text": "New issue: TypeError: x is undefined",
            "cardsV2": [{
                "cardId": "sextant-notice",
                "card": {
                    "header": {"title": "New issue", "subtitle": "web"},
                    "sections": [{"widgets": [
                        {"textParagraph": {"text": format!("<b><a href=\"{ISSUE_URL}\">TypeError: x is undefined</a></b>")}},
                        fact("culprit", "checkout.js in pay"),
                        fact("project", "web"),
                        fact("environment", "production"),
                        fact("level", "error"),
                        fact("release", "1.4.2"),
                        fact("events", "37"),
                        fact("users", "5"),
                        {"buttonList": {"buttons": [{"text": "Open", "onClick": {"openLink": {"url": ISSUE_URL}}}]}},
                    ]}],
                },
            }],
        });
        assert_eq!(render(&fixtures::notice()), expected);
    }

    #[test]
    fn hostile_text_is_escaped_in_widgets_and_defused_in_text() {
        let body = render(&fixtures::hostile());
        let escaped = "&lt;!channel&gt; &amp; &lt;http://evil.example|click&gt;";
        let widgets = &body["cardsV2"][0]["card"]["sections"][0]["widgets"];
        assert_eq!(
            widgets[0]["textParagraph"]["text"],
            format!("<b><a href=\"{ISSUE_URL}\">{escaped}</a></b>")
        );
        assert_eq!(widgets[1]["decoratedText"]["text"], escaped);
        assert_eq!(
            widgets[2]["textParagraph"]["text"],
            format!("• <a href=\"{ISSUE_URL}\">{escaped}</a>")
        );
        assert_eq!(
            body["text"],
            "New issue: <\u{200D}!channel> & <\u{200D}http://evil.example|click>"
        );
        for text in fixtures::strings(&body) {
            assert!(!text.contains("<!channel>"), "{text}");
            assert!(!text.contains("<http://evil"), "{text}");
            assert!(!text.contains(HOSTILE), "{text}");
        }
    }

    #[test]
    fn summaries_join_items_and_hrefs_are_escaped() {
        let mut notice = fixtures::summary(30);
        notice.items[0].url = "https://sextant.example/issues/1/?a=1&b=2".into();
        let body = render(&notice);
        let list = body["cardsV2"][0]["card"]["sections"][0]["widgets"][1]["textParagraph"]["text"]
            .as_str()
            .unwrap();
        let lines: Vec<&str> = list.split("<br>").collect();
        assert_eq!(lines.len(), MAX_ITEMS + 1);
        assert_eq!(
            lines[0],
            "• <a href=\"https://sextant.example/issues/1/?a=1&amp;b=2\">Issue 1</a>"
        );
        assert_eq!(lines[MAX_ITEMS], "…and 5 more");
    }
}
