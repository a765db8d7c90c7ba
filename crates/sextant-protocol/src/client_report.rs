//! `client_report` items (§11.4): SDK-side discard counters.

use serde_json::Value;

use crate::event::EventError;
use crate::timestamp::parse_timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct ClientReport {
    /// Unix seconds; `None` means "now" for the caller.
    pub timestamp: Option<f64>,
    pub discarded: Vec<DiscardedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscardedEvent {
    pub reason: String,
    pub category: String,
    pub quantity: u64,
    /// Which list it came from: `client_discard`, `rate_limited`, `filtered`,
    /// `filtered_sampling`.
    pub outcome: &'static str,
}

const LISTS: [(&str, &str); 4] = [
    ("discarded_events", "client_discard"),
    ("rate_limited_events", "rate_limited"),
    ("filtered_events", "filtered"),
    ("filtered_sampling_events", "filtered_sampling"),
];

/// Parses a client report. Malformed entries are skipped (reports are never rejected);
/// only a payload that is not a JSON object is an error.
pub fn parse_client_report(payload: &[u8]) -> Result<ClientReport, EventError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| EventError::InvalidJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(EventError::NotAnObject);
    };
    let mut discarded = Vec::new();
    for (key, outcome) in LISTS {
        let Some(Value::Array(entries)) = map.get(key) else {
            continue;
        };
        for entry in entries {
            let reason = entry.get("reason").and_then(Value::as_str);
            let category = entry.get("category").and_then(Value::as_str);
            let quantity = entry.get("quantity").and_then(Value::as_u64);
            if let (Some(reason), Some(category), Some(quantity)) = (reason, category, quantity)
                && quantity > 0
            {
                discarded.push(DiscardedEvent {
                    reason: reason.to_owned(),
                    category: category.to_owned(),
                    quantity,
                    outcome,
                });
            }
        }
    }
    Ok(ClientReport {
        timestamp: map.get("timestamp").and_then(parse_timestamp),
        discarded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_lists() {
        let report = parse_client_report(
            br#"{"timestamp":"2026-11-24T09:31:27Z",
                "discarded_events":[{"reason":"before_send","category":"error","quantity":2},{"reason":"x"}],
                "rate_limited_events":[{"reason":"key_quota","category":"transaction","quantity":1}],
                "filtered_events":[{"reason":"release","category":"error","quantity":0}],
                "filtered_sampling_events":[{"reason":"sample","category":"span","quantity":5}]}"#,
        )
        .unwrap();
        assert_eq!(report.timestamp, Some(1_795_512_687.0));
        let got: Vec<_> = report
            .discarded
            .iter()
            .map(|d| {
                (
                    d.outcome,
                    d.reason.as_str(),
                    d.category.as_str(),
                    d.quantity,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("client_discard", "before_send", "error", 2),
                ("rate_limited", "key_quota", "transaction", 1),
                ("filtered_sampling", "sample", "span", 5),
            ]
        );
    }

    #[test]
    fn rejects_non_objects() {
        assert!(matches!(
            parse_client_report(b"[]"),
            Err(EventError::NotAnObject)
        ));
        assert!(matches!(
            parse_client_report(b"{"),
            Err(EventError::InvalidJson(_))
        ));
        assert_eq!(parse_client_report(b"{}").unwrap().discarded, vec![]);
    }
}
