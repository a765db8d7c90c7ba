//! What a `count()` or `count_unique(user)` rule's `query` asks of events, read with the
//! issue search's parser (`api::query`): `key:value` terms (negated with `!`) become tag
//! conditions, since stored events carry `level`, `release`, `environment` and `user` as
//! tags beside their own; free words search the title, message and culprit;
//! `event.type:` narrows the event types. What only an issue has (status, age,
//! assignment) cannot filter events, and is refused by name.

use sextant_storage::{EventCondition, IssueFilter};

use super::super::metric::spec::EventQuery;
use crate::api::query::parse_query;

/// Keys that name an issue's state rather than anything an event carries.
const ISSUE_KEYS: [&str; 10] = [
    "has",
    "project",
    "issue",
    "issue.id",
    "assigned",
    "assigned_or_suggested",
    "bookmarks",
    "subscribed",
    "times_seen",
    "timesSeen",
];

/// The event conditions of `query`, with the event types it leaves of `event_types`; the
/// error says what is unsupported.
pub fn event_query(query: &str, event_types: &[String]) -> Result<EventQuery, String> {
    // Dates are refused below, so "now" is never read.
    let filters = parse_query(query, 0).map_err(|e| format!("{query:?}: {e}"))?;
    let mut out = EventQuery::default();
    let mut types: Option<Vec<String>> = None;
    for filter in filters {
        match filter {
            IssueFilter::Level { value, .. } | IssueFilter::Tag { value, .. }
                if value.contains('*') =>
            {
                return Err(format!(
                    "{query:?}: {value}: wildcards are not supported in metric alerts"
                ));
            }
            IssueFilter::Level { value, negate } => out.conditions.push(EventCondition::Tag {
                key: "level".into(),
                value,
                negate,
            }),
            IssueFilter::Tag { key, value, negate } if key == "event.type" => {
                let current = types.get_or_insert_with(|| event_types.to_vec());
                current.retain(|t| (*t == value) != negate);
                if current.is_empty() {
                    return Err(format!(
                        "{query:?}: event.type:{value} leaves none of eventTypes {event_types:?}"
                    ));
                }
            }
            IssueFilter::Tag { key, .. } if ISSUE_KEYS.contains(&key.as_str()) => {
                return Err(format!(
                    "{query:?}: {key}: describes issues, not events, and cannot filter a metric alert"
                ));
            }
            IssueFilter::Tag { key, value, negate } => {
                out.conditions
                    .push(EventCondition::Tag { key, value, negate });
            }
            IssueFilter::Text(text) => {
                // Words are found anywhere already: `*timeout*` asks nothing more.
                let words: Vec<&str> = text.split(' ').map(|w| w.trim_matches('*')).collect();
                if words.iter().any(|w| w.contains('*')) {
                    return Err(format!(
                        "{query:?}: {text}: wildcards are not supported in metric alerts"
                    ));
                }
                let text = words.join(" ").trim().to_string();
                if !text.is_empty() {
                    out.conditions.push(EventCondition::Text { text });
                }
            }
            IssueFilter::Status { .. } => {
                return Err(format!(
                    "{query:?}: is: describes issues, not events, and cannot filter a metric alert"
                ));
            }
            IssueFilter::FirstSeen { .. } | IssueFilter::LastSeen { .. } => {
                return Err(format!(
                    "{query:?}: first and last seen describe issues, not events, and cannot \
                     filter a metric alert"
                ));
            }
        }
    }
    out.event_types = types;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<String> {
        vec!["default".into(), "error".into()]
    }

    #[test]
    fn terms_become_event_conditions() {
        let q = event_query("level:error !release:1.0 disk full", &types()).unwrap();
        assert_eq!(
            q.conditions,
            [
                EventCondition::Tag {
                    key: "level".into(),
                    value: "error".into(),
                    negate: false
                },
                EventCondition::Tag {
                    key: "release".into(),
                    value: "1.0".into(),
                    negate: true
                },
                EventCondition::Text {
                    text: "disk full".into()
                },
            ]
        );
        assert_eq!(q.event_types, None);
        assert_eq!(event_query("", &types()).unwrap(), EventQuery::default());
        let q = event_query("message:*timeout*", &types()).unwrap();
        assert_eq!(
            q.conditions,
            [EventCondition::Text {
                text: "timeout".into()
            }]
        );
    }

    #[test]
    fn event_type_narrows_the_types() {
        let q = event_query("event.type:error", &types()).unwrap();
        assert_eq!(q.event_types, Some(vec!["error".to_string()]));
        assert!(q.conditions.is_empty());
        let q = event_query("!event.type:error", &types()).unwrap();
        assert_eq!(q.event_types, Some(vec!["default".to_string()]));
        let err = event_query("event.type:transaction", &types()).unwrap_err();
        assert!(err.contains("leaves none"), "{err}");
    }

    #[test]
    fn issue_terms_are_refused_by_name() {
        for (query, named) in [
            ("is:unresolved", "is:"),
            ("has:user", "has:"),
            ("firstSeen:-24h", "first and last seen"),
            ("level:*err*", "wildcards"),
            ("a*b", "wildcards"),
        ] {
            let err = event_query(query, &types()).unwrap_err();
            assert!(err.contains(named), "{query}: {err}");
            assert!(err.contains(query), "{query}: {err}");
        }
    }
}
