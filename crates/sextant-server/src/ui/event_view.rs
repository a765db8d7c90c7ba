//! One event's normalized JSON turned into what the event view shows: the exception chain
//! with frames (source context, local variables), breadcrumbs and the context tables.
//! Pure; every string stays raw here and is escaped by the template.

use serde_json::Value;

use crate::serialize::format_secs;

pub struct SourceLine {
    pub no: String,
    pub code: String,
    pub current: bool,
}

pub struct FrameView {
    pub function: String,
    pub location: String,
    pub module: String,
    pub in_app: bool,
    pub lines: Vec<SourceLine>,
    pub vars: Vec<(String, String)>,
}

pub struct ExceptionView {
    pub ty: String,
    pub value: String,
    pub mechanism: String,
    pub unhandled: bool,
    /// Most recent call first.
    pub frames: Vec<FrameView>,
}

pub struct Crumb {
    pub time: String,
    pub category: String,
    pub level: String,
    pub message: String,
}

pub struct Section {
    pub name: String,
    pub rows: Vec<(String, String)>,
}

pub struct EventView {
    pub message: String,
    /// Most recent exception (the one raised) first.
    pub exceptions: Vec<ExceptionView>,
    pub breadcrumbs: Vec<Crumb>,
    pub tags: Vec<(String, String)>,
    /// User, request, contexts and extra data, one table each.
    pub sections: Vec<Section>,
}

/// A value for display: strings as they are, anything else as compact JSON.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).map(show).unwrap_or_default()
}

fn rows(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), show(v))).collect(),
        _ => Vec::new(),
    }
}

fn frame(f: &Value) -> FrameView {
    let lineno = f.get("lineno").and_then(Value::as_i64);
    let file = [f.get("filename"), f.get("abs_path"), f.get("module")]
        .into_iter()
        .flatten()
        .find_map(Value::as_str)
        .unwrap_or("?");
    let location = match (lineno, f.get("colno").and_then(Value::as_i64)) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    };
    let mut lines = Vec::new();
    if let Some(line) = lineno {
        let list = |key: &str| -> Vec<String> {
            f.get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(show).collect())
                .unwrap_or_default()
        };
        let pre = list("pre_context");
        let start = line - pre.len() as i64;
        for (i, code) in pre.into_iter().enumerate() {
            lines.push(SourceLine {
                no: (start + i as i64).to_string(),
                code,
                current: false,
            });
        }
        if let Some(code) = f.get("context_line").and_then(Value::as_str) {
            lines.push(SourceLine {
                no: line.to_string(),
                code: code.to_string(),
                current: true,
            });
        }
        for (i, code) in list("post_context").into_iter().enumerate() {
            lines.push(SourceLine {
                no: (line + 1 + i as i64).to_string(),
                code,
                current: false,
            });
        }
    }
    let vars = match f.get("vars") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                (k.clone(), shown)
            })
            .collect(),
        _ => Vec::new(),
    };
    FrameView {
        function: f
            .get("function")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        location,
        module: text(f, "module"),
        in_app: f.get("in_app").and_then(Value::as_bool).unwrap_or(false),
        lines,
        vars,
    }
}

fn exception(e: &Value) -> ExceptionView {
    let mechanism = e.get("mechanism");
    let frames = e
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .map(|fs| fs.iter().rev().map(frame).collect())
        .unwrap_or_default();
    ExceptionView {
        ty: text(e, "type"),
        value: text(e, "value"),
        mechanism: mechanism.map(|m| text(m, "type")).unwrap_or_default(),
        unhandled: mechanism
            .and_then(|m| m.get("handled"))
            .and_then(Value::as_bool)
            == Some(false),
        frames,
    }
}

fn crumb(c: &Value) -> Crumb {
    let time = c
        .get("timestamp")
        .and_then(Value::as_f64)
        .and_then(format_secs)
        .map(|t| t.get(11..23).unwrap_or(&t).to_string())
        .unwrap_or_default();
    let mut message = text(c, "message");
    if let Some(data) = c
        .get("data")
        .filter(|d| d.as_object().is_some_and(|m| !m.is_empty()))
    {
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(&data.to_string());
    }
    Crumb {
        time,
        category: text(c, "category"),
        level: c.get("level").map(show).unwrap_or_else(|| "info".into()),
        message,
    }
}

