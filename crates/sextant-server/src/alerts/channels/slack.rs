//! Slack incoming webhooks: a Block Kit message with a fallback `text` for notifications.
//!
//! All user text is escaped (`&`, `<`, `>` as entities) everywhere, plain-text blocks
//! included, so that `<!channel>` or `<http://evil|x>` in an issue title stays text; and
//! every text is cut to Block Kit's limits, since Slack refuses the whole message when
//! one is exceeded.

use serde_json::{Value, json};

use super::text::{Measure, facts, fit_escaped, html_entities, item_lines, link, one_line};
use crate::alerts::notice::Notice;

const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const FIELDS_PER_SECTION: usize = 10;
const MAX_BLOCKS: usize = 50;
/// Buttons take URLs up to 3000 characters; inline links get less so that a section
/// with a title, a culprit and its link stays under `SECTION_MAX`.
const BUTTON_URL_MAX: usize = 3000;
const INLINE_URL_MAX: usize = 1000;

fn esc(text: &str, max: usize) -> String {
    fit_escaped(text, max, Measure::Chars, html_entities)
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

/// `<url|text>`, or the text alone when the URL is missing or too long to inline.
fn linked(url: Option<&str>, text: String) -> String {
    match url {
        Some(url) if url.len() <= INLINE_URL_MAX => format!("<{}|{text}>", esc(url, usize::MAX)),
        _ => text,
    }
}

pub(super) fn body(notice: &Notice) -> Value {
    let url = link(&notice.url);
    let title = one_line(&notice.title);
    let headline = format!("{}: {title}", notice.kind.label());

    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": esc(&headline, HEADER_MAX)},
    })];

    let mut lead = format!("*{}*", linked(url.as_deref(), esc(&title, 900)));
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        lead.push('\n');
        lead.push_str(&esc(&one_line(culprit), 900));
    }
    blocks.push(section(lead));

    if !notice.items.is_empty() {
        let lines = item_lines(
            &notice.items,
            MAX_BLOCKS,
            SECTION_MAX,
            Measure::Chars,
            |item| {
                let title = esc(&one_line(&item.title), 200);
                format!("• {}", linked(link(&item.url).as_deref(), title))
            },
            |more| format!("…and {more} more"),
        );
        blocks.push(section(lines.join("\n")));
    }

    let trailer = 1 + usize::from(url.is_some());
    let room = MAX_BLOCKS - blocks.len() - trailer;
    let fields: Vec<Value> = facts(notice)
        .into_iter()
        .map(|(name, value)| {
            let name = esc(&name, 100);
            mrkdwn(format!("*{name}*\n{}", esc(&value, FIELD_MAX - 110)))
        })
        .collect();
    for chunk in fields.chunks(FIELDS_PER_SECTION).take(room) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }

    let seconds = notice.timestamp_ms.div_euclid(1000);
    let at = crate::clock::format_ms(notice.timestamp_ms);
    blocks.push(json!({
        "type": "context",
        "elements": [mrkdwn(format!(
            "Sextant · <!date^{seconds}^{{date_short_pretty}} at {{time}}|{at}>"
        ))],
    }));
    if let Some(url) = url.filter(|u| u.len() <= BUTTON_URL_MAX) {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open"},
                "url": url,
            }],
        }));
    }

    let fallback = format!("{headline} ({})", one_line(&notice.project));
    json!({"text": esc(&fallback, SECTION_MAX), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, HOSTILE, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    const HOOK: &str = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";

    fn render(notice: &Notice) -> (String, Vec<(String, String)>, Value) {
        let config = ChannelConfig::Slack {
            webhook_url: HOOK.into(),
        };
        let request = config.render(notice).unwrap().expect("slack speaks");
        let body = fixtures::json(&request);
        (request.url, request.headers, body)
    }

    #[test]
    fn renders_block_kit() {
        let (url, headers, body) = render(&fixtures::notice());
        assert_eq!(url, HOOK);
        assert_eq!(
            headers,
            [("Content-Type".to_string(), "application/json".to_string())]
        );
        let field = |name: &str, value: &str| json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")});
        let expected = json!({
            "text": "New issue: TypeError: x is undefined (web)",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "New issue: TypeError: x is undefined"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*<{ISSUE_URL}|TypeError: x is undefined>*\ncheckout.js in pay")}},
                {"type": "section", "fields": [
                    field("project", "web"),
                    field("environment", "production"),
                    field("level", "error"),
                    field("release", "1.4.2"),
                    field("events", "37"),
                    field("users", "5"),
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "Sextant · <!date^1767261600^{date_short_pretty} at {time}|2026-01-01T10:00:00.123Z>"}]},
                {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": ISSUE_URL}]},
            ],
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let (_, _, body) = render(&fixtures::hostile());
        let escaped = "&lt;!channel&gt; &amp; &lt;http://evil.example|click&gt;";
        assert_eq!(
            body["blocks"][0]["text"]["text"],
            format!("New issue: {escaped}")
        );
        assert_eq!(
            body["blocks"][1]["text"]["text"],
            format!("*<{ISSUE_URL}|{escaped}>*\n{escaped}")
        );
        assert_eq!(
            body["blocks"][2]["text"]["text"],
            format!("• <{ISSUE_URL}|{escaped}>")
        );
        assert_eq!(
            body["blocks"][3]["fields"][1]["text"],
            format!("*environment*\n{escaped}")
        );
        for text in fixtures::strings(&body) {
            assert!(!text.contains("<!channel>"), "{text}");
            assert!(!text.contains("<http://evil"), "{text}");
            assert!(!text.contains(HOSTILE), "{text}");
        }
    }

    #[test]
    fn texts_are_cut_to_block_kit_limits() {
        let mut notice = fixtures::notice();
        notice.title = "&".repeat(5000);
        notice.fields = (0..1000)
            .map(|i| (format!("f{i}"), "v".repeat(2500)))
            .collect();
        let (_, _, body) = render(&notice);
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(header.chars().count() <= HEADER_MAX, "{header}");
        assert!(header.ends_with("&amp;…"), "{header}");
        for block in blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= SECTION_MAX);
            }
            for field in block["fields"].as_array().into_iter().flatten() {
                assert!(field["text"].as_str().unwrap().chars().count() <= FIELD_MAX);
            }
            if let Some(fields) = block["fields"].as_array() {
                assert!(fields.len() <= FIELDS_PER_SECTION);
            }
        }
        assert_eq!(blocks[MAX_BLOCKS - 1]["type"], "actions");
    }

    #[test]
    fn summaries_list_top_items_linked() {
        let (_, _, body) = render(&fixtures::summary(3));
        assert_eq!(
            body["blocks"][2]["text"]["text"],
            "• <https://sextant.example/issues/1/|Issue 1>\n\
             • <https://sextant.example/issues/2/|Issue 2>\n\
             • <https://sextant.example/issues/3/|Issue 3>"
        );
        let (_, _, body) = render(&fixtures::summary(500));
        let list = body["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(list.chars().count() <= SECTION_MAX);
        let shown = list.lines().filter(|l| l.starts_with("• ")).count();
        assert!(shown > 10, "{shown}");
        assert_eq!(
            list.lines().last(),
            Some(format!("…and {} more", 500 - shown).as_str())
        );
    }

    #[test]
    fn a_resolve_is_a_message_and_a_bad_link_is_no_button() {
        let (_, _, body) = render(&fixtures::resolved());
        assert_eq!(
            body["blocks"][0]["text"]["text"],
            "Resolved: TypeError: x is undefined"
        );
        let mut notice = fixtures::notice();
        notice.url = "javascript:alert(1)".into();
        let (_, _, body) = render(&notice);
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.iter().all(|b| b["type"] != "actions"));
        assert_eq!(
            blocks[1]["text"]["text"],
            "*TypeError: x is undefined*\ncheckout.js in pay"
        );
    }
}
