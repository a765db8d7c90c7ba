//! Shaping a notice's text for chat services: user text kept to one line, escaped for the
//! service's markup and cut to its limits without splitting an escape, links that cannot
//! break out of the markup they sit in, and the facts and colours every card shows.

use crate::alerts::notice::{Notice, NoticeItem, Severity};

/// How a service counts the length of a text it limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    /// Unicode scalar values (Slack, Discord, Teams, Google Chat, Mattermost, PagerDuty).
    Chars,
    /// UTF-16 code units (Telegram).
    Utf16,
    /// UTF-8 bytes (ntfy).
    Bytes,
}

impl Measure {
    pub(super) fn of(self, text: &str) -> usize {
        match self {
            Measure::Chars => text.chars().count(),
            Measure::Utf16 => text.encode_utf16().count(),
            Measure::Bytes => text.len(),
        }
    }
}

/// What one character of user text becomes in a markup, or `None` to keep it as is.
pub(super) type Escape = fn(char) -> Option<&'static str>;

pub(super) fn no_escape(_: char) -> Option<&'static str> {
    None
}

/// Escapes `&`, `<` and `>` as HTML entities: Slack's mrkdwn, Telegram's and Google
/// Chat's HTML all need exactly these.
pub(super) fn html_entities(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// User text on one line: line breaks, tabs and other control characters become spaces,
/// so that no user text can start a heading, quote or list of its own.
pub(super) fn one_line(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` escaped character by character, then cut so that it measures at most `max`,
/// an ellipsis marking the cut. The cut never falls inside an escape.
pub(super) fn fit_escaped(text: &str, max: usize, measure: Measure, escape: Escape) -> String {
    let mut full = String::with_capacity(text.len());
    for c in text.chars() {
        match escape(c) {
            Some(escaped) => full.push_str(escaped),
            None => full.push(c),
        }
    }
    if measure.of(&full) <= max {
        return full;
    }
    let budget = max.saturating_sub(measure.of("…"));
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let piece = escape(c).unwrap_or_else(|| c.encode_utf8(&mut buf));
        let size = measure.of(piece);
        if used + size > budget {
            break;
        }
        out.push_str(piece);
        used += size;
    }
    if max >= measure.of("…") {
        out.push('…');
    }
    out
}

/// `text` cut to at most `max` characters, an ellipsis marking the cut.
pub(super) fn fit(text: &str, max: usize) -> String {
    fit_escaped(text, max, Measure::Chars, no_escape)
}

/// The notice's link made safe to put inside any chat markup (`<url|text>`,
/// `[text](url)`, `href="url"`), or `None` when it is not an http(s) URL, so that a
/// `javascript:` or malformed link is never rendered clickable.
pub(super) fn link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    let mut out = String::with_capacity(parsed.as_str().len());
    for c in parsed.as_str().chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '|' => out.push_str("%7C"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '`' => out.push_str("%60"),
            '\\' => out.push_str("%5C"),
            ' ' => out.push_str("%20"),
            _ => out.push(c),
        }
    }
    Some(out)
}

/// The facts a card lists, in order: where the notice comes from, then its own fields.
/// Names and values are one-line user text, not yet escaped.
pub(super) fn facts(notice: &Notice) -> Vec<(String, String)> {
    let mut out = vec![("project".to_string(), one_line(&notice.project))];
    let optional = [
        ("environment", &notice.environment),
        ("level", &notice.level),
        ("release", &notice.release),
    ];
    for (name, value) in optional {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            out.push((name.to_string(), one_line(value)));
        }
    }
    out.extend(
        notice
            .fields
            .iter()
            .map(|(name, value)| (one_line(name), one_line(value))),
    );
    // Some services refuse a field without a value.
    for (_, value) in &mut out {
        if value.is_empty() {
            *value = "–".into();
        }
    }
    out
}

