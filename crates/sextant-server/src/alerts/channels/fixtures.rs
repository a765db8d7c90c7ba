//! Notices the channel tests render: an ordinary one, one whose every user text is
//! hostile markup, and a storm summary.

use serde_json::Value;

use super::OutboundRequest;
use crate::alerts::notice::{Notice, NoticeItem, NoticeKind};

/// A mention of everyone, a bare ampersand and a disguised link, in Slack's syntax.
pub(super) const HOSTILE: &str = "<!channel> & <http://evil.example|click>";

pub(super) const ISSUE_URL: &str = "https://sextant.example/organizations/acme/issues/42/";

/// 2026-01-01T10:00:00.123Z
pub(super) const TIMESTAMP_MS: i64 = 1_767_261_600_123;

pub(super) fn notice() -> Notice {
    Notice {
        kind: NoticeKind::NewIssue,
        title: "TypeError: x is undefined".into(),
        project: "web".into(),
        url: ISSUE_URL.into(),
        culprit: Some("checkout.js in pay".into()),
        level: Some("error".into()),
        environment: Some("production".into()),
        release: Some("1.4.2".into()),
        fields: vec![("events".into(), "37".into()), ("users".into(), "5".into())],
        items: Vec::new(),
        dedup_key: "sextant-issue-42".into(),
        timestamp_ms: TIMESTAMP_MS,
    }
}

pub(super) fn hostile() -> Notice {
    Notice {
        title: HOSTILE.into(),
        culprit: Some(HOSTILE.into()),
        environment: Some(HOSTILE.into()),
        fields: vec![("rule".into(), HOSTILE.into())],
        items: vec![NoticeItem {
            title: HOSTILE.into(),
            url: ISSUE_URL.into(),
        }],
        ..notice()
    }
}

/// A summary of `count` issues, numbered from 1.
pub(super) fn summary(count: usize) -> Notice {
    Notice {
        kind: NoticeKind::Summary,
        title: format!("{count} new issues in 2 minutes after 1.4.2"),
        culprit: None,
        fields: Vec::new(),
        items: (1..=count)
            .map(|i| NoticeItem {
                title: format!("Issue {i}"),
                url: format!("https://sextant.example/issues/{i}/"),
            })
            .collect(),
        dedup_key: "sextant-summary-web".into(),
        ..notice()
    }
}

pub(super) fn resolved() -> Notice {
    Notice {
        kind: NoticeKind::IssueResolved,
        ..notice()
    }
}

pub(super) fn json(request: &OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).expect("the body is JSON")
}

/// Every string in a JSON value, for checks that no text anywhere keeps some markup.
pub(super) fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}
