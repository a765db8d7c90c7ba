//! Nesting: however deep a payload nests, the normalized event reads back with
//! serde_json's default limits, and what was cut is noted in `_meta`.

use serde_json::{Value, json};

use super::super::nesting::depth_of;
use super::super::*;

fn ctx() -> NormalizeContext {
    NormalizeContext::new(1_795_512_000.0)
}

/// `levels` nested arrays around `1`, as JSON text.
fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// `{"message": "deep", <field>: <levels nested arrays>}` as JSON text.
fn with_deep(field: &str, levels: usize) -> Vec<u8> {
    format!(r#"{{"message": "deep", {field}: {}}}"#, nested(levels)).into_bytes()
}

/// Normalizes fully and for the index; both succeed, agree on grouping and read back.
fn normalize_both(payload: &[u8]) -> Event {
    let full = normalize_event(payload, &ctx()).expect("normalizes");
    let index = normalize_event_for_index(payload, &ctx()).expect("indexes");
    assert_eq!(crate::group(&index), crate::group(&full));
    for event in [&full, &index] {
        let text = event.to_json();
        let back: Value = serde_json::from_slice(&text).expect("reads back with default limits");
        assert!(depth_of(&back) <= MAX_DEPTH + 5, "{}", depth_of(&back));
    }
    full
}

/// Follows `levels` first elements down from `value`.
fn down(mut value: &Value, levels: usize) -> &Value {
    for _ in 0..levels {
        value = &value[0];
    }
    value
}

/// Follows `levels` `"0"` keys down from a `_meta` node.
fn down_keys(mut value: &Value, levels: usize) -> &Value {
    for _ in 0..levels {
        value = &value["0"];
    }
    value
}

#[test]
fn extra_200_levels_deep_is_trimmed_at_the_bag_depth_and_noted() {
    let payload = format!(
        r#"{{"message": "deep", "extra": {{"payload": {}}}}}"#,
        nested(200)
    );
    let e = normalize_both(payload.as_bytes());
    let extra = &e.get("extra").unwrap()["payload"];
    // `extra` keeps seven levels: `payload`'s array and six below it, the last of them
    // replaced by its JSON text.
    let cut = down(extra, 6);
    assert!(cut.as_str().is_some_and(|s| s.starts_with("[[[")), "{cut}");
    let note = down_keys(&e.get("_meta").unwrap()["extra"]["payload"], 6);
    assert_eq!(note[""], json!({"rem": [["!limit", "s"]]}));
    assert_eq!(e.message(), "deep");
}

#[test]
fn deep_free_form_fields_are_cut_at_max_depth_and_noted() {
    for field in [r#""anything""#, r#""sdk""#] {
        let e = normalize_both(&with_deep(field, 5000));
        let name = field.trim_matches('"');
        let data = Value::Object(e.data().clone());
        // The field's array is level 2; the one at MAX_DEPTH + 1 became null.
        assert_eq!(down(&data[name], MAX_DEPTH - 1), &Value::Null, "{field}");
        assert!(down(&data[name], MAX_DEPTH - 2).is_array(), "{field}");
        let note = down_keys(&data["_meta"][name], MAX_DEPTH - 1);
        assert_eq!(note[""]["rem"], json!([["!limit", "x"]]), "{field}");
        assert_eq!(note[""]["len"], json!(1), "{field}");
    }
    // A client's `_meta` that is not an object gives way to the notes.
    let e = normalize_both(&with_deep(r#""_meta""#, 5000));
    assert!(e.get("_meta").unwrap()["_meta"].is_object());
}

/// A lone top-level stacktrace moves three levels down, into `exception.values[0]`:
/// the cut must allow for it, exactly at the bound.
#[test]
fn values_moved_deeper_by_normalization_stay_within_max_depth() {
    // The frame is level 4 as sent and 7 once moved; `x`'s arrays start one below.
    for levels in [MAX_DEPTH - 7, MAX_DEPTH - 6] {
        let payload = format!(
            r#"{{"exception": {{"type": "E", "value": "v"}},
                "stacktrace": {{"frames": [{{"function": "f", "x": {}}}]}}}}"#,
            nested(levels)
        );
        let e = normalize_both(payload.as_bytes());
        let mut data = e.data().clone();
        let meta = data.remove("_meta");
        assert_eq!(depth_of(&Value::Object(data)), MAX_DEPTH, "{levels}");
        let frame = &e.exceptions()[0]["stacktrace"]["frames"][0];
        if levels == MAX_DEPTH - 7 {
            assert!(meta.is_none(), "nothing was cut");
        } else {
            assert_eq!(down(&frame["x"], levels - 1), &Value::Null);
            let at = &meta.expect("a note")["exception"]["values"]["0"]["stacktrace"];
            let note = down_keys(&at["frames"]["0"]["x"], levels - 1);
            assert_eq!(note[""]["rem"], json!([["!limit", "x"]]));
        }
    }
}

#[test]
fn deep_values_in_structured_fields_do_not_break_grouping_or_reads() {
    let deep = nested(300);
    let payload = format!(
        r#"{{"exception": {{"values": [{{"type": "E", "value": "v", "mechanism": {{"type": "x", "data": {deep}}},
            "stacktrace": {{"frames": [{{"function": "f", "vars": {{"v": {deep}}}}}]}}}}]}},
           "breadcrumbs": [{{"message": "m", "data": {{"d": {deep}}}}}],
           "contexts": {{"app": {{"nested": {deep}}}, "trace": {{"trace_id": "{tid}"}}}},
           "request": {{"url": "http://x/", "data": {deep}}},
           "fingerprint": {deep}, "tags": {{"t": {deep}}}, "user": {{"id": "1", "data": {deep}}}}}"#,
        tid = "a".repeat(32)
    );
    let e = normalize_both(payload.as_bytes());
    assert_eq!(e.trace_id(), Some("a".repeat(32).as_str()));
    assert_eq!(e.exceptions()[0]["type"], "E");
    let meta = &e.get("_meta").unwrap();
    let frame_vars = &meta["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"];
    assert!(frame_vars["v"].is_object(), "{meta}");
    assert!(meta["breadcrumbs"]["values"]["0"]["data"]["d"].is_object());
    assert!(meta["contexts"]["app"]["nested"].is_object());
    assert!(meta["request"]["data"].is_object());
}

#[test]
fn shallow_events_get_no_meta() {
    let e = normalize_both(br#"{"message": "x", "extra": {"a": {"b": [1, {"c": 2}]}}}"#);
    assert!(e.get("_meta").is_none());
    // A client's own notes are kept as they are.
    let e = normalize_both(br#"{"message": "x", "_meta": {"extra": {"": {"len": 3}}}}"#);
    assert_eq!(e.get("_meta"), Some(&json!({"extra": {"": {"len": 3}}})));
}

#[test]
fn depth_is_no_reason_to_refuse_at_ingest() {
    // Processing trims it; refusing would lose an event an SDK sent in good faith.
    assert!(check_event_json(&with_deep(r#""extra""#, 100_000)).is_ok());
}
