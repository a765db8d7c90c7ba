//! Event facts read from normalized events: a Python SDK error as Sextant normalizes it,
//! and the other shapes Sentry events take.

use serde_json::{Value, json};
use sextant_protocol::event::{NormalizeContext, normalize_event};

use crate::alerts::rules::{EventFacts, FrameFacts};

/// The normalized event of the Python SDK's `exception` fixture (frame locals left out).
fn python_error() -> Value {
    json!({
        "contexts": {
            "order": {"currency": "EUR", "id": "ord-9", "type": "order"},
            "trace": {"span_id": "9725ecf3d9261585", "trace_id": "06600c85981f4098b9c253a78e0526d9", "type": "trace"}
        },
        "environment": "staging",
        "event_id": "65b5bc2f26e041c68bcfeef95be4e13f",
        "exception": {"values": [{
            "mechanism": {"handled": true, "type": "generic"},
            "stacktrace": {"frames": [
                {
                    "abs_path": "/app/py/main.py",
                    "context_line": "        checkout([10, 20, 30], \"u-42\")",
                    "filename": "main.py",
                    "function": "<module>",
                    "lineno": 51,
                    "module": "__main__",
                    "post_context": ["    except Exception as e:"],
                    "pre_context": ["    try:"]
                },
                {
                    "abs_path": "/app/py/main.py",
                    "context_line": "    return total / discount  # TypeError",
                    "filename": "main.py",
                    "function": "checkout",
                    "lineno": 33,
                    "module": "__main__"
                }
            ]},
            "type": "TypeError",
            "value": "unsupported operand type(s) for /: 'int' and 'NoneType'"
        }]},
        "extra": {"cart_size": 3},
        "level": "error",
        "platform": "python",
        "received": 1795512676.807077,
        "release": "fixture-app@1.2.3",
        "sdk": {"integrations": [], "name": "sentry.python", "version": "2.75.0"},
        "server_name": "fixture-host",
        "tags": [["feature", "checkout"], ["tenant", "acme"], ["server_name", "fixture-host"]],
        "timestamp": 1795512676.806158,
        "type": "error",
        "user": {"email": "jane@example.com", "id": "u-42", "username": "jane"}
    })
}

fn tag<'a>(facts: &'a EventFacts, key: &str) -> Option<&'a str> {
    facts
        .tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_normalized_python_error() {
    let facts = EventFacts::from_event_json(&python_error());
    assert_eq!(facts.level, "error");
    assert_eq!(facts.platform, "python");
    assert_eq!(facts.event_type, "error");
    assert_eq!(facts.environment.as_deref(), Some("staging"));
    assert_eq!(facts.release.as_deref(), Some("fixture-app@1.2.3"));
    assert_eq!(facts.handled, [true]);
    assert_eq!(facts.exception_types, ["TypeError"]);
    assert_eq!(
        facts.exception_values,
        ["unsupported operand type(s) for /: 'int' and 'NoneType'"]
    );
    assert_eq!(facts.user_id.as_deref(), Some("u-42"));
    assert_eq!(facts.user_email.as_deref(), Some("jane@example.com"));
    assert_eq!(facts.user_username.as_deref(), Some("jane"));
    assert_eq!(facts.sdk_name.as_deref(), Some("sentry.python"));
    assert_eq!(facts.message, "");
    assert_eq!(facts.main_thread, None);
    assert_eq!(facts.frames.len(), 2);
    assert_eq!(
        facts.frames[0],
        FrameFacts {
            filename: Some("main.py".into()),
            abs_path: Some("/app/py/main.py".into()),
            module: Some("__main__".into()),
            package: None,
            code: vec![
                "    try:".into(),
                "        checkout([10, 20, 30], \"u-42\")".into(),
                "    except Exception as e:".into(),
            ],
        }
    );
    assert_eq!(tag(&facts, "feature"), Some("checkout"));
    assert_eq!(tag(&facts, "server_name"), Some("fixture-host"));
    assert_eq!(tag(&facts, "level"), Some("error"));
    assert_eq!(tag(&facts, "environment"), Some("staging"));
    assert_eq!(tag(&facts, "release"), Some("fixture-app@1.2.3"));
    assert_eq!(tag(&facts, "user"), Some("id:u-42"));
}

