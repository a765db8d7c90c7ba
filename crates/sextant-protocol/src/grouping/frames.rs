//! Stack-trace grouping components (§14.4): which frame values contribute and how
//! function/module names are cleaned per platform.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

static JAVA_CODEGEN: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"\$\$Lambda\$[\w$/]*", "$$$$Lambda$$"),
        (
            r"\$\$(EnhancerBy|FastClassBy)(CGLIB|SpringCGLIB)\$\$[0-9a-fA-F]+",
            "$$$$${1}${2}$$$$",
        ),
        (r"_\$\$_javassist_\d+", "_$$$$_javassist_"),
        (r"\$\$_jvst[0-9a-fA-F]+_[0-9a-fA-F]+", "$$$$_jvst"),
        (r"GeneratedMethodAccessor\d+", "GeneratedMethodAccessor"),
    ]
    .into_iter()
    .map(|(re, rep)| (Regex::new(re).expect("java codegen regex"), rep))
    .collect()
});

static RUBY_ERB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"_\d{2,}$").expect("erb suffix regex"));

const CONTEXT_LINE_PLATFORMS: [&str; 5] = ["python", "javascript", "node", "php", "ruby"];
const MAX_CONTEXT_LINE: usize = 120;

fn is_js(platform: &str) -> bool {
    matches!(platform, "javascript" | "node")
}

fn is_native(platform: &str) -> bool {
    matches!(
        platform,
        "native" | "c" | "cpp" | "cocoa" | "objc" | "swift" | "rust"
    )
}

fn is_java(platform: &str) -> bool {
    matches!(platform, "java" | "groovy" | "scala" | "kotlin")
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The fields of one frame that grouping reads, found in one pass over its keys rather
/// than one map lookup per field and per comparison.
#[derive(Default)]
struct Frame<'a> {
    abs_path: Option<&'a Value>,
    package: Option<&'a Value>,
    module: Option<&'a Value>,
    filename: Option<&'a Value>,
    function: Option<&'a Value>,
    raw_function: Option<&'a Value>,
    lineno: Option<&'a Value>,
    colno: Option<&'a Value>,
    platform: Option<&'a Value>,
    context_line: Option<&'a Value>,
    in_app: Option<&'a Value>,
}

