//! Issue grouping (§14): default hashes from exceptions/threads/stack/message with app
//! and system variants, custom fingerprints, and display metadata.

mod fingerprint;
mod frames;
mod message;
mod metadata;

pub use message::normalize_message;
pub use metadata::{IssueMetadata, issue_metadata};

use md5::{Digest, Md5};
use serde_json::Value;

use crate::event::Event;
use crate::jsonval::path;

/// Stored with each hash so a future algorithm change can be told apart.
pub const GROUPING_CONFIG: &str = "sextant:2026-11";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub config: &'static str,
    /// 32-hex MD5 hashes, primary first, deduplicated. Empty for transactions.
    pub hashes: Vec<String>,
}

impl Grouping {
    pub fn primary(&self) -> Option<&str> {
        self.hashes.first().map(String::as_str)
    }
}

pub fn group(event: &Event) -> Grouping {
    let hashes = match event.event_type() {
        "transaction" => Vec::new(),
        // Every feedback is its own issue; derive from the id so reprocessing is stable.
        "feedback" => vec![hash(["feedback", event.event_id()])],
        _ => fingerprint::hashes(event),
    };
    Grouping {
        config: GROUPING_CONFIG,
        hashes,
    }
}

/// MD5 over the parts with a NUL separator, so `["ab","c"]` and `["a","bc"]` differ.
pub(crate) fn hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Md5::new();
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Contributing values of one source for one variant, plus whether a frame contributed
/// (the app variant only counts when one did).
#[derive(Default)]
struct Variant {
    values: Vec<String>,
    frames_contribute: bool,
}

impl Variant {
    /// Appends one exception's component: its frames, then its type, then its value when
    /// no frame contributed.
    fn push_exception(&mut self, stack: Vec<String>, ty: Option<&str>, value: Option<&str>) {
        let stack_contributes = !stack.is_empty();
        self.frames_contribute |= stack_contributes;
        let mut component = stack;
        if let Some(ty) = ty {
            component.push(format!("type:{ty}"));
        }
        if !stack_contributes && let Some(value) = value {
            component.push(format!("value:{}", normalize_message(value)));
        }
        if !component.is_empty() {
            self.values.push("exception".to_owned());
            self.values.extend(component);
        }
    }
}

/// The (system, app) variants of an exception chain.
fn exception_chain(exceptions: &[Value], platform: &str) -> (Variant, Variant) {
    let (mut system, mut app) = (Variant::default(), Variant::default());
    for exc in exceptions {
        let stack = exc
            .get("stacktrace")
            .map(|st| frames::stack_values(st, platform))
            .unwrap_or_default();
        let synthetic =
            path(exc, &["mechanism", "synthetic"]).and_then(Value::as_bool) == Some(true);
        let ty = exc
            .get("type")
            .and_then(Value::as_str)
            .filter(|_| !synthetic);
        let value = exc.get("value").and_then(Value::as_str);
        system.push_exception(stack.system, ty, value);
        app.push_exception(stack.app, ty, value);
    }
    (system, app)
}

/// The (system, app) variants of a bare stacktrace.
fn stack_variants(stacktrace: &Value, platform: &str) -> (Variant, Variant) {
    let values = frames::stack_values(stacktrace, platform);
    let variant = |values: Vec<String>| Variant {
        frames_contribute: !values.is_empty(),
        values,
    };
    (variant(values.system), variant(values.app))
}

/// App hash first when in-app frames contribute, then the system hash. Both variants use
/// the same prefix so an all-in-app stack yields one hash (as Sentry dedupes variants).
fn variant_hashes(source: &str, app: Variant, system: Variant) -> Vec<String> {
    let digest =
        |values: &[String]| hash(std::iter::once(source).chain(values.iter().map(String::as_str)));
    let system_hash = digest(&system.values);
    // An all-in-app stack gives the same values twice: hashing them once is enough.
    if !app.frames_contribute || app.values == system.values {
        return vec![system_hash];
    }
    vec![digest(&app.values), system_hash]
}

/// Sentry's default grouping: first contributing source wins.
pub(crate) fn default_hashes(event: &Event) -> Vec<String> {
    let platform = event.platform();
    let exceptions = event.exceptions();
    if !exceptions.is_empty() {
        let (system, app) = exception_chain(exceptions, platform);
        if !system.values.is_empty() {
            return variant_hashes("exception", app, system);
        }
    }
    if let Some(stack) = single_thread_stack(event) {
        let (system, app) = stack_variants(stack, platform);
        if system.frames_contribute {
            return variant_hashes("threads", app, system);
        }
    }
    if let Some(stack) = event.get("stacktrace") {
        let (system, app) = stack_variants(stack, platform);
        if system.frames_contribute {
            return variant_hashes("stacktrace", app, system);
        }
    }
    if let Some(text) = grouping_message(event) {
        return vec![hash(["message", &normalize_message(&text)])];
    }
    let field = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default();
    vec![hash([
        "fallback",
        event.event_type(),
        field("logger"),
        field("transaction"),
    ])]
}

