//! Table tests for the issue search language.

use sextant_storage::{Cmp, IssueFilter, IssueStatus};

use super::*;

/// 2026-01-15T00:00:00Z.
const NOW: Millis = 1_768_435_200_000;
const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;
/// 2026-01-01T00:00:00Z.
const JAN1: Millis = 1_767_225_600_000;

fn tag(key: &str, value: &str, negate: bool) -> IssueFilter {
    IssueFilter::Tag {
        key: key.into(),
        value: value.into(),
        negate,
    }
}

fn status(statuses: &[IssueStatus], negate: bool) -> IssueFilter {
    IssueFilter::Status {
        statuses: statuses.to_vec(),
        negate,
    }
}

#[test]
fn valid_queries() {
    use IssueStatus::*;
    let cases: Vec<(&str, Vec<IssueFilter>)> = vec![
        ("", vec![]),
        ("   ", vec![]),
        ("is:unresolved", vec![status(&[Unresolved], false)]),
        (
            "is:resolved",
            vec![status(&[Resolved, ResolvedInNextRelease], false)],
        ),
        ("is:ignored", vec![status(&[Ignored], false)]),
        ("is:archived", vec![status(&[Ignored], false)]),
        (
            "!is:resolved",
            vec![status(&[Resolved, ResolvedInNextRelease], true)],
        ),
        (
            "is:[unresolved, ignored]",
            vec![status(&[Unresolved, Ignored], false)],
        ),
        (
            "level:error",
            vec![IssueFilter::Level {
                value: "error".into(),
                negate: false,
            }],
        ),
        (
            "!level:info",
            vec![IssueFilter::Level {
                value: "info".into(),
                negate: true,
            }],
        ),
        ("release:1.2.3", vec![tag("release", "1.2.3", false)]),
        (
            "release:\"my app@1.0 beta\"",
            vec![tag("release", "my app@1.0 beta", false)],
        ),
        (
            "environment:production",
            vec![tag("environment", "production", false)],
        ),
        (
            "!environment:staging",
            vec![tag("environment", "staging", true)],
        ),
        (
            "user.email:a@b.example",
            vec![tag("user.email", "a@b.example", false)],
        ),
        ("user.id:42", vec![tag("user.id", "42", false)]),
        (
            "browser.name:Firefox",
            vec![tag("browser.name", "Firefox", false)],
        ),
        (
            "tags[server_name]:web-1",
            vec![tag("server_name", "web-1", false)],
        ),
        (
            "url:https://x.example/a?b=c",
            vec![tag("url", "https://x.example/a?b=c", false)],
        ),
        (
            "first-seen:-24h",
            vec![IssueFilter::FirstSeen {
                cmp: Cmp::Ge,
                at: NOW - DAY,
            }],
        ),
        (
            "firstSeen:-7d",
            vec![IssueFilter::FirstSeen {
                cmp: Cmp::Ge,
                at: NOW - 7 * DAY,
            }],
        ),
        (
            "age:-30m",
            vec![IssueFilter::FirstSeen {
                cmp: Cmp::Ge,
                at: NOW - HOUR / 2,
            }],
        ),
        (
            "last-seen:-2w",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Ge,
                at: NOW - 14 * DAY,
            }],
        ),
        (
            "lastSeen:+24h",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Le,
                at: NOW - DAY,
            }],
        ),
        (
            "lastSeen:>-1h",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Gt,
                at: NOW - HOUR,
            }],
        ),
        (
            "first-seen:>2026-01-01",
            vec![IssueFilter::FirstSeen {
                cmp: Cmp::Gt,
                at: JAN1,
            }],
        ),
        (
            "first-seen:>=2026-01-01",
            vec![IssueFilter::FirstSeen {
                cmp: Cmp::Ge,
                at: JAN1,
            }],
        ),
        (
            "first-seen:<2026-01-01",
            vec![IssueFilter::FirstSeen {
                cmp: Cmp::Lt,
                at: JAN1,
            }],
        ),
        (
            "last-seen:<=2026-01-01T10:00:00",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Le,
                at: JAN1 + 10 * HOUR,
            }],
        ),
        (
            "last-seen:2026-01-01",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Ge,
                at: JAN1,
            }],
        ),
        (
            "last-seen:2026-01-01T10:30",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Ge,
                at: JAN1 + 10 * HOUR + 30 * 60_000,
            }],
        ),
        (
            "last-seen:2026-01-01T00:00:00.250",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Ge,
                at: JAN1 + 250,
            }],
        ),
        (
            "last-seen:>2026-01-01T02:00:00+02:00",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Gt,
                at: JAN1,
            }],
        ),
        (
            "last-seen:>2026-01-01T00:00:00Z",
            vec![IssueFilter::LastSeen {
                cmp: Cmp::Gt,
                at: JAN1,
            }],
        ),
        (
            "connection reset",
            vec![IssueFilter::Text("connection reset".into())],
        ),
        (
            "\"connection  reset\" by peer",
            vec![IssueFilter::Text("connection  reset by peer".into())],
        ),
        ("message:timeout", vec![IssueFilter::Text("timeout".into())]),
        ("!message:timeout", vec![tag("message", "timeout", true)]),
        (
            "is:unresolved TypeError level:error undefined !release:1.0",
            vec![
                status(&[Unresolved], false),
                IssueFilter::Level {
                    value: "error".into(),
                    negate: false,
                },
                tag("release", "1.0", true),
                IssueFilter::Text("TypeError undefined".into()),
            ],
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_query(input, NOW), Ok(expected), "query {input:?}");
    }
}