pub fn event_view(ev: &Value) -> EventView {
    let mut exceptions: Vec<ExceptionView> = ev
        .pointer("/exception/values")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().map(exception).collect())
        .unwrap_or_default();
    exceptions.reverse();
    // A thread's stack (message events with attach_stacktrace) shows like an exception.
    if exceptions.is_empty()
        && let Some(frames) = ev.pointer("/stacktrace/frames").and_then(Value::as_array)
    {
        exceptions.push(ExceptionView {
            ty: "Stack trace".into(),
            value: String::new(),
            mechanism: String::new(),
            unhandled: false,
            frames: frames.iter().rev().map(frame).collect(),
        });
    }
    let message = ev
        .pointer("/logentry/formatted")
        .or_else(|| ev.pointer("/logentry/message"))
        .or_else(|| ev.get("message"))
        .map(show)
        .unwrap_or_default();
    let breadcrumbs = ev
        .pointer("/breadcrumbs/values")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(crumb).collect())
        .unwrap_or_default();
    let tags = match ev.get("tags") {
        Some(Value::Array(pairs)) => pairs
            .iter()
            .filter_map(|p| Some((show(p.get(0)?), show(p.get(1)?))))
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), show(v))).collect(),
        _ => Vec::new(),
    };
    let mut sections = Vec::new();
    for (name, value) in [("User", ev.get("user")), ("Request", ev.get("request"))] {
        let rows = rows(value);
        if !rows.is_empty() {
            sections.push(Section {
                name: name.into(),
                rows,
            });
        }
    }
    if let Some(Value::Object(contexts)) = ev.get("contexts") {
        for (name, ctx) in contexts {
            let rows: Vec<_> = rows(Some(ctx))
                .into_iter()
                .filter(|(k, _)| k != "type")
                .collect();
            if !rows.is_empty() {
                sections.push(Section {
                    name: name.clone(),
                    rows,
                });
            }
        }
    }
    let extra = rows(ev.get("extra"));
    if !extra.is_empty() {
        sections.push(Section {
            name: "Additional data".into(),
            rows: extra,
        });
    }
    EventView {
        message,
        exceptions,
        breadcrumbs,
        tags,
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exception_chain_frames_and_crumbs() {
        let ev = json!({
            "exception": {"values": [
                {"type": "KeyError", "value": "cause"},
                {"type": "TypeError", "value": "<script>", "mechanism": {"type": "generic", "handled": false},
                 "stacktrace": {"frames": [
                    {"function": "outer", "filename": "a.py", "lineno": 3, "in_app": false},
                    {"function": "inner", "filename": "b.py", "lineno": 10, "in_app": true,
                     "pre_context": ["x = 1"], "context_line": "boom()", "post_context": ["y"],
                     "vars": {"total": "60", "items": [1, 2]}}
                 ]}}
            ]},
            "breadcrumbs": {"values": [{"timestamp": 1.5, "category": "auth", "message": "in"}]},
            "user": {"id": "42"},
            "tags": [["feature", "checkout"]],
        });
        let v = event_view(&ev);
        assert_eq!(v.exceptions[0].ty, "TypeError");
        assert!(v.exceptions[0].unhandled);
        assert_eq!(v.exceptions[1].ty, "KeyError");
        let top = &v.exceptions[0].frames[0];
        assert_eq!(top.function, "inner");
        assert!(top.in_app);
        assert_eq!(top.lines.len(), 3);
        assert!(top.lines[1].current && top.lines[1].no == "10");
        assert_eq!(top.vars[1].0, "total");
        assert_eq!(v.breadcrumbs[0].category, "auth");
        assert_eq!(
            v.tags,
            vec![("feature".to_string(), "checkout".to_string())]
        );
        assert_eq!(v.sections[0].name, "User");
    }
}
