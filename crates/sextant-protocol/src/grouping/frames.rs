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

fn str_of<'a>(frame: &'a Value, key: &str) -> Option<&'a str> {
    frame
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn frame_platform<'a>(frame: &'a Value, event_platform: &'a str) -> &'a str {
    str_of(frame, "platform").unwrap_or(event_platform)
}

/// Contributing values of a stacktrace, oldest frame first. Empty when nothing
/// contributes. `app_only` selects the app variant (only `in_app: true` frames).
pub(super) fn stack_values(
    stacktrace: &Value,
    event_platform: &str,
    app_only: bool,
) -> Vec<String> {
    let Some(frames) = stacktrace.get("frames").and_then(Value::as_array) else {
        return Vec::new();
    };
    if let [only] = frames.as_slice() {
        let platform = frame_platform(only, event_platform);
        let at_url = str_of(only, "abs_path").is_some_and(is_url);
        if is_js(platform) && str_of(only, "function").is_none() && at_url {
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    let mut previous: Option<&Value> = None;
    for frame in frames {
        let recursion = previous.is_some_and(|p| same_frame(p, frame));
        previous = Some(frame);
        if recursion {
            continue;
        }
        if app_only && frame.get("in_app").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let values = frame_values(frame, frame_platform(frame, event_platform));
        if !values.is_empty() {
            out.push("frame".to_owned());
            out.extend(values);
        }
    }
    out
}

fn same_frame(a: &Value, b: &Value) -> bool {
    [
        "abs_path", "package", "module", "filename", "function", "lineno", "colno",
    ]
    .iter()
    .all(|k| a.get(*k) == b.get(*k))
}

fn frame_values(frame: &Value, platform: &str) -> Vec<String> {
    let abs_path = str_of(frame, "abs_path");
    let function_raw = str_of(frame, "function");
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
    match str_of(frame, "module").and_then(|m| clean_module(m, platform, abs_path)) {
        Some(module) => out.push(format!("module:{module}")),
        None => {
            if let Some(name) = str_of(frame, "filename").and_then(|f| filename_value(f, abs_path))
            {
                out.push(format!("filename:{name}"));
            }
        }
    }
    let function = if platform == "csharp" {
        str_of(frame, "raw_function").or(function_raw)
    } else {
        function_raw.or_else(|| str_of(frame, "raw_function"))
    };
    let function = function.and_then(|f| clean_function(f, platform));
    if let Some(f) = &function {
        out.push(format!("function:{f}"));
    }
    if CONTEXT_LINE_PLATFORMS.contains(&platform)
        && let Some(line) = str_of(frame, "context_line")
    {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        let js_url_no_fn = is_js(platform) && function.is_none() && abs_path.is_some_and(is_url);
        if !collapsed.is_empty() && collapsed.len() <= MAX_CONTEXT_LINE && !js_url_no_fn {
            out.push(format!("context:{collapsed}"));
        }
    }
    out
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
            frame_values(&py, "python"),
            vec![
                "module:__main__",
                "function:checkout",
                "context:return total / discount"
            ]
        );
        let bundle = json!({"filename": "app.js", "abs_path": "https://x.io/app.js", "function": "a.b", "context_line": "x"});
        assert_eq!(
            frame_values(&bundle, "javascript"),
            vec!["function:b", "context:x"]
        );
        let native = json!({"filename": "Rt.rs", "function": "main", "context_line": "x"});
        assert_eq!(
            frame_values(&native, "native"),
            vec!["filename:rt.rs", "function:main"]
        );
        let eval = json!({"function": "eval", "filename": "x.js"});
        assert!(frame_values(&eval, "javascript").is_empty());
    }

    #[test]
    fn recursion_and_app_variant() {
        let f = json!({"module": "m", "function": "f", "lineno": 1, "in_app": true});
        let g = json!({"module": "m", "function": "g", "lineno": 2});
        let st = json!({"frames": [f.clone(), f.clone(), g]});
        assert_eq!(
            stack_values(&st, "python", false),
            vec![
                "frame",
                "module:m",
                "function:f",
                "frame",
                "module:m",
                "function:g"
            ]
        );
        assert_eq!(
            stack_values(&st, "python", true),
            vec!["frame", "module:m", "function:f"]
        );
    }
}