impl<'a> Frame<'a> {
    fn of(frame: &'a Value) -> Frame<'a> {
        let mut out = Frame::default();
        for (key, value) in frame.as_object().into_iter().flatten() {
            let slot = match key.as_str() {
                "abs_path" => &mut out.abs_path,
                "package" => &mut out.package,
                "module" => &mut out.module,
                "filename" => &mut out.filename,
                "function" => &mut out.function,
                "raw_function" => &mut out.raw_function,
                "lineno" => &mut out.lineno,
                "colno" => &mut out.colno,
                "platform" => &mut out.platform,
                "context_line" => &mut out.context_line,
                "in_app" => &mut out.in_app,
                _ => continue,
            };
            *slot = Some(value);
        }
        out
    }

    /// Recursion: the same code location as the frame before.
    fn same_location(&self, other: &Frame<'_>) -> bool {
        self.abs_path == other.abs_path
            && self.package == other.package
            && self.module == other.module
            && self.filename == other.filename
            && self.function == other.function
            && self.lineno == other.lineno
            && self.colno == other.colno
    }

    fn in_app(&self) -> bool {
        self.in_app.and_then(Value::as_bool) == Some(true)
    }

    fn platform(&self, event_platform: &'a str) -> &'a str {
        non_empty(self.platform).unwrap_or(event_platform)
    }
}

/// A string field, when it is one and not empty.
fn non_empty(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Contributing values of a stacktrace for both variants, oldest frame first.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct StackValues {
    /// Every contributing frame.
    pub system: Vec<String>,
    /// Only `in_app: true` frames.
    pub app: Vec<String>,
}

/// Contributing values of a stacktrace, oldest frame first, for the system and app
/// variants in one pass: each frame's values are worked out once and go to both.
/// A variant is empty when nothing contributes to it.
pub(super) fn stack_values(stacktrace: &Value, event_platform: &str) -> StackValues {
    let mut out = StackValues::default();
    let Some(frames) = stacktrace.get("frames").and_then(Value::as_array) else {
        return out;
    };
    if let [only] = frames.as_slice() {
        let only = Frame::of(only);
        let at_url = non_empty(only.abs_path).is_some_and(is_url);
        if is_js(only.platform(event_platform)) && non_empty(only.function).is_none() && at_url {
            return out;
        }
    }
    let mut previous: Option<Frame<'_>> = None;
    for frame in frames {
        let frame = Frame::of(frame);
        let recursion = previous.as_ref().is_some_and(|p| p.same_location(&frame));
        let frame = previous.insert(frame);
        if recursion {
            continue;
        }
        let values = frame_values(frame, frame.platform(event_platform));
        if values.is_empty() {
            continue;
        }
        if frame.in_app() {
            out.app.push("frame".to_owned());
            out.app.extend(values.iter().cloned());
        }
        out.system.push("frame".to_owned());
        out.system.extend(values);
    }
    out
}

fn frame_values(frame: &Frame<'_>, platform: &str) -> Vec<String> {
    let abs_path = non_empty(frame.abs_path);
    let function_raw = non_empty(frame.function);
    if is_js(platform)
        && (function_raw == Some("eval")
            || abs_path.is_some_and(|p| {
                matches!(
                    p,
                    "[native code]" | "native code" | "eval code" | "<anonymous>"
                )
            }))
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    match non_empty(frame.module).and_then(|m| clean_module(m, platform, abs_path)) {
        Some(module) => out.push(component("module:", &module)),
        None => {
            if let Some(name) = non_empty(frame.filename).and_then(|f| filename_value(f, abs_path))
            {
                out.push(component("filename:", &name));
            }
        }
    }
    let function = if platform == "csharp" {
        non_empty(frame.raw_function).or(function_raw)
    } else {
        function_raw.or_else(|| non_empty(frame.raw_function))
    };
    let function = function.and_then(|f| clean_function(f, platform));
    if let Some(f) = &function {
        out.push(component("function:", f));
    }
    if CONTEXT_LINE_PLATFORMS.contains(&platform)
        && let Some(line) = non_empty(frame.context_line)
    {
        const PREFIX: &str = "context:";
        let mut value = String::with_capacity(PREFIX.len() + line.len());
        value.push_str(PREFIX);
        collapse_whitespace(line, &mut value);
        let collapsed = value.len() - PREFIX.len();
        let js_url_no_fn = is_js(platform) && function.is_none() && abs_path.is_some_and(is_url);
        if collapsed > 0 && collapsed <= MAX_CONTEXT_LINE && !js_url_no_fn {
            out.push(value);
        }
    }
    out
}

/// `kind` followed by `value`: built directly, since `format!` costs several times as
/// much for the two or three of these every frame of every event gets.
fn component(kind: &str, value: &str) -> String {
    let mut out = String::with_capacity(kind.len() + value.len());
    out.push_str(kind);
    out.push_str(value);
    out
}

/// Appends `line` with its whitespace runs collapsed to one space and its ends trimmed,
/// as `split_whitespace` joined by spaces would. Source lines are nearly always ASCII,
/// where a byte scan finds the words much faster than decoding each character.
fn collapse_whitespace(line: &str, out: &mut String) {
    let start_len = out.len();
    let mut push_word = |word: &str| {
        if out.len() > start_len {
            out.push(' ');
        }
        out.push_str(word);
    };
    if !line.is_ascii() {
        line.split_whitespace().for_each(push_word);
        return;
    }
    // The ASCII characters `char::is_whitespace` accepts.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let bytes = line.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        let word = at;
        while at < bytes.len() && !is_space(bytes[at]) {
            at += 1;
        }
        if word < at {
            push_word(&line[word..at]);
        }
    }
}

fn clean_module(module: &str, platform: &str, abs_path: Option<&str>) -> Option<String> {
    // A JS "module" that just repeats the file path carries bundle-specific noise.
    if is_js(platform) && module.contains('/') && abs_path.is_some_and(|p| p.ends_with(module)) {
        return None;
    }
    if is_java(platform) {
        let mut cleaned = module.to_owned();
        for (re, rep) in JAVA_CODEGEN.iter() {
            cleaned = re.replace_all(&cleaned, *rep).into_owned();
        }
        return Some(cleaned);
    }
    Some(module.to_owned())
}

fn filename_value(filename: &str, abs_path: Option<&str>) -> Option<String> {
    let ignored = |p: &str| is_url(p) || matches!(p, "<anonymous>" | "[native code]");
    if ignored(filename) || abs_path.is_some_and(ignored) {
        return None;
    }
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    (!base.is_empty()).then(|| base.to_lowercase())
}

/// Platform-specific function name cleanup; `None` when the name carries no signal.
pub(super) fn clean_function(function: &str, platform: &str) -> Option<String> {
    let f = function.trim();
    if is_js(platform) {
        let f = match f.find(" [as ") {
            Some(i) if f.ends_with(']') => &f[..i],
            _ => f,
        };
        if matches!(
            f,
            "?" | "<anonymous>" | "<anonymous function>" | "Anonymous function"
        ) || f.ends_with("/<")
        {
            return None;
        }
        let last = f.rsplit('.').next().unwrap_or(f);
        return (!last.is_empty() && last != "?" && last != "<anonymous>").then(|| last.to_owned());
    }
    if is_native(platform) {
        if matches!(f, "<unknown>" | "<redacted>") {
            return None;
        }
        let stripped = strip_native(f);
        return (!stripped.is_empty()).then_some(stripped);
    }
    if is_java(platform) && f.starts_with("lambda$") {
        return None;
    }
    if platform == "ruby" {
        if f.starts_with("block ") {
            return Some("block".to_owned());
        }
        return Some(RUBY_ERB.replace(f, "").into_owned());
    }
    if platform == "php" && (f.contains("{closure}") || f.contains("class@anonymous")) {
        return None;
    }
    Some(f.to_owned())
}

/// Drops template arguments, parameter lists, return types and Rust hash suffixes:
/// `std::panic::catch_unwind::<F, R>` → `std::panic::catch_unwind`.
fn strip_native(f: &str) -> String {
    // Legacy Rust mangling appends `::h<16 hex>`.
    let split = f
        .len()
        .checked_sub(19)
        .and_then(|i| Some((f.get(..i)?, f.get(i..)?)));
    let f = match split {
        Some((head, tail))
            if tail.starts_with("::h") && tail[3..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            head
        }
        _ => f,
    };
    let mut out = String::with_capacity(f.len());
    let mut depth = 0usize;
    for c in f.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let out = out.trim();
    // `int main` → `main`: a leading return type is separated by a space.
    let out = out.rsplit(' ').next().unwrap_or(out);
    out.trim_matches(':').to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn function_cleanup() {
        assert_eq!(clean_function("Object.?", "node"), None);
        assert_eq!(
            clean_function("Function.executeUserEntryPoint [as runMain]", "node").as_deref(),
            Some("executeUserEntryPoint")
        );
        assert_eq!(clean_function("<anonymous>", "javascript"), None);
        assert_eq!(clean_function("foo/<", "javascript"), None);
        assert_eq!(
            clean_function(
                "std::panic::catch_unwind::<std::rt::lang_start_internal::{closure#0}, isize>",
                "native"
            )
            .as_deref(),
            Some("std::panic::catch_unwind")
        );
        assert_eq!(
            clean_function("core::fmt::write::h0123456789abcdef", "native").as_deref(),
            Some("core::fmt::write")
        );
        assert_eq!(
            clean_function("int main(int, char**)", "c").as_deref(),
            Some("main")
        );
        assert_eq!(clean_function("<unknown>", "native"), None);
        assert_eq!(clean_function("lambda$run$0", "java"), None);
        assert_eq!(
            clean_function("block in process", "ruby").as_deref(),
            Some("block")
        );
        assert_eq!(clean_function("{closure}", "php"), None);
        assert_eq!(
            clean_function("<module>", "python").as_deref(),
            Some("<module>")
        );
    }

    #[test]
    fn whitespace_collapses_as_split_whitespace_does() {
        for line in [
            "    return total /   discount",
            "\tx\x0b=\x0c1\r\n",
            "",
            "   ",
            "a",
            "caf\u{e9}\u{a0}au\u{2003}lait  x",
        ] {
            let mut out = String::new();
            collapse_whitespace(line, &mut out);
            assert_eq!(
                out,
                line.split_whitespace().collect::<Vec<_>>().join(" "),
                "{line:?}"
            );
        }
    }

    #[test]
    fn java_modules() {
        assert_eq!(
            clean_module("com.x.Foo$$Lambda$123/0x000000080012", "java", None).as_deref(),
            Some("com.x.Foo$$Lambda$")
        );
        assert_eq!(
            clean_module("sun.reflect.GeneratedMethodAccessor42", "java", None).as_deref(),
            Some("sun.reflect.GeneratedMethodAccessor")
        );
        assert_eq!(
            clean_module("com.x.Svc$$EnhancerBySpringCGLIB$$abc123", "java", None).as_deref(),
            Some("com.x.Svc$$EnhancerBySpringCGLIB$$")
        );
    }

    #[test]
    fn frame_values_follow_rules() {
        let py = json!({"module": "__main__", "filename": "main.py", "function": "checkout", "lineno": 3,
                        "context_line": "    return total /   discount"});
        assert_eq!(
            frame_values(&Frame::of(&py), "python"),
            vec![
                "module:__main__",
                "function:checkout",
                "context:return total / discount"
            ]
        );
        let bundle = json!({"filename": "app.js", "abs_path": "https://x.io/app.js", "function": "a.b", "context_line": "x"});
        assert_eq!(
            frame_values(&Frame::of(&bundle), "javascript"),
            vec!["function:b", "context:x"]
        );
        let native = json!({"filename": "Rt.rs", "function": "main", "context_line": "x"});
        assert_eq!(
            frame_values(&Frame::of(&native), "native"),
            vec!["filename:rt.rs", "function:main"]
        );
        let eval = json!({"function": "eval", "filename": "x.js"});
        assert!(frame_values(&Frame::of(&eval), "javascript").is_empty());
    }

    #[test]
    fn recursion_and_app_variant() {
        let f = json!({"module": "m", "function": "f", "lineno": 1, "in_app": true});
        let g = json!({"module": "m", "function": "g", "lineno": 2});
        let st = json!({"frames": [f.clone(), f.clone(), g]});
        let values = stack_values(&st, "python");
        assert_eq!(
            values.system,
            vec![
                "frame",
                "module:m",
                "function:f",
                "frame",
                "module:m",
                "function:g"
            ]
        );
        assert_eq!(values.app, vec!["frame", "module:m", "function:f"]);
    }
}
