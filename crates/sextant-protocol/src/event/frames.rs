//! Stack traces and frames (§8.4): coercion, `in_app` path rules, frame-count limits.

use serde_json::{Map, Value};

use super::trim::trim_string;
use crate::jsonval::scalar_to_string;

const MAX_FRAMES: usize = 250;
/// Beyond this many frames, middle frames lose vars and surrounding source.
const FRAME_DATA_ALLOWANCE: usize = 50;
const MAX_PATH: usize = 256;

/// Normalizes a stacktrace object; `None` when it has no usable frames.
pub(super) fn normalize_stacktrace(value: Value) -> Option<Value> {
    let Value::Object(mut st) = value else {
        return None;
    };
    let Some(Value::Array(raw_frames)) = st.remove("frames") else {
        return None;
    };
    let mut frames: Vec<Value> = raw_frames
        .into_iter()
        .filter_map(|f| match f {
            Value::Object(map) => Some(Value::Object(normalize_frame(map))),
            _ => None,
        })
        .collect();
    if frames.is_empty() {
        return None;
    }
    // Frames are oldest first; the newest (crash site) matter most.
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
    slim_frame_data(&mut frames);
    st.retain(|_, v| !v.is_null());
    if st.get("registers").is_some_and(|r| !r.is_object()) {
        st.remove("registers");
    }
    st.insert("frames".into(), Value::Array(frames));
    Some(Value::Object(st))
}

fn normalize_frame(mut frame: Map<String, Value>) -> Map<String, Value> {
    // One pass over the frame's own keys: fields are usually already well-typed, so each
    // is checked in place and rewritten only when needed.
    frame.retain(|key, value| match key.as_str() {
        "lineno" | "colno" => coerce_line_number(value),
        "function" | "raw_function" | "module" | "package" | "filename" | "abs_path" | "symbol" => {
            coerce_path(value)
        }
        "context_line" => value.is_string(),
        "pre_context" | "post_context" => value.is_array(),
        // Trimmed once frames have their final places (`frame_vars`).
        "vars" => value.is_object() || value.is_array(),
        _ => !value.is_null(),
    });
    match frame.get("in_app") {
        Some(Value::Bool(_)) if !is_runtime_function(&frame) => {}
        _ => {
            frame.remove("in_app");
            if is_library_path(&frame) || is_runtime_function(&frame) {
                frame.insert("in_app".into(), false.into());
            }
        }
    }
    frame
}

