//! Discord webhooks: a short `content` line and one embed.
//!
//! `allowed_mentions: {"parse": []}` makes Discord ping no one, whatever the text says
//! (`@everyone`, `<@id>`); Markdown in user text is backslash-escaped so that a title
//! cannot turn into a masked link. Embeds have per-part limits and a 6000-character total
//! over title, description, fields and footer, all kept here.

use serde_json::{Value, json};

use super::text::{Measure, color, facts, fit, fit_escaped, item_lines, link, one_line};
use crate::alerts::notice::Notice;

const CONTENT_MAX: usize = 2000;
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
const MAX_FIELDS: usize = 25;
const EMBED_TOTAL_MAX: usize = 6000;
/// What the description keeps at least, however many fields there are.
const DESCRIPTION_MIN: usize = 1000;
const FOOTER: &str = "Sextant";

fn markdown(c: char) -> Option<&'static str> {
    Some(match c {
        '\\' => "\\\\",
        '*' => "\\*",
        '_' => "\\_",
        '~' => "\\~",
        '`' => "\\`",
        '|' => "\\|",
        '[' => "\\[",
        ']' => "\\]",
        '<' => "\\<",
        '>' => "\\>",
        '#' => "\\#",
        _ => return None,
    })
}

fn md(text: &str, max: usize) -> String {
    fit_escaped(&one_line(text), max, Measure::Chars, markdown)
}

fn count(text: &str) -> usize {
    text.chars().count()
}

pub(super) fn body(notice: &Notice) -> Value {
    let title = fit(&one_line(&notice.headline()), TITLE_MAX);

    let mut fields = Vec::new();
    let mut fields_total = 0;
    let fields_budget = EMBED_TOTAL_MAX - count(&title) - count(FOOTER) - DESCRIPTION_MIN;
    for (name, value) in facts(notice).into_iter().take(MAX_FIELDS) {
        let name = fit(&name, FIELD_NAME_MAX);
        let value = md(&value, FIELD_VALUE_MAX);
        let size = count(&name) + count(&value);
        if fields_total + size > fields_budget {
            break;
        }
        fields_total += size;
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }

    let description_max =
        DESCRIPTION_MAX.min(EMBED_TOTAL_MAX - count(&title) - count(FOOTER) - fields_total);
    let mut description = Vec::new();
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        description.push(md(culprit, 500));
    }
    if !notice.items.is_empty() {
        let used: usize = description.iter().map(|l| count(l) + 1).sum();
        description.extend(item_lines(
            &notice.items,
            MAX_FIELDS * 2,
            description_max.saturating_sub(used),
            Measure::Chars,
            |item| {
                let title = md(&item.title, 200);
                match link(&item.url) {
                    Some(url) => format!("• [{title}]({url})"),
                    None => format!("• {title}"),
                }
            },
            |more| format!("…and {more} more"),
        ));
    }

    let mut embed = json!({
        "title": title,
        "description": fit(&description.join("\n"), description_max),
        "color": color(notice),
        "fields": fields,
        "footer": {"text": FOOTER},
        "timestamp": crate::clock::format_ms(notice.timestamp_ms),
    });
    if let Some(url) = link(&notice.url) {
        embed["url"] = Value::String(url);
    }
    let content = format!(
        "**{}** in {}",
        notice.kind.label(),
        md(&notice.project, 200)
    );
    json!({
        "content": fit(&content, CONTENT_MAX),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    fn render(notice: &Notice) -> Value {
        let config = ChannelConfig::Discord {
            webhook_url: "https://discord.com/api/webhooks/1/tokensecret".into(),
        };
        let request = config.render(notice).unwrap().expect("discord speaks");
        assert_eq!(
            request.url,
            "https://discord.com/api/webhooks/1/tokensecret"
        );
        fixtures::json(&request)
    }

    #[test]
    fn renders_an_embed_that_pings_no_one() {
        let field = |n: &str, v: &str| json!({"name": n, "value": v, "inline": true});
        let expected = json!({
            "content": "**New issue** in web",
            "embeds": [{
                "title": "New issue: TypeError: x is undefined",
                "description": "checkout.js in pay",
                "url": ISSUE_URL,
                "color": 0xE0_1E_5A,
                "fields": [
                    field("project", "web"),
                    field("environment", "production"),
                    field("level", "error"),
                    field("release", "1.4.2"),
                    field("events", "37"),
                    field("users", "5"),
                ],
                "footer": {"text": "Sextant"},
                "timestamp": "2026-01-01T10:00:00.123Z",
            }],
            "allowed_mentions": {"parse": []},
        });
        assert_eq!(render(&fixtures::notice()), expected);
    }

    #[test]
    fn everyone_is_not_pinged_and_markdown_is_inert() {
        let mut notice = fixtures::hostile();
        notice.culprit = Some("@everyone [x](http://evil.example) *b*".into());
        let body = render(&notice);
        assert_eq!(body["allowed_mentions"], json!({"parse": []}));
        let embed = &body["embeds"][0];
        assert_eq!(
            embed["description"],
            "@everyone \\[x\\](http://evil.example) \\*b\\*\n\
             • [\\<!channel\\> & \\<http://evil.example\\|click\\>](https://sextant.example/organizations/acme/issues/42/)"
        );
        assert_eq!(
            embed["fields"][1]["value"],
            "\\<!channel\\> & \\<http://evil.example\\|click\\>"
        );
    }

    #[test]
    fn the_embed_stays_within_discord_limits() {
        let mut notice = fixtures::summary(2000);
        notice.title = "t".repeat(1000);
        notice.fields = (0..40)
            .map(|i| ("n".repeat(300 + i), "v".repeat(2000)))
            .collect();
        let body = render(&notice);
        let embed = &body["embeds"][0];
        let title = embed["title"].as_str().unwrap();
        assert_eq!(count(title), TITLE_MAX);
        let description = embed["description"].as_str().unwrap();
        assert!(count(description) <= DESCRIPTION_MAX);
        assert!(description.ends_with(" more"), "{description}");
        let fields = embed["fields"].as_array().unwrap();
        assert!(!fields.is_empty() && fields.len() <= MAX_FIELDS);
        let mut total = count(title) + count(description) + count(FOOTER);
        for field in fields {
            let name = field["name"].as_str().unwrap();
            let value = field["value"].as_str().unwrap();
            assert!(count(name) <= FIELD_NAME_MAX && count(value) <= FIELD_VALUE_MAX);
            total += count(name) + count(value);
        }
        assert!(total <= EMBED_TOTAL_MAX, "{total}");
    }

    #[test]
    fn a_resolve_is_green() {
        let body = render(&fixtures::resolved());
        assert_eq!(
            body["embeds"][0]["title"],
            "Resolved: TypeError: x is undefined"
        );
        assert_eq!(body["embeds"][0]["color"], 0x2E_B6_7D);
    }
}
