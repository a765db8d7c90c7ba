//! ntfy: a JSON publish to the server's root URL, naming the topic in the body.
//!
//! ntfy shows the message as plain text (no `markdown: true`), so user text needs no
//! escaping, only flattening to lines. Messages over 4096 bytes become attachments on
//! ntfy.sh, so the message is built to stay under that.

use serde_json::{Value, json};

use super::text::{Measure, facts, fit, fit_escaped, item_lines, link, no_escape, one_line};
use crate::alerts::notice::{Notice, NoticeKind, Severity};

const MESSAGE_MAX_BYTES: usize = 4096;
const TITLE_MAX: usize = 250;
/// Room kept for the facts below a long list of items.
const FACTS_ROOM: usize = 600;

/// ntfy's 1 (min) to 5 (max); 3 is its default.
pub(super) fn priority(notice: &Notice) -> u8 {
    if notice.kind == NoticeKind::Test {
        // A test should arrive the way an ordinary message does.
        return 3;
    }
    match notice.severity() {
        Severity::Critical => 5,
        Severity::Error => 4,
        Severity::Warning => 3,
        Severity::Info => 2,
    }
}

/// The first tag is an emoji shortcode, which ntfy shows in front of the title.
fn tags(notice: &Notice) -> Vec<String> {
    let emoji = if notice.kind.resolves() {
        "white_check_mark"
    } else if notice.kind == NoticeKind::Test {
        "bell"
    } else {
        match notice.severity() {
            Severity::Critical => "rotating_light",
            Severity::Error => "x",
            Severity::Warning => "warning",
            Severity::Info => "information_source",
        }
    };
    let mut tags = vec![emoji.to_string(), fit(&one_line(&notice.project), 100)];
    if let Some(environment) = notice.environment.as_deref().map(one_line)
        && !environment.is_empty()
    {
        tags.push(fit(&environment, 100));
    }
    tags
}

fn bytes(text: &str) -> usize {
    text.len() + 1
}

fn message(notice: &Notice) -> String {
    let mut lines = Vec::new();
    if let Some(culprit) = notice.culprit.as_deref().filter(|c| !c.trim().is_empty()) {
        lines.push(fit_escaped(
            &one_line(culprit),
            500,
            Measure::Bytes,
            no_escape,
        ));
    }
    let mut used: usize = lines.iter().map(|l| bytes(l)).sum();
    if !notice.items.is_empty() {
        lines.extend(item_lines(
            &notice.items,
            usize::MAX,
            MESSAGE_MAX_BYTES.saturating_sub(used + FACTS_ROOM),
            Measure::Bytes,
            |item| {
                let title = fit(&one_line(&item.title), 200);
                match link(&item.url) {
                    Some(url) => format!("• {title}: {url}"),
                    None => format!("• {title}"),
                }
            },
            |more| format!("…and {more} more"),
        ));
        used = lines.iter().map(|l| bytes(l)).sum();
    }
    for (name, value) in facts(notice) {
        let line = format!("{}: {}", fit(&name, 100), fit(&value, 200));
        if used + bytes(&line) > MESSAGE_MAX_BYTES {
            break;
        }
        used += bytes(&line);
        lines.push(line);
    }
    lines.join("\n")
}

pub(super) fn body(topic: &str, notice: &Notice) -> Value {
    let mut body = json!({
        "topic": topic,
        "title": fit(&one_line(&notice.headline()), TITLE_MAX),
        "message": message(notice),
        "priority": priority(notice),
        "tags": tags(notice),
    });
    if let Some(url) = link(&notice.url) {
        body["click"] = Value::String(url.clone());
        body["actions"] = json!([{"action": "view", "label": "Open", "url": url}]);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;

    fn config(base_url: Option<&str>, token: Option<&str>) -> ChannelConfig {
        ChannelConfig::Ntfy {
            base_url: base_url.map(str::to_string),
            topic: "sextant-alerts_x".into(),
            token: token.map(str::to_string),
        }
    }

    #[test]
    fn publishes_json_to_the_server_root() {
        let request = config(None, None)
            .render(&fixtures::notice())
            .unwrap()
            .expect("ntfy speaks");
        assert_eq!(request.url, "https://ntfy.sh/");
        assert_eq!(
            request.headers,
            [("Content-Type".to_string(), "application/json".to_string())]
        );
        assert_eq!(
            fixtures::json(&request),
            json!({
                "topic": "sextant-alerts_x",
                "title": "New issue: TypeError: x is undefined",
                "message": "checkout.js in pay\nproject: web\nenvironment: production\nlevel: error\nrelease: 1.4.2\nevents: 37\nusers: 5",
                "priority": 4,
                "tags": ["x", "web", "production"],
                "click": ISSUE_URL,
                "actions": [{"action": "view", "label": "Open", "url": ISSUE_URL}],
            })
        );
    }

    #[test]
    fn the_token_is_a_bearer_header_only_when_set() {
        let request = config(Some("https://ntfy.example.com/base/"), Some("tk_secret"))
            .render(&fixtures::notice())
            .unwrap()
            .unwrap();
        assert_eq!(request.url, "https://ntfy.example.com/base/");
        assert_eq!(
            request.headers,
            [
                ("Content-Type".to_string(), "application/json".to_string()),
                ("Authorization".to_string(), "Bearer tk_secret".to_string()),
            ]
        );
        let request = config(None, None)
            .render(&fixtures::notice())
            .unwrap()
            .unwrap();
        assert!(
            request
                .headers
                .iter()
                .all(|(name, _)| !name.eq_ignore_ascii_case("authorization"))
        );
    }

    #[test]
    fn priority_and_tags_follow_kind_and_level() {
        let mut notice = fixtures::notice();
        notice.level = Some("fatal".into());
        assert_eq!(priority(&notice), 5);
        assert_eq!(tags(&notice)[0], "rotating_light");
        notice.level = Some("warning".into());
        assert_eq!(priority(&notice), 3);
        notice.level = Some("info".into());
        assert_eq!(priority(&notice), 2);
        let resolved = fixtures::resolved();
        assert_eq!(priority(&resolved), 2);
        assert_eq!(tags(&resolved)[0], "white_check_mark");
        notice.kind = NoticeKind::Test;
        assert_eq!(priority(&notice), 3);
        notice.kind = NoticeKind::MetricCritical;
        assert_eq!(priority(&notice), 5);
    }

    #[test]
    fn plain_text_is_kept_and_bounded() {
        let body = body("t", &fixtures::hostile());
        assert_eq!(body["title"], format!("New issue: {}", fixtures::HOSTILE));
        let mut notice = fixtures::summary(1000);
        notice.items[0].title = "first\nline".into();
        let message = message(&notice);
        assert!(message.len() <= MESSAGE_MAX_BYTES, "{}", message.len());
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines[0], "• first line: https://sextant.example/issues/1/");
        assert!(lines.iter().any(|l| l.starts_with("…and ")));
        assert_eq!(lines.last(), Some(&"release: 1.4.2"));
    }
}