/// A line or column number as an unsigned integer; `false` when it cannot be one.
fn coerce_line_number(value: &mut Value) -> bool {
    if value.is_u64() {
        return true;
    }
    let number = match value {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match number {
        Some(n) => {
            *value = n.into();
            true
        }
        None => false,
    }
}

/// A name or path as a non-empty string, cut to [`MAX_PATH`]; `false` when it cannot be one.
fn coerce_path(value: &mut Value) -> bool {
    match value {
        Value::String(s) if !s.is_empty() => {
            trim_string(s, MAX_PATH);
            true
        }
        Value::Number(_) | Value::Bool(_) => {
            *value = Value::String(scalar_to_string(value).unwrap_or_default());
            true
        }
        _ => false,
    }
}

/// Out-of-app path conventions. These markers are unambiguous across platforms, so they
/// are applied regardless of the frame's platform.
fn is_library_path(frame: &Map<String, Value>) -> bool {
    ["abs_path", "filename"].iter().any(|key| {
        let Some(p) = frame.get(*key).and_then(Value::as_str) else {
            return false;
        };
        let p = if p.contains('\\') {
            std::borrow::Cow::Owned(p.replace('\\', "/"))
        } else {
            std::borrow::Cow::Borrowed(p)
        };
        p.starts_with("node:") || p.starts_with("/rustc/") || has_library_dir(&p)
    })
}

/// Whether a path has one of the directories that hold installed packages. One pass over
/// its slashes: this runs for every frame, and a substring search per directory name
/// costs several times more.
fn has_library_dir(path: &str) -> bool {
    const DIRS: [&str; 5] = [
        "site-packages/",
        "dist-packages/",
        "node_modules/",
        ".cargo/registry/",
        "cargo/registry/",
    ];
    path.match_indices('/')
        .any(|(at, _)| DIRS.iter().any(|dir| path[at + 1..].starts_with(dir)))
}

/// Native runtime and SDK frames that the Rust SDK flags `in_app: true` although they are
/// not the user's code (`__libc_start_main_impl`, `__rustc::rust_begin_unwind`,
/// `sentry_panic::…`). Sentry's server-side stack-trace rules override these flags too;
/// without this the culprit would be the SDK's panic handler.
fn is_runtime_function(frame: &Map<String, Value>) -> bool {
    const CRATES: [&str; 5] = ["std", "core", "alloc", "__rustc", "sentry"];
    const EXACT: [&str; 4] = ["_start", "rust_begin_unwind", "__rust_try", "<unknown>"];
    if matches!(
        frame.get("package").and_then(Value::as_str),
        Some("std" | "core" | "alloc")
    ) {
        return true;
    }
    let Some(function) = frame.get("function").and_then(Value::as_str) else {
        return false;
    };
    if EXACT.contains(&function) || function.starts_with("__libc_start") {
        return true;
    }
    // `<&dyn core::ops::Fn…>::call` and `<T as Trait>::f` belong to the type's crate.
    let bare = function.trim_start_matches(['<', '&']);
    let bare = bare.strip_prefix("dyn ").unwrap_or(bare);
    let bare = bare.strip_prefix("mut ").unwrap_or(bare);
    // The first `::` found byte by byte: `split_once("::")` sets up a substring searcher
    // on every call, which cost more than the rest of a frame's normalization.
    let bytes = bare.as_bytes();
    match bytes.windows(2).position(|pair| pair == b"::") {
        Some(end) => {
            let krate = &bare[..end];
            CRATES.contains(&krate) || krate.starts_with("sentry_")
        }
        None => false,
    }
}

/// Relay's `slim_frame_data`: keep data on in-app frames and on both ends of the system
/// frames, strip it from the middle.
fn slim_frame_data(frames: &mut [Value]) {
    if frames.len() <= FRAME_DATA_ALLOWANCE {
        return;
    }
    let (app, system): (Vec<usize>, Vec<usize>) = (0..frames.len())
        .partition(|&i| frames[i].get("in_app").and_then(Value::as_bool) == Some(true));
    let mut strip = Vec::new();
    let system_half = FRAME_DATA_ALLOWANCE.saturating_sub(app.len()) / 2;
    if system.len() > system_half * 2 {
        strip.extend_from_slice(&system[system_half..system.len() - system_half]);
    }
    if app.len() > FRAME_DATA_ALLOWANCE {
        let half = FRAME_DATA_ALLOWANCE / 2;
        strip.extend_from_slice(&app[half..app.len() - half]);
    }
    for i in strip {
        if let Value::Object(frame) = &mut frames[i] {
            frame.remove("vars");
            frame.remove("pre_context");
            frame.remove("post_context");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn coerces_frame_fields_and_sets_in_app() {
        let st = normalize_stacktrace(json!({"frames": [
            {"lineno": "12", "colno": -1, "abs_path": "/venv/lib/python3.11/site-packages/x.py", "function": 5},
            {"abs_path": "node:internal/timers"},
            {"abs_path": "/app/node_modules/express/index.js", "in_app": true},
            {"abs_path": "/rustc/abc/library/std/src/rt.rs"},
            {"abs_path": "/cargo/registry/src/index/tokio-1.0/src/lib.rs"},
            {"abs_path": "/app/main.py"},
            "junk"
        ]}))
        .unwrap();
        let frames = st["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 6);
        assert_eq!(frames[0]["lineno"], 12);
        assert!(frames[0].get("colno").is_none());
        assert_eq!(frames[0]["function"], "5");
        let in_app: Vec<_> = frames.iter().map(|f| f.get("in_app").cloned()).collect();
        assert_eq!(
            in_app,
            vec![
                Some(json!(false)),
                Some(json!(false)),
                Some(json!(true)),
                Some(json!(false)),
                Some(json!(false)),
                None
            ]
        );
    }

    #[test]
    fn library_directories_anywhere_in_the_path() {
        for path in [
            "/venv/lib/python3.11/site-packages/x.py",
            "/usr/lib/python3/dist-packages/apt/x.py",
            "/app/node_modules/express/index.js",
            "/home/me/.cargo/registry/src/index/tokio-1.0/src/lib.rs",
            "/cargo/registry/src/x.rs",
            "C:/Python311/Lib/site-packages/x.py",
        ] {
            assert!(has_library_dir(path), "{path}");
        }
        for path in [
            "site-packages/x.py",
            "/app/site-packages.py",
            "/app/my_node_modules/x.js",
            "/app/registry/cargo/x.rs",
            "/",
            "",
        ] {
            assert!(!has_library_dir(path), "{path}");
        }
    }

    #[test]
    fn runtime_frames_are_not_in_app() {
        let st = normalize_stacktrace(json!({"frames": [
            {"function": "sentry_panic::panic_handler", "in_app": true},
            {"function": "<&dyn core::ops::function::Fn<()> as x>::call", "in_app": true},
            {"function": "__libc_start_main_impl", "in_app": true},
            {"function": "helper", "package": "std", "in_app": true},
            {"function": "sentrycap::main", "in_app": true},
            {"function": "_start_server", "in_app": true},
            {"function": "sentry_wrapped"},
        ]}))
        .unwrap();
        let in_app: Vec<_> = st["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.get("in_app").and_then(Value::as_bool))
            .collect();
        assert_eq!(
            in_app,
            vec![
                Some(false),
                Some(false),
                Some(false),
                Some(false),
                Some(true),
                Some(true),
                None
            ]
        );
    }

    #[test]
    fn limits_frames() {
        let frames: Vec<Value> = (0..300)
            .map(|i| json!({"function": format!("f{i}"), "vars": {"i": i}, "pre_context": ["x"]}))
            .collect();
        let st = normalize_stacktrace(json!({ "frames": frames })).unwrap();
        let frames = st["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 250);
        assert_eq!(frames[0]["function"], "f50", "oldest frames dropped");
        assert!(frames[0].get("vars").is_some());
        assert!(frames[100].get("vars").is_none());
        assert!(frames[100].get("pre_context").is_none());
        assert!(frames[249].get("vars").is_some());
    }

    #[test]
    fn empty_stacks_are_dropped() {
        assert_eq!(normalize_stacktrace(json!({"frames": []})), None);
        assert_eq!(normalize_stacktrace(json!({"frames": "x"})), None);
    }
}
