//! Telegram Bot API `sendMessage` with `parse_mode: "HTML"`.
//!
//! Telegram refuses a message whose `&`, `<` or `>` are not part of a tag or an entity, so
//! user text is escaped, and links are `<a href>` with an escaped URL. The text is at most
//! 4096 UTF-16 code units: it is built line by line and stops before that, counting the
//! markup too (Telegram counts after parsing, so this errs on the short side).

use serde_json::{Value, json};

use super::text::{Measure, facts, fit_escaped, html_entities, item_lines, link, one_line};
use crate::alerts::notice::Notice;

const TEXT_MAX: usize = 4096;
/// Room kept for the facts below a long list of items.
const FACTS_ROOM: usize = 600;

fn html(text: &str, max: usize) -> String {
    fit_escaped(&one_line(text), max, Measure::Utf16, html_entities)
}

fn anchor(url: &str, text: String) -> String {
    match link(url) {
        Some(url) if url.len() <= 1000 => {
            format!("<a href=\"{}\">{text}</a>", html(&url, usize::MAX))
        }
        _ => text,
    }
}

fn units(text: &str) -> usize {
    Measure::Utf16.of(text) + 1
}

pub(super) fn text(notice: &Notice) -> String {
    let mut lines = vec![format!(
        "<b>{}</b>: {}",
        html(notice.kind.label(), 100),
        anchor(&notice.url, html(&notice.title, 1000))
    )];
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        lines.push(format!("<i>{}</i>", html(culprit, 500)));
    }
    let mut used: usize = lines.iter().map(|l| units(l)).sum();
    if !notice.items.is_empty() {
        let items = item_lines(
            &notice.items,
            usize::MAX,
            TEXT_MAX.saturating_sub(used + FACTS_ROOM + 1),
            Measure::Utf16,
            |item| format!("• {}", anchor(&item.url, html(&item.title, 200))),
            |more| format!("…and {more} more"),
        );
        lines.push(String::new());
        lines.extend(items);
        used = lines.iter().map(|l| units(l)).sum();
    }
    let mut first_fact = true;
    for (name, value) in facts(notice) {
        let line = format!("<b>{}</b>: {}", html(&name, 100), html(&value, 300));
        let cost = units(&line) + usize::from(first_fact);
        if used + cost > TEXT_MAX {
            break;
        }
        if first_fact {
            lines.push(String::new());
            first_fact = false;
        }
        used += cost;
        lines.push(line);
    }
    lines.join("\n")
}

pub(super) fn body(chat_id: &str, thread_id: Option<i64>, notice: &Notice) -> Value {
    let mut body = json!({
        "chat_id": chat_id,
        "text": text(notice),
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
    });
    if let Some(thread_id) = thread_id {
        body["message_thread_id"] = Value::from(thread_id);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    const TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";

    fn config(thread_id: Option<i64>, api_base: Option<&str>) -> ChannelConfig {
        ChannelConfig::Telegram {
            bot_token: TOKEN.into(),
            chat_id: "-1001234567890".into(),
            thread_id,
            api_base: api_base.map(str::to_string),
        }
    }

    #[test]
    fn sends_html_to_the_bots_send_message() {
        let request = config(None, None)
            .render(&fixtures::notice())
            .unwrap()
            .expect("telegram speaks");
        assert_eq!(
            request.url,
            format!("https://api.telegram.org/bot{TOKEN}/sendMessage")
        );
        let expected_text = format!(
            "<b>New issue</b>: <a href=\"{ISSUE_URL}\">TypeError: x is undefined</a>\n\
             <i>checkout.js in pay</i>\n\
             \n\
             <b>project</b>: web\n\
             <b>environment</b>: production\n\
             <b>level</b>: error\n\
             <b>release</b>: 1.4.2\n\
             <b>events</b>: 37\n\
             <b>users</b>: 5"
        );
        assert_eq!(
            fixtures::json(&request),
            json!({
                "chat_id": "-1001234567890",
                "text": expected_text,
                "parse_mode": "HTML",
                "disable_web_page_preview": true,
            })
        );
    }

    #[test]
    fn thread_and_api_base_are_used_when_set() {
        let request = config(Some(42), Some("http://bot-api.internal:8081/"))
            .render(&fixtures::notice())
            .unwrap()
            .unwrap();
        assert_eq!(
            request.url,
            format!("http://bot-api.internal:8081/bot{TOKEN}/sendMessage")
        );
        assert_eq!(fixtures::json(&request)["message_thread_id"], 42);
    }

    #[test]
    fn hostile_text_is_escaped() {
        let body = body("1", None, &fixtures::hostile());
        let text = body["text"].as_str().unwrap();
        let escaped = "&lt;!channel&gt; &amp; &lt;http://evil.example|click&gt;";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("<b>New issue</b>: <a href=\"{ISSUE_URL}\">{escaped}</a>")
        );
        assert_eq!(lines[1], format!("<i>{escaped}</i>"));
        assert_eq!(lines[3], format!("• <a href=\"{ISSUE_URL}\">{escaped}</a>"));
        assert_eq!(lines[6], format!("<b>environment</b>: {escaped}"));
        assert!(!text.contains("<!channel>") && !text.contains("<http://evil"));
    }

    #[test]
    fn long_text_stays_within_4096_units() {
        let mut notice = fixtures::summary(1000);
        notice.title = "😀".repeat(3000);
        let text = text(&notice);
        let units = Measure::Utf16.of(&text);
        assert!(units <= TEXT_MAX, "{units}");
        assert!(units > 3000, "{units}");
        assert!(text.contains("more\n\n<b>project</b>: web"), "{text}");
        // The title was cut at 1000 units: 499 emoji and the ellipsis.
        assert!(text.contains(&format!("{}…</a>", "😀".repeat(499))));
    }
}
