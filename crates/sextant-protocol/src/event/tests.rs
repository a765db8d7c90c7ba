//! End-to-end normalization behaviour on hand-written payloads.

mod depth;

use serde_json::{Value, json};

use super::*;

const NOW: f64 = 1_795_512_000.0;

fn ctx() -> NormalizeContext {
    NormalizeContext::new(NOW)
}

fn norm(v: Value) -> Event {
    normalize_event(&serde_json::to_vec(&v).unwrap(), &ctx()).unwrap()
}

#[test]
fn defaults_and_ids() {
    let e = norm(json!({"message": "hi"}));
    assert_eq!(e.event_id().len(), 32);
    assert_eq!(e.level(), "error");
    assert_eq!(e.platform(), "other");
    assert_eq!(e.event_type(), "default");
    assert_eq!(e.timestamp(), NOW);
    assert_eq!(e.message(), "hi");
    assert_eq!(e.get("received"), Some(&json!(NOW)));

    let e = norm(json!({"event_id": "CFD39707-BF02-4B29-AE33-AE796217FB7F", "platform": "weird"}));
    assert_eq!(e.event_id(), "cfd39707bf024b29ae33ae796217fb7f");
    assert_eq!(e.platform(), "other");

    let c = NormalizeContext {
        envelope_event_id: Some("9ec79c33ec9942ab8353589fcb2e04dc".into()),
        ..ctx()
    };
    let e = normalize_event(br#"{"event_id":"cfd39707bf024b29ae33ae796217fb7f"}"#, &c).unwrap();
    assert_eq!(
        e.event_id(),
        "9ec79c33ec9942ab8353589fcb2e04dc",
        "header wins"
    );
}

#[test]
fn rejects_non_objects() {
    assert!(matches!(
        normalize_event(b"[1]", &ctx()),
        Err(EventError::NotAnObject)
    ));
    assert!(matches!(
        normalize_event(b"{", &ctx()),
        Err(EventError::InvalidJson(_))
    ));
    let e = normalize_event(br#"{"extra":{"x":NaN}}"#, &ctx()).unwrap();
    assert_eq!(e.get("extra"), Some(&json!({"x": null})));
}

#[test]
fn ingest_check_requires_an_object() {
    assert!(check_event_json(b" \n{\"message\": \"x\"}").is_ok());
    for (payload, kind) in [
        (&b"[1, 2]"[..], "an array"),
        (b" []", "an array"),
        (b"\"event\"", "a string"),
        (b"42", "a number"),
        (b"-1.5", "a number"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ] {
        let err = check_event_json(payload).unwrap_err().to_string();
        assert!(
            err.contains("must be a JSON object") && err.contains(kind),
            "{err}"
        );
    }
    assert!(check_event_json(b"{\"a\": ").is_err());
}

#[test]
fn levels_and_types() {
    for (raw, want) in [
        (json!(40), "error"),
        (json!(10), "debug"),
        (json!(50), "fatal"),
        (json!("log"), "info"),
        (json!("critical"), "fatal"),
        (json!("WARNING"), "warning"),
        (json!("bogus"), "error"),
    ] {
        assert_eq!(norm(json!({ "level": raw })).level(), want);
    }
    let e = norm(json!({"exception": {"values": [{"type": "E"}]}, "type": "default"}));
    assert_eq!(e.event_type(), "error");
    let e = norm(json!({"type": "feedback"}));
    assert_eq!((e.event_type(), e.level()), ("feedback", "info"));
    assert!(norm(json!({"level": "bogus"})).get("errors").is_some());
}

#[test]
fn clock_drift_and_clamping() {
    let hour_ago = NOW - 3600.0;
    let c = NormalizeContext {
        sent_at: Some(hour_ago),
        ..ctx()
    };
    let payload =
        json!({"timestamp": hour_ago - 5.0, "breadcrumbs": [{"timestamp": hour_ago - 10.0}]});
    let e = normalize_event(&serde_json::to_vec(&payload).unwrap(), &c).unwrap();
    assert!((e.timestamp() - (NOW - 5.0)).abs() < 1e-6);
    let crumb_ts = e.get("breadcrumbs").unwrap()["values"][0]["timestamp"]
        .as_f64()
        .unwrap();
    assert!((crumb_ts - (NOW - 10.0)).abs() < 1e-6);
    assert_eq!(e.get("errors").unwrap()[0]["type"], "clock_drift");

    // Small drift is latency, not a wrong clock.
    let c = NormalizeContext {
        sent_at: Some(NOW - 30.0),
        ..ctx()
    };
    let e = normalize_event(br#"{"timestamp": 1795511960.0}"#, &c).unwrap();
    assert_eq!(e.timestamp(), 1_795_511_960.0);
    assert!(e.get("errors").is_none());

    let future = norm(json!({"timestamp": NOW + 3600.0}));
    assert_eq!(future.timestamp(), NOW);
    assert_eq!(future.get("errors").unwrap()[0]["type"], "future_timestamp");
    let past = norm(json!({"timestamp": "2020-01-01T00:00:00Z"}));
    assert_eq!(past.timestamp(), NOW);
    assert_eq!(past.get("errors").unwrap()[0]["type"], "past_timestamp");
    assert_eq!(
        norm(json!({"timestamp": "2026-11-24T09:20:00"})).timestamp(),
        NOW
    );
}

#[test]
fn transactions_are_validated() {
    let ok = json!({"type": "transaction", "start_timestamp": NOW - 2.0, "timestamp": NOW - 1.0,
                    "contexts": {"trace": {"trace_id": "a", "span_id": "b"}},
                    "spans": [{"start_timestamp": "2026-11-24T09:20:00Z", "timestamp": NOW - 1.0}]});
    let e = norm(ok.clone());
    assert_eq!(e.level(), "info");
    assert_eq!(e.get("spans").unwrap()[0]["start_timestamp"], json!(NOW));
    let mut untyped = ok.clone();
    untyped.as_object_mut().unwrap().remove("type");
    assert_eq!(
        norm(untyped.clone()).event_type(),
        "transaction",
        "Rust omits type"
    );
    let forced = normalize_event_item(
        &serde_json::to_vec(&json!({"start_timestamp": NOW - 1.0, "contexts": {"trace": {"trace_id": "a", "span_id": "b"}}})).unwrap(),
        &ItemType::Transaction,
        &ctx(),
    )
    .unwrap();
    assert_eq!(forced.event_type(), "transaction");
    let fb = normalize_event_item(b"{}", &ItemType::Feedback, &ctx()).unwrap();
    assert_eq!(fb.event_type(), "feedback");
    let mut bad = ok.clone();
    bad["start_timestamp"] = json!(NOW);
    assert!(matches!(
        normalize_event(&serde_json::to_vec(&bad).unwrap(), &ctx()),
        Err(EventError::InvalidTransaction(_))
    ));
    let mut no_trace = ok;
    no_trace["contexts"] = json!({});
    assert!(normalize_event(&serde_json::to_vec(&no_trace).unwrap(), &ctx()).is_err());
}

#[test]
fn release_environment_validation() {
    let e = norm(json!({"release": "bad/release", "environment": "none", "dist": 7}));
    assert_eq!(e.release(), None);
    assert_eq!(e.environment(), None);
    assert_eq!(e.get("dist"), Some(&json!("7")));
    let kinds: Vec<_> = e
        .get("errors")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("release"), json!("environment")]);
    let e =
        norm(json!({"release": " app@1.0 ", "environment": "", "tags": {"environment": "prod"}}));
    assert_eq!(e.release(), Some("app@1.0"));
    assert_eq!(e.environment(), Some("prod"));
    assert_eq!(norm(json!({"release": "latest"})).release(), None);
}

#[test]
fn derived_tags_and_user() {
    let e = norm(json!({
        "level": "warning", "release": "r1", "environment": "prod", "server_name": "h1",
        "transaction": "/checkout", "tags": {"feature": "x", "level": "custom"},
        "user": {"id": 42, "email": "a@b.c"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Debian", "version": "12.11\n"}},
        "exception": [{"type": "E", "mechanism": {"type": "generic", "handled": false}}],
    }));
    let tags = e.tags();
    let get = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("feature"), Some("x"));
    assert_eq!(get("level"), Some("custom"), "event's own tag wins");
    assert_eq!(get("release"), Some("r1"));
    assert_eq!(get("environment"), Some("prod"));
    assert_eq!(get("server_name"), Some("h1"));
    assert_eq!(get("transaction"), Some("/checkout"));
    assert_eq!(get("user"), Some("id:42"));
    assert_eq!(get("user.id"), Some("42"));
    assert_eq!(get("user.email"), Some("a@b.c"));
    assert_eq!(get("runtime"), Some("CPython 3.11.7"));
    assert_eq!(get("runtime.name"), Some("CPython"));
    assert_eq!(get("os"), Some("Debian 12.11"));
    assert_eq!(get("os.name"), Some("Debian"));
    assert_eq!(get("handled"), Some("no"));
    assert_eq!(get("mechanism"), Some("generic"));
    let keys: std::collections::HashSet<_> = tags.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), tags.len(), "no duplicate keys");
    assert!(e.unhandled());
    assert_eq!(e.user_key().as_deref(), Some("id:42"));
    assert_eq!(
        norm(json!({"user": {"username": "bob"}}))
            .user_key()
            .as_deref(),
        Some("username:bob")
    );
}