/// The template when present, so params do not split groups.
fn grouping_message(event: &Event) -> Option<String> {
    let entry = event.get("logentry")?;
    ["message", "formatted"]
        .iter()
        .find_map(|k| {
            entry
                .get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        })
        .map(str::to_owned)
}

/// Sentry only groups by threads when exactly one thread carries a stack.
fn single_thread_stack(event: &Event) -> Option<&Value> {
    let threads = event.get("threads")?.get("values")?.as_array()?;
    let mut stacks = threads.iter().filter_map(|t| t.get("stacktrace"));
    let first = stacks.next()?;
    stacks.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    //! Grouping behaviour: stability across line numbers and params, splits on real
    //! differences, custom fingerprints.

    use serde_json::{Value, json};

    use super::*;
    use crate::event::{NormalizeContext, normalize_event};

    fn event(v: Value) -> Event {
        normalize_event(
            &serde_json::to_vec(&v).unwrap(),
            &NormalizeContext::new(1_795_512_000.0),
        )
        .unwrap()
    }

    fn hashes(v: Value) -> Vec<String> {
        group(&event(v)).hashes
    }

    fn error_with(frames: Value) -> Value {
        json!({"platform": "python", "exception": {"values": [{"type": "ValueError", "value": "bad 1", "stacktrace": {"frames": frames}}]}})
    }

    #[test]
    fn line_numbers_do_not_matter() {
        let a =
            error_with(json!([{"module": "app", "function": "f", "lineno": 1, "in_app": true}]));
        let b = error_with(
            json!([{"module": "app", "function": "f", "lineno": 99, "colno": 3, "in_app": true}]),
        );
        assert_eq!(hashes(a.clone()), hashes(b));
        assert_eq!(
            hashes(a).len(),
            1,
            "all frames in-app: app and system variants coincide"
        );
    }

    #[test]
    fn different_stacks_split() {
        let a = error_with(json!([{"module": "app", "function": "f", "in_app": true}]));
        let b = error_with(json!([{"module": "app", "function": "g", "in_app": true}]));
        assert_ne!(hashes(a), hashes(b));
    }

    #[test]
    fn app_variant_is_primary_and_system_secondary() {
        let a = error_with(json!([
            {"module": "lib", "function": "call", "in_app": false},
            {"module": "app", "function": "f", "in_app": true}
        ]));
        let b = error_with(json!([
            {"module": "otherlib", "function": "call", "in_app": false},
            {"module": "app", "function": "f", "in_app": true}
        ]));
        let (ha, hb) = (hashes(a), hashes(b));
        assert_eq!(ha.len(), 2);
        assert_eq!(ha[0], hb[0], "same in-app frames → same primary");
        assert_ne!(ha[1], hb[1]);
    }

    #[test]
    fn value_only_used_without_stack() {
        let with_stack = |v: &str| json!({"exception": [{"type": "E", "value": v, "stacktrace": {"frames": [{"function": "f", "in_app": true}]}}]});
        assert_eq!(hashes(with_stack("a")), hashes(with_stack("b")));
        let bare = |v: &str| json!({"exception": [{"type": "ParseIntError", "value": v}]});
        assert_eq!(
            hashes(bare("invalid digit 42")),
            hashes(bare("invalid digit 7"))
        );
        assert_ne!(hashes(bare("invalid digit")), hashes(bare("empty string")));
    }

    #[test]
    fn messages_group_by_template_and_normalized_text() {
        let tpl = |p: Value| json!({"logentry": {"message": "Payment %s failed", "params": [p]}});
        assert_eq!(hashes(tpl(json!("p-1"))), hashes(tpl(json!("p-2"))));
        let msg = |m: &str| json!({ "message": m });
        assert_eq!(
            hashes(msg("Disk usage above 90% on db-1")),
            hashes(msg("Disk usage above 95% on db-2"))
        );
        assert_eq!(
            hashes(msg("order 550e8400-e29b-41d4-a716-446655440000 failed")),
            hashes(msg("order 123e4567-e89b-12d3-a456-426614174000 failed"))
        );
        assert_ne!(hashes(msg("Disk full")), hashes(msg("Disk empty")));
    }

    #[test]
    fn custom_fingerprint_overrides() {
        let a = json!({"message": "one", "fingerprint": ["my-group"]});
        let b = json!({"message": "two", "fingerprint": ["my-group"]});
        assert_eq!(hashes(a.clone()), hashes(b));
        assert_eq!(hashes(a).len(), 1);
        assert_ne!(
            hashes(json!({"message": "one"})),
            hashes(json!({"message": "one", "fingerprint": ["x"]}))
        );
    }

    #[test]
    fn default_placeholder_combines() {
        let base = json!({"message": "one"});
        let only_default = json!({"message": "one", "fingerprint": ["{{ default }}"]});
        assert_eq!(hashes(base.clone()), hashes(only_default));
        let combined =
            |m: &str, extra: &str| json!({"message": m, "fingerprint": ["{{default}}", extra]});
        assert_ne!(hashes(combined("one", "payments")), hashes(base));
        assert_eq!(
            hashes(combined("one", "payments")),
            hashes(combined("one", "payments"))
        );
        assert_ne!(
            hashes(combined("one", "payments")),
            hashes(combined("two", "payments"))
        );
        assert_ne!(
            hashes(combined("one", "payments")),
            hashes(combined("one", "billing"))
        );
    }

    #[test]
    fn fingerprint_variables() {
        let fp = |ty: &str, tx: &str| json!({"transaction": tx, "exception": [{"type": ty}], "fingerprint": ["{{ error.type }}", "{{ transaction }}", "{{ tags.site }}", "{{ nope }}"], "tags": {"site": "eu"}});
        assert_eq!(hashes(fp("E", "/a")), hashes(fp("E", "/a")));
        assert_ne!(hashes(fp("E", "/a")), hashes(fp("F", "/a")));
        assert_ne!(hashes(fp("E", "/a")), hashes(fp("E", "/b")));
    }

    #[test]
    fn threads_and_top_level_stack_sources() {
        let st = |f: &str| json!({"frames": [{"function": f, "in_app": true}]});
        let t = |f: &str| json!({"message": "m", "threads": {"values": [{"id": 1, "stacktrace": st(f)}]}});
        assert_eq!(hashes(t("a")), hashes(t("a")));
        assert_ne!(hashes(t("a")), hashes(t("b")));
        assert_ne!(hashes(t("a")), hashes(json!({"message": "m"})));
        let s = |f: &str| json!({"message": "m", "stacktrace": st(f)});
        assert_ne!(hashes(s("a")), hashes(s("b")));
    }

    #[test]
    fn transactions_and_feedback() {
        let tx = json!({"type": "transaction", "start_timestamp": 1795511999.0, "timestamp": 1795512000.0,
                        "contexts": {"trace": {"trace_id": "a", "span_id": "b"}}});
        assert!(hashes(tx).is_empty());
        let fb = |id: &str| json!({"type": "feedback", "event_id": id});
        assert_ne!(
            hashes(fb("9ec79c33ec9942ab8353589fcb2e04dc")),
            hashes(fb("cfd39707bf024b29ae33ae796217fb7f"))
        );
    }

    #[test]
    fn fallback_is_constant() {
        assert_eq!(hashes(json!({})), hashes(json!({"extra": {"a": 1}})));
    }

    #[test]
    fn metadata_shapes() {
        let e = event(
            json!({"platform": "python", "exception": [{"type": "KeyError", "value": "'x'\nmore",
            "stacktrace": {"frames": [{"module": "app.views", "function": "get", "filename": "app/views.py", "in_app": true}]}}]}),
        );
        let m = issue_metadata(&e);
        assert_eq!(m.title, "KeyError: 'x'");
        assert_eq!(m.culprit, "app.views in get");
        assert_eq!(
            m.metadata,
            json!({"type": "KeyError", "value": "'x'\nmore", "filename": "app/views.py", "function": "get"})
        );

        let js = event(
            json!({"platform": "javascript", "message": "boom", "exception": [{"value": "boom", "mechanism": {"type": "generic", "synthetic": true},
            "stacktrace": {"frames": [{"function": "go", "filename": "/app.js", "in_app": true}]}}]}),
        );
        let m = issue_metadata(&js);
        assert_eq!(m.title, "boom");
        assert_eq!(m.culprit, "go(/app.js)");
        assert!(m.metadata.get("type").is_none());

        let msg = issue_metadata(&event(
            json!({"message": "hello\nworld", "transaction": "/t"}),
        ));
        assert_eq!((msg.title.as_str(), msg.culprit.as_str()), ("hello", "/t"));
        assert_eq!(issue_metadata(&event(json!({}))).title, "<unlabeled event>");
        let csp = issue_metadata(&event(
            json!({"type": "csp", "csp": {"effective_directive": "script-src", "blocked_uri": "https://evil.com/x.js"}}),
        ));
        assert_eq!(csp.title, "Blocked 'script-src' from 'evil.com'");
    }

    /// Stored issues are found again by these digests, so the bytes hashed must never change.
    #[test]
    fn hash_input_is_the_parts_joined_by_nul() {
        assert_eq!(hash(["ab", "c"]), "cf1aa1426d75f0e4c1a49da3b28808ef");
        assert_eq!(hash(["a", "bc"]), "a5f5d1ebd362d6639389a7e1fede534d");
        assert_eq!(
            hash(std::iter::empty::<&str>()),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        let long = "x".repeat(100);
        assert_eq!(
            hash(["exception", &long, "é"]),
            "6869b3718fa040ba12cac6f4807244f7"
        );
    }
}
