//! Frame locals (`vars`), trimmed as data bags once the event has its final shape: where
//! a frame ends up (which exception or thread, which index after frames are dropped) is
//! only known then, and each `_meta` note names the path the trimmed value has in the
//! normalized event.

use serde_json::{Map, Value};

use super::meta::{At, Meta};
use super::trim::{BagSize, trim_databag};

pub(super) fn trim(data: &mut Map<String, Value>, meta: &mut Meta) {
    let root = At::ROOT;
    for key in ["exception", "threads"] {
        let Some(Value::Array(entries)) = data.get_mut(key).and_then(|c| c.get_mut("values"))
        else {
            continue;
        };
        let values = root.key(key);
        let values = values.key("values");
        for (i, entry) in entries.iter_mut().enumerate() {
            let Value::Object(entry) = entry else {
                continue;
            };
            let at = values.index(i);
            for (key, stacktrace) in entry.iter_mut() {
                if matches!(key.as_str(), "stacktrace" | "raw_stacktrace") {
                    stacktrace_vars(stacktrace, &at.key(key), meta);
                }
            }
        }
    }
    if let Some(stacktrace) = data.get_mut("stacktrace") {
        stacktrace_vars(stacktrace, &root.key("stacktrace"), meta);
    }
}

fn stacktrace_vars(stacktrace: &mut Value, at: &At<'_>, meta: &mut Meta) {
    let Some(Value::Array(frames)) = stacktrace.get_mut("frames") else {
        return;
    };
    let at = at.key("frames");
    for (i, frame) in frames.iter_mut().enumerate() {
        let Value::Object(frame) = frame else {
            continue;
        };
        // Keys are sorted and `vars` sorts after every key SDKs send in a frame: reading
        // the last entry saves a search in each frame, most of which have no `vars`.
        let vars = match frame.iter_mut().next_back() {
            Some((key, vars)) if key == "vars" => Some(vars),
            Some((key, _)) if key.as_str() < "vars" => None,
            _ => frame.get_mut("vars"),
        };
        if let Some(vars) = vars {
            trim_databag(vars, BagSize::VARS, &at.index(i).key("vars"), meta);
        }
    }
}