#[test]
fn contexts_fingerprint_and_legacy_aliases() {
    let e = norm(json!({
        "contexts": {"os": {"name": "Linux"}, "rust": {"type": "runtime"}, "bad": 1, "trace": {"trace_id": "abc"}},
        "fingerprint": ["a", 1, true, null, {"x": 1}],
        "sentry.interfaces.Message": {"message": "legacy %s", "params": ["m"]},
        "time_spent": null,
    }));
    let contexts = e.get("contexts").unwrap();
    assert_eq!(contexts["os"]["type"], "os");
    assert_eq!(contexts["rust"]["type"], "runtime");
    assert!(contexts.get("bad").is_none());
    assert_eq!(e.trace_id(), Some("abc"));
    assert_eq!(e.get("fingerprint"), Some(&json!(["a", "1", "true"])));
    assert_eq!(e.message(), "legacy m");
    assert!(e.get("time_spent").is_none());
    assert!(e.get("sentry.interfaces.Message").is_none());
}

#[test]
fn unknown_fields_and_databags() {
    let mut deep = json!("leaf");
    for _ in 0..10 {
        deep = json!({ "d": deep });
    }
    let e = norm(json!({"project": "42", "extra": {"deep": deep}}));
    assert_eq!(e.get("project"), Some(&json!("42")));
    let mut cursor = &e.get("extra").unwrap()["deep"];
    let mut depth = 1;
    while let Some(next) = cursor.get("d") {
        cursor = next;
        depth += 1;
    }
    assert!(cursor.is_string(), "over-deep container stringified");
    assert_eq!(depth, 7);
}

