//! PagerDuty Events API v2: a notice triggers an alert, a recovery resolves it.
//!
//! Both carry the notice's `dedup_key`, so the resolve closes the incident the triggers
//! opened, and repeated triggers for one issue group into that one incident. A resolve
//! is only the key (PagerDuty ignores any payload on it); with no key there is nothing
//! to resolve, and nothing is sent.

use serde_json::{Map, Value, json};

use super::text::{facts, fit, link, one_line};
use crate::alerts::notice::Notice;

const DEDUP_KEY_MAX: usize = 255;
const SUMMARY_MAX: usize = 1024;
const NAME_MAX: usize = 255;
const DETAIL_MAX: usize = 1000;
const MAX_DETAILS: usize = 100;
const MAX_ITEMS: usize = 50;

/// The key as PagerDuty will store it. Cut without an ellipsis, so that a trigger and
/// its resolve cut the same key the same way.
fn dedup_key(notice: &Notice) -> String {
    notice
        .dedup_key
        .trim()
        .chars()
        .take(DEDUP_KEY_MAX)
        .collect()
}

pub(super) fn body(routing_key: &str, notice: &Notice) -> Option<Value> {
    let dedup_key = dedup_key(notice);
    if notice.kind.resolves() {
        if dedup_key.is_empty() {
            return None;
        }
        return Some(json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        }));
    }

    let project = one_line(&notice.project);
    let mut details = Map::new();
    for (name, value) in facts(notice).into_iter().skip(1).take(MAX_DETAILS) {
        details.insert(fit(&name, NAME_MAX), Value::String(fit(&value, DETAIL_MAX)));
    }
    if !notice.items.is_empty() {
        let items: Vec<Value> = notice
            .items
            .iter()
            .take(MAX_ITEMS)
            .map(|item| json!({"title": fit(&one_line(&item.title), 500), "url": link(&item.url)}))
            .collect();
        details.insert("items".into(), Value::Array(items));
        if notice.items.len() > MAX_ITEMS {
            details.insert("items_total".into(), Value::from(notice.items.len()));
        }
    }

    let mut payload = json!({
        "summary": fit(&one_line(&notice.headline()), SUMMARY_MAX),
        "source": fit(&format!("sextant/{project}"), NAME_MAX),
        "severity": notice.severity().as_str(),
        "timestamp": crate::clock::format_ms(notice.timestamp_ms),
        "group": fit(&project, NAME_MAX),
        "class": notice.kind.as_str(),
        "custom_details": details,
    });
    if let Some(culprit) = notice.culprit.as_deref().map(one_line)
        && !culprit.is_empty()
    {
        payload["component"] = Value::String(fit(&culprit, NAME_MAX));
    }
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": payload,
        "client": "Sextant",
    });
    if !dedup_key.is_empty() {
        body["dedup_key"] = Value::String(dedup_key);
    }
    if let Some(url) = link(&notice.url) {
        body["links"] = json!([{"href": url, "text": "Open in Sextant"}]);
        body["client_url"] = Value::String(url);
    }
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, ISSUE_URL};
    use super::*;
    use crate::alerts::channels::ChannelConfig;
    use crate::alerts::notice::NoticeKind;

    const KEY: &str = "R0UTINGKEY0123456789abcdefABCDEF";

    fn config() -> ChannelConfig {
        ChannelConfig::PagerDuty {
            routing_key: KEY.into(),
            events_url: None,
        }
    }

    fn render(notice: &Notice) -> Value {
        let request = config().render(notice).unwrap().expect("pagerduty speaks");
        assert_eq!(request.url, "https://events.pagerduty.com/v2/enqueue");
        fixtures::json(&request)
    }

    #[test]
    fn a_notice_triggers_an_alert() {
        let expected = json!({
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "sextant-issue-42",
            "payload": {
                "summary": "New issue: TypeError: x is undefined",
                "source": "sextant/web",
                "severity": "error",
                "timestamp": "2026-01-01T10:00:00.123Z",
                "component": "checkout.js in pay",
                "group": "web",
                "class": "new_issue",
                "custom_details": {
                    "environment": "production",
                    "level": "error",
                    "release": "1.4.2",
                    "events": "37",
                    "users": "5",
                },
            },
            "links": [{"href": ISSUE_URL, "text": "Open in Sextant"}],
            "client": "Sextant",
            "client_url": ISSUE_URL,
        });
        assert_eq!(render(&fixtures::notice()), expected);
    }

    #[test]
    fn a_recovery_resolves_the_same_dedup_key() {
        let trigger = render(&fixtures::notice());
        let resolve = render(&fixtures::resolved());
        assert_eq!(
            resolve,
            json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "sextant-issue-42"})
        );
        assert_eq!(trigger["dedup_key"], resolve["dedup_key"]);

        // Long keys are cut the same way on both sides.
        let mut raised = fixtures::notice();
        raised.dedup_key = "k".repeat(300);
        let mut recovered = raised.clone();
        recovered.kind = NoticeKind::MetricResolved;
        let (trigger, resolve) = (render(&raised), render(&recovered));
        assert_eq!(trigger["dedup_key"].as_str().unwrap().len(), DEDUP_KEY_MAX);
        assert_eq!(trigger["dedup_key"], resolve["dedup_key"]);
    }

    #[test]
    fn a_resolve_without_a_key_says_nothing() {
        let mut notice = fixtures::resolved();
        notice.dedup_key = "  ".into();
        assert!(config().render(&notice).unwrap().is_none());
        // A trigger without one lets PagerDuty pick the key.
        notice.kind = NoticeKind::NewIssue;
        assert!(render(&notice).get("dedup_key").is_none());
    }

    #[test]
    fn severity_summary_and_items() {
        let mut notice = fixtures::summary(60);
        notice.level = Some("fatal".into());
        notice.title = "s".repeat(2000);
        let body = render(&notice);
        assert_eq!(body["payload"]["severity"], "critical");
        assert_eq!(body["payload"]["class"], "summary");
        let summary = body["payload"]["summary"].as_str().unwrap();
        assert_eq!(summary.chars().count(), SUMMARY_MAX);
        let details = &body["payload"]["custom_details"];
        assert_eq!(details["items"].as_array().unwrap().len(), MAX_ITEMS);
        assert_eq!(
            details["items"][0],
            json!({"title": "Issue 1", "url": "https://sextant.example/issues/1/"})
        );
        assert_eq!(details["items_total"], 60);

        let mut metric = fixtures::notice();
        metric.kind = NoticeKind::MetricWarning;
        assert_eq!(render(&metric)["payload"]["severity"], "warning");
    }
}
