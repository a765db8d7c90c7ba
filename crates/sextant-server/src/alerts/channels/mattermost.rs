//! Mattermost incoming webhooks. They take Slack's URL but render Markdown `text` and
//! Slack-style `attachments`, not Block Kit.
//!
//! Mattermost turns `<!channel>` into `@channel` and `<url|text>` into a link before it
//! renders Markdown, and `@channel`, `@all`, `@here` or `@someone` notify people. So user
//! text has `&`, `<`, `>` as entities (no Slack syntax can survive), Markdown's other
//! significant characters backslash-escaped, and a zero-width joiner after every `@` (it
//! reads the same and mentions no one).

use serde_json::{Value, json};

use super::text::{Measure, color, facts, fit_escaped, item_lines, link, one_line};
use crate::alerts::notice::Notice;

const TITLE_MAX: usize = 500;
const TEXT_MAX: usize = 4000;
const FIELD_VALUE_MAX: usize = 1000;
const MAX_FIELDS: usize = 25;
const MAX_ITEMS: usize = 25;

/// Markdown text in which user text is only text.
fn markdown(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '\\' => "\\\\",
        '`' => "\\`",
        '*' => "\\*",
        '_' => "\\_",
        '~' => "\\~",
        '[' => "\\[",
        ']' => "\\]",
        '#' => "\\#",
        '|' => "\\|",
        '@' => "@\u{200D}",
        _ => return None,
    })
}

/// Text Mattermost shows as is (the notification fallback, field names): mentions and
/// Slack's `<…>` syntax broken by a zero-width joiner, nothing else changed.
fn plain(c: char) -> Option<&'static str> {
    match c {
        '@' => Some("@\u{200D}"),
        '<' => Some("<\u{200D}"),
        _ => None,
    }
}

fn md(text: &str, max: usize) -> String {
    fit_escaped(&one_line(text), max, Measure::Chars, markdown)
}

pub(super) fn body(notice: &Notice) -> Value {
    let url = link(&notice.url);
    let label = notice.kind.label();

    let mut text = Vec::new();
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        text.push(md(culprit, 1000));
    }
    if !notice.items.is_empty() {
        if !text.is_empty() {
            text.push(String::new());
        }
        text.extend(item_lines(
            &notice.items,
            MAX_ITEMS,
            TEXT_MAX - 1100,
            Measure::Chars,
            |item| {
                let title = md(&item.title, 200);
                match link(&item.url) {
                    Some(url) => format!("- [{title}]({url})"),
                    None => format!("- {title}"),
                }
            },
            |more| format!("- …and {more} more"),
        ));
    }

    let fields: Vec<Value> = facts(notice)
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(name, value)| {
            json!({
                "short": true,
                "title": fit_escaped(&name, 100, Measure::Chars, plain),
                "value": md(&value, FIELD_VALUE_MAX),
            })
        })
        .collect();

    let mut attachment = json!({
        "fallback": fit_escaped(&one_line(&notice.headline()), TITLE_MAX, Measure::Chars, plain),
        "color": format!("#{:06X}", color(notice)),
        "title": md(&notice.title, TITLE_MAX),
        "text": text.join("\n"),
        "fields": fields,
    });
    if let Some(url) = url {
        attachment["title_link"] = Value::String(url);
    }
    json!({
        "text": format!("**{label}** in {}", md(&notice.project, 200)),
        "attachments": [attachment],
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    fn render(notice: &Notice) -> Value {
        let config = ChannelConfig::Mattermost {
            webhook_url: "https://chat.example/hooks/abc123secret".into(),
        };
        let request = config.render(notice).unwrap().expect("mattermost speaks");
        assert_eq!(request.url, "https://chat.example/hooks/abc123secret");
        fixtures::json(&request)
    }

    #[test]
    fn renders_text_and_an_attachment() {
        let field = |t: &str, v: &str| json!({"short": true, "title": t, "value": v});
        let expected = json!({
            "text": "**New issue** in web",
            "attachments": [{
                "fallback": "New issue: TypeError: x is undefined",
                "color": "#E01E5A",
                "title": "TypeError: x is undefined",
                "title_link": ISSUE_URL,
                "text": "checkout.js in pay",
                "fields": [
                    field("project", "web"),
                    field("environment", "production"),
                    field("level", "error"),
                    field("release", "1.4.2"),
                    field("events", "37"),
                    field("users", "5"),
                ],
            }],
        });
        assert_eq!(render(&fixtures::notice()), expected);
    }

    #[test]
    fn mentions_and_slack_syntax_are_defused() {
        let mut notice = fixtures::hostile();
        notice.title = "@channel @all @here *bold* [x](http://evil.example) <!here>".into();
        let body = render(&notice);
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["title"],
            "@\u{200D}channel @\u{200D}all @\u{200D}here \\*bold\\* \\[x\\](http://evil.example) &lt;!here&gt;"
        );
        assert_eq!(
            attachment["fallback"],
            "New issue: @\u{200D}channel @\u{200D}all @\u{200D}here *bold* [x](http://evil.example) <\u{200D}!here>"
        );
        let escaped = "&lt;!channel&gt; &amp; &lt;http://evil.example\\|click&gt;";
        assert_eq!(
            attachment["text"],
            format!("{escaped}\n\n- [{escaped}]({ISSUE_URL})")
        );
        assert_eq!(attachment["fields"][1]["value"], escaped);
        for text in fixtures::strings(&body) {
            for mention in [
                "@channel",
                "@all",
                "@here",
                "<!channel>",
                "<!here>",
                "<http",
            ] {
                assert!(!text.contains(mention), "{mention} in {text}");
            }
        }
    }

    #[test]
    fn summaries_list_items_as_links_and_resolves_are_green() {
        let body = render(&fixtures::summary(40));
        let text = body["attachments"][0]["text"].as_str().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), MAX_ITEMS + 1);
        assert_eq!(lines[0], "- [Issue 1](https://sextant.example/issues/1/)");
        assert_eq!(lines[MAX_ITEMS], "- …and 15 more");

        let body = render(&fixtures::resolved());
        assert_eq!(body["text"], "**Resolved** in web");
        assert_eq!(body["attachments"][0]["color"], "#2EB67D");
    }
}