#[test]
fn serializes_normalized_json() {
    let e = norm(json!({"message": "x"}));
    let back: Value = serde_json::from_slice(&e.to_json()).unwrap();
    assert_eq!(back, serde_json::to_value(&e).unwrap());
    assert_eq!(back["logentry"]["formatted"], "x");
}

/// Found by the `event_json` fuzz target: `{"timestamp": 1e308}` panicked while the
/// future-timestamp error was formatted. It must normalize like any far-future event.
#[test]
fn absurd_timestamps_normalize() {
    for ts in [
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
    ] {
        let e = norm(json!({"message": "x", "timestamp": ts}));
        assert!(e.timestamp().is_finite(), "{ts}");
        let errors = e.get("errors").and_then(Value::as_array).expect("errors");
        assert!(
            errors
                .iter()
                .any(|err| err["type"] == "future_timestamp" || err["type"] == "past_timestamp"),
            "{ts}: {errors:?}"
        );
    }
    let c = NormalizeContext {
        sent_at: Some(1e308),
        ..ctx()
    };
    assert!(
        normalize_event(br#"{"message":"x"}"#, &c).is_ok(),
        "absurd sent_at"
    );
}

#[test]
fn text_that_is_not_utf8_as_a_whole_is_judged_string_by_string() {
    // Non-ASCII UTF-8 parses the same whichever way the text is checked.
    let e = norm(json!({"message": "Zürich 東京 🚀", "tags": {"stadt": "Zürich"}}));
    assert_eq!(e.message(), "Zürich 東京 🚀");
    assert!(e.tags().contains(&("stadt".into(), "Zürich".into())));

    // A stray byte in a string the index parse skips: the index still builds, as it
    // did when every string was checked on its own; the full parse refuses it.
    let skipped = b"{\"message\":\"boom\",\"extra\":{\"raw\":\"\xff\"}}";
    let e = normalize_event_for_index(skipped, &ctx()).unwrap();
    assert_eq!(e.message(), "boom");
    assert!(matches!(
        normalize_event(skipped, &ctx()),
        Err(EventError::InvalidJson(_))
    ));

    // In a string both keep, both refuse it.
    let kept = b"{\"message\":\"bo\xffom\"}";
    assert!(normalize_event_for_index(kept, &ctx()).is_err());
    assert!(normalize_event(kept, &ctx()).is_err());
}