#[test]
fn from_event_takes_the_derived_tags_search_uses() {
    let bytes = serde_json::to_vec(&python_error()).unwrap();
    let event = normalize_event(&bytes, &NormalizeContext::new(1_795_512_677.0)).unwrap();
    let facts = EventFacts::from_event(&event);
    assert_eq!(
        facts,
        EventFacts {
            tags: facts.tags.clone(),
            ..EventFacts::from_event_json(&python_error())
        }
    );
    assert_eq!(tag(&facts, "handled"), Some("yes"));
    assert_eq!(tag(&facts, "mechanism"), Some("generic"));
    assert_eq!(tag(&facts, "user.email"), Some("jane@example.com"));
}

#[test]
fn requests_contexts_threads_and_other_tag_shapes() {
    let event = json!({
        "level": "fatal",
        "logentry": {"formatted": "disk full", "message": "disk %s"},
        "request": {"method": "POST", "url": "https://shop.example.com/pay"},
        "contexts": {
            "response": {"status_code": 503},
            "app": {"in_foreground": false},
            "os": {"distribution_name": "ubuntu", "distribution_version": "24.04"},
            "unreal": {"crash_type": "Crash"}
        },
        "exception": {"values": [{"type": "OSError", "thread_id": 2, "mechanism": {"handled": false}}]},
        "threads": {"values": [{"id": 1, "main": true}, {"id": 2, "main": false}]},
        "stacktrace": {"frames": [{"filename": "top.py", "package": "/usr/lib/libc.so"}]},
        "tags": [{"key": "region", "value": "eu"}, {"key": "level", "value": "custom"}],
        "user": {"ip_address": "10.0.0.1"}
    });
    let facts = EventFacts::from_event_json(&event);
    assert_eq!(facts.message, "disk full");
    assert_eq!(facts.http_method.as_deref(), Some("POST"));
    assert_eq!(
        facts.http_url.as_deref(),
        Some("https://shop.example.com/pay")
    );
    assert_eq!(facts.http_status_code.as_deref(), Some("503"));
    assert_eq!(facts.handled, [false]);
    assert_eq!(facts.main_thread, Some(false));
    assert_eq!(facts.platform, "other");
    assert_eq!(facts.event_type, "default");
    assert_eq!(facts.frames.len(), 1, "the top-level stack trace wins");
    assert_eq!(facts.frames[0].package.as_deref(), Some("/usr/lib/libc.so"));
    assert_eq!(
        facts.context_attributes,
        [
            ("unreal.crash_type".to_owned(), "Crash".to_owned()),
            ("app.in_foreground".to_owned(), "false".to_owned()),
            ("os.distribution_name".to_owned(), "ubuntu".to_owned()),
            ("os.distribution_version".to_owned(), "24.04".to_owned()),
        ]
    );
    assert_eq!(tag(&facts, "region"), Some("eu"));
    assert_eq!(
        tag(&facts, "level"),
        Some("custom"),
        "the event's own tag wins"
    );
    assert_eq!(tag(&facts, "user"), Some("ip:10.0.0.1"));
    assert_eq!(tag(&facts, "url"), Some("https://shop.example.com/pay"));

    let object_tags = EventFacts::from_event_json(&json!({"tags": {"a": "1", "b": 2}}));
    assert_eq!(tag(&object_tags, "b"), Some("2"));
    let crashed = EventFacts::from_event_json(&json!({
        "threads": {"values": [{"id": 7, "crashed": true, "main": true}]}
    }));
    assert_eq!(crashed.main_thread, Some(true));
    assert_eq!(EventFacts::from_event_json(&json!([])).level, "error");
}
