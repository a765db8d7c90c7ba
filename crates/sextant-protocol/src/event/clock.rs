//! Event timestamps (§13.2): parsing, clock-drift correction, future/past clamping and
//! transaction time validation.

use serde_json::{Map, Value, json};

use super::normalize::processing_error;
use super::{EventError, NormalizeContext};
use crate::jsonval::path;
use crate::timestamp::{format_rfc3339, parse_timestamp};

/// Drift below this is network latency, not a wrong clock.
const MIN_DRIFT_SECS: f64 = 55.0 * 60.0;
const MAX_FUTURE_SECS: f64 = 60.0;
/// Relay's default event retention.
const MAX_AGE_SECS: f64 = 90.0 * 86_400.0;

/// Normalizes every timestamp to float seconds and returns the event timestamp.
pub(super) fn normalize(
    data: &mut Map<String, Value>,
    ctx: &NormalizeContext,
    event_type: &str,
    errors: &mut Vec<Value>,
) -> Result<f64, EventError> {
    let received = ctx.received_at;
    let mut parsed = |key: &str, data: &mut Map<String, Value>| match data.get(key) {
        None => None,
        Some(raw) => {
            let ts = parse_timestamp(raw);
            if ts.is_none() {
                errors.push(processing_error("invalid_data", key, data.remove(key)));
            }
            ts
        }
    };
    let timestamp = parsed("timestamp", data);
    let start = parsed("start_timestamp", data);
    normalize_span_times(data);

    let mut shift = 0.0;
    if let Some(sent_at) = ctx.sent_at {
        let drift = received - sent_at;
        if drift.abs() >= MIN_DRIFT_SECS {
            shift = drift;
            let mut e = processing_error("clock_drift", "timestamp", None);
            e["sender_time"] = format_rfc3339(sent_at).into();
            e["adjustment_secs"] = json!(drift);
            errors.push(e);
        }
    }
    if let Some(ts) = timestamp.map(|t| t + shift) {
        let kind = if ts > received + MAX_FUTURE_SECS {
            Some("future_timestamp")
        } else if ts < received - MAX_AGE_SECS {
            Some("past_timestamp")
        } else {
            None
        };
        if let Some(kind) = kind {
            // Shift everything by the same amount so relative times stay intact.
            shift += received - ts;
            errors.push(processing_error(
                kind,
                "timestamp",
                Some(format_rfc3339(ts).into()),
            ));
        }
    }

    let timestamp = timestamp.map_or(received, |t| t + shift);
    data.insert("timestamp".into(), json!(timestamp));
    let start = start.map(|s| s + shift);
    if let Some(start) = start {
        data.insert("start_timestamp".into(), json!(start));
    }
    if shift != 0.0 {
        shift_nested(data, shift);
    }
    if event_type == "transaction" {
        validate_transaction(data, start, timestamp)?;
    }
    Ok(timestamp)
}

fn validate_transaction(
    data: &Map<String, Value>,
    start: Option<f64>,
    end: f64,
) -> Result<(), EventError> {
    let invalid = |m: &str| Err(EventError::InvalidTransaction(m.to_owned()));
    let Some(start) = start else {
        return invalid("missing start_timestamp");
    };
    if end < start {
        return invalid("timestamp is before start_timestamp");
    }
    let contexts = data.get("contexts").cloned().unwrap_or(Value::Null);
    for key in ["trace_id", "span_id"] {
        if !path(&contexts, &["trace", key]).is_some_and(Value::is_string) {
            return invalid(&format!("missing contexts.trace.{key}"));
        }
    }
    Ok(())
}

fn normalize_span_times(data: &mut Map<String, Value>) {
    let Some(Value::Array(spans)) = data.get_mut("spans") else {
        return;
    };
    for span in spans.iter_mut().filter_map(Value::as_object_mut) {
        for key in ["start_timestamp", "timestamp"] {
            match span.get(key).map(parse_timestamp) {
                Some(Some(ts)) => span.insert(key.into(), json!(ts)),
                _ => span.remove(key),
            };
        }
    }
}

fn shift_field(obj: &mut Map<String, Value>, key: &str, shift: f64) {
    if let Some(ts) = obj.get(key).and_then(Value::as_f64) {
        obj.insert(key.into(), json!(ts + shift));
    }
}

fn shift_nested(data: &mut Map<String, Value>, shift: f64) {
    if let Some(Value::Array(crumbs)) = data
        .get_mut("breadcrumbs")
        .and_then(|b| b.get_mut("values"))
    {
        for crumb in crumbs.iter_mut().filter_map(Value::as_object_mut) {
            shift_field(crumb, "timestamp", shift);
        }
    }
    if let Some(Value::Array(spans)) = data.get_mut("spans") {
        for span in spans.iter_mut().filter_map(Value::as_object_mut) {
            shift_field(span, "start_timestamp", shift);
            shift_field(span, "timestamp", shift);
        }
    }
}