/// The colour of a card's edge: green for a recovery, else by severity.
pub(super) fn color(notice: &Notice) -> u32 {
    if notice.kind.resolves() {
        return 0x2E_B6_7D;
    }
    match notice.severity() {
        Severity::Critical => 0xB0_00_20,
        Severity::Error => 0xE0_1E_5A,
        Severity::Warning => 0xEC_B2_2E,
        Severity::Info => 0x36_A3_F7,
    }
}

/// One line per item while they fit in `budget` (lines joined by newlines) and number at
/// most `max_items`; when some are left out, a last line from `more` says how many.
pub(super) fn item_lines(
    items: &[NoticeItem],
    max_items: usize,
    budget: usize,
    measure: Measure,
    line: impl Fn(&NoticeItem) -> String,
    more: impl Fn(usize) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = 0;
    for (index, item) in items.iter().enumerate() {
        let text = line(item);
        let cost = measure.of(&text) + 1;
        let left_after = items.len() - index - 1;
        let reserve = if left_after > 0 {
            measure.of(&more(left_after)) + 1
        } else {
            0
        };
        if out.len() >= max_items || used + cost + reserve > budget {
            break;
        }
        used += cost;
        out.push(text);
    }
    if out.len() < items.len() {
        out.push(more(items.len() - out.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_short_text_and_cuts_long_text_to_the_limit() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("exactly10!", 10), "exactly10!");
        assert_eq!(fit("eleven char", 10), "eleven ch…");
        assert_eq!(fit("eleven char", 10).chars().count(), 10);
    }

    #[test]
    fn a_cut_never_splits_an_escape() {
        let cut = fit_escaped("a&&&&", 10, Measure::Chars, html_entities);
        // "a&amp;&amp;…" would be 12; the second entity does not fit whole.
        assert_eq!(cut, "a&amp;…");
        assert_eq!(
            fit_escaped("a&b", 20, Measure::Chars, html_entities),
            "a&amp;b"
        );
    }

    #[test]
    fn measures_count_what_each_service_counts() {
        let emoji = "😀😀😀";
        assert_eq!(Measure::Chars.of(emoji), 3);
        assert_eq!(Measure::Utf16.of(emoji), 6);
        assert_eq!(Measure::Bytes.of(emoji), 12);
        let cut = fit_escaped(emoji, 5, Measure::Utf16, no_escape);
        assert_eq!(cut, "😀😀…");
        assert!(Measure::Utf16.of(&cut) <= 5);
    }

    #[test]
    fn one_line_flattens_breaks() {
        assert_eq!(one_line(" a\nb\r\n# c\t"), "a b  # c");
    }

    #[test]
    fn links_are_http_only_and_cannot_close_markup() {
        assert_eq!(link("javascript:alert(1)"), None);
        assert_eq!(link("not a url"), None);
        assert_eq!(link("ftp://example.com/x"), None);
        assert_eq!(
            link("https://s.example/a/(b)|c?q='x'").as_deref(),
            Some("https://s.example/a/%28b%29%7Cc?q=%27x%27")
        );
    }

    #[test]
    fn item_lines_stop_at_the_budget_and_count_the_rest() {
        let items: Vec<NoticeItem> = (0..10)
            .map(|i| NoticeItem {
                title: format!("item {i}"),
                url: String::new(),
            })
            .collect();
        let lines = item_lines(
            &items,
            3,
            1000,
            Measure::Chars,
            |i| i.title.clone(),
            |n| format!("+{n}"),
        );
        assert_eq!(lines, ["item 0", "item 1", "item 2", "+7"]);
        // 6 + 1 per line: two lines and the "+8" line fit in 17, three do not.
        let lines = item_lines(
            &items,
            10,
            17,
            Measure::Chars,
            |i| i.title.clone(),
            |n| format!("+{n}"),
        );
        assert_eq!(lines, ["item 0", "item 1", "+8"]);
        let all = item_lines(
            &items[..2],
            10,
            100,
            Measure::Chars,
            |i| i.title.clone(),
            |n| format!("+{n}"),
        );
        assert_eq!(all, ["item 0", "item 1"]);
    }
}