#[test]
fn invalid_queries() {
    let cases = [
        ("level:", "empty value for key \"level\" at position 0"),
        (
            "is:unresolved level:\"\"",
            "empty value for key \"level\" at position 14",
        ),
        (
            "is:foo",
            "unknown status \"foo\" (expected unresolved, resolved or ignored) at position 0",
        ),
        (
            "is:[unresolved, nope]",
            "unknown status \"nope\" (expected unresolved, resolved or ignored) at position 0",
        ),
        (
            "first-seen:2026-13-01",
            "invalid date \"2026-13-01\" for first-seen at position 0",
        ),
        (
            "foo lastSeen:yesterday",
            "invalid date \"yesterday\" for lastSeen at position 4",
        ),
        (
            "first-seen:-24",
            "invalid date \"-24\" for first-seen at position 0",
        ),
        (
            "first-seen:-24y",
            "invalid date \"-24y\" for first-seen at position 0",
        ),
        (
            "first-seen:>",
            "invalid date \">\" for first-seen at position 0",
        ),
        (
            "!first-seen:-24h",
            "negation is not supported for \"first-seen\" at position 0",
        ),
        (
            "level:[error, fatal]",
            "list values are not supported for \"level\" at position 0",
        ),
        (
            "is:unresolved message:\"abc",
            "unterminated quote at position 22",
        ),
        ("tags[]:x", "invalid key \"tags[]\" at position 0"),
    ];
    for (input, expected) in cases {
        let err = parse_query(input, NOW).expect_err(input);
        assert_eq!(err.to_string(), expected, "query {input:?}");
    }
}

#[test]
fn durations_and_periods() {
    assert_eq!(parse_duration("30s"), Some(30_000));
    assert_eq!(parse_duration("24h"), Some(DAY));
    assert_eq!(parse_duration("14d"), Some(14 * DAY));
    assert_eq!(parse_duration("2w"), Some(14 * DAY));
    for bad in ["", "h", "24", "-1h", "1.5h", "24x", "99999999999999999999d"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    assert_eq!(parse_stats_period(""), Ok(None));
    assert_eq!(parse_stats_period("24h"), Ok(Some(DAY)));
    assert!(
        parse_stats_period("yesterday")
            .unwrap_err()
            .contains("invalid statsPeriod")
    );
    assert_eq!(parse_stats_period("90d"), Ok(Some(90 * DAY)));
    for long in ["91d", "13w", "999999999w", "7777h"] {
        let err = parse_stats_period(long).unwrap_err();
        assert!(err.contains("maximum is 90d"), "{long}: {err}");
    }
}
