//! Message normalization for grouping (§14.5): variable parts become placeholders so
//! `"user 42 failed"` and `"user 43 failed"` group together.

use std::sync::LazyLock;

use regex::{Captures, Regex};

const H: &str = "[0-9a-fA-F]";

/// One alternation so replacement is a single left-to-right pass; at equal positions the
/// earlier alternative wins, which gives the priority order of §14.5.
static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    let day = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
    let month = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
    let octet = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)";
    let parts = [
        ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+".to_owned()),
        (
            "url",
            r"\b(?:wss?|https?|ftp)://[^\s/$.?#][^\s]*".to_owned(),
        ),
        ("ip", format!(r"\b{octet}(?:\.{octet}){{3}}\b")),
        (
            "ip6",
            format!(
                r"\b(?:{H}{{1,4}}:){{7}}{H}{{1,4}}\b|(?:\b(?:{H}{{1,4}}:){{1,7}}|::?)(?::{H}{{1,4}}){{1,7}}\b|\b(?:{H}{{1,4}}:){{1,7}}:"
            ),
        ),
        (
            "uuid",
            format!(r"\b{H}{{8}}-{H}{{4}}-{H}{{4}}-{H}{{4}}-{H}{{12}}\b"),
        ),
        ("sha1", format!(r"\b{H}{{40}}\b")),
        ("md5", format!(r"\b{H}{{32}}\b")),
        (
            "date",
            format!(
                r"\b\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}}\b)?)?|\b{day},\s+\d{{1,2}}\s+{month}\s+\d{{4}}\s+\d{{2}}:\d{{2}}:\d{{2}}(?:\s+(?:[+-]\d{{4}}|GMT|UTC))?|\b{day}\s+{month}\s+\d{{1,2}}\s+\d{{2}}:\d{{2}}:\d{{2}}(?:\s+\d{{4}})?"
            ),
        ),
        ("hex", format!(r"\b0[xX]{H}+\b")),
        ("float", r"-?\b\d+\.\d+".to_owned()),
        ("int", r"-?\b\d+\b".to_owned()),
    ];
    let joined = parts
        .iter()
        .map(|(name, re)| format!("(?P<{name}>{re})"))
        .collect::<Vec<_>>()
        .join("|");
    Regex::new(&joined).expect("message normalization regex")
});

const NAMES: [(&str, &str); 11] = [
    ("email", "<email>"),
    ("url", "<url>"),
    ("ip", "<ip>"),
    ("ip6", "<ip>"),
    ("uuid", "<uuid>"),
    ("sha1", "<sha1>"),
    ("md5", "<md5>"),
    ("date", "<date>"),
    ("hex", "<hex>"),
    ("float", "<float>"),
    ("int", "<int>"),
];

/// Normalizes a message or exception value for grouping.
pub fn normalize_message(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut head: Vec<&str> = lines.by_ref().take(2).collect();
    let cut = lines.next().is_some();
    let mut text = head.join("\n");
    if cut {
        text.push_str("...");
    }
    head.clear();
    PATTERN
        .replace_all(&text, |caps: &Captures<'_>| {
            let whole = &caps[0];
            for (name, placeholder) in NAMES {
                if caps.name(name).is_some() {
                    // Colon-separated words like `Bad::Add` are not addresses.
                    if name == "ip6" && !whole.bytes().any(|b| b.is_ascii_digit()) {
                        return whole.to_owned();
                    }
                    return placeholder.to_owned();
                }
            }
            whole.to_owned()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            normalize_message("Disk usage above 90% on db-1"),
            "Disk usage above <int>% on db<int>"
        );
        assert_eq!(
            normalize_message("User jane@example.com hit https://x.io/a?b=1 from 10.0.0.1"),
            "User <email> hit <url> from <ip>"
        );
        assert_eq!(
            normalize_message(
                "id 550e8400-e29b-41d4-a716-446655440000 and 65b5bc2f26e041c68bcfeef95be4e13f"
            ),
            "id <uuid> and <md5>"
        );
        assert_eq!(
            normalize_message("commit da39a3ee5e6b4b0d3255bfef95601890afd80709 at 0xdeadBEEF"),
            "commit <sha1> at <hex>"
        );
        assert_eq!(
            normalize_message(
                "took 1.25s at 2026-11-24T09:31:16.806158Z, Tue, 24 Nov 2026 09:31:16 +0000"
            ),
            "took <float>s at <date>, <date>"
        );
        assert_eq!(
            normalize_message("peer fe80::1ff:fe23:4567:890a down"),
            "peer <ip> down"
        );
        assert_eq!(
            normalize_message("Foo::Bad::Add failed"),
            "Foo::Bad::Add failed"
        );
        assert_eq!(
            normalize_message("abc123 stays, -5 goes"),
            "abc123 stays, <int> goes"
        );
    }

    #[test]
    fn keeps_two_lines() {
        assert_eq!(
            normalize_message("\n first \n\n second\nthird"),
            "first\nsecond..."
        );
        assert_eq!(normalize_message("only"), "only");
    }
}
