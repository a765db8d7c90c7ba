//! Minimal browser/OS detection from a `User-Agent`, filling `contexts.browser` and
//! `contexts.os` only when the SDK did not send them (§13.1).

use serde_json::{Map, Value, json};

/// Ordered: Edge and Opera also claim Chrome, Chrome also claims Safari.
const BROWSERS: [(&str, &str); 7] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome Mobile iOS"),
    ("HeadlessChrome/", "HeadlessChrome"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
];

pub(super) fn infer_contexts(data: &mut Map<String, Value>, ua: &str) {
    // Only browsers; SDK transports identify as `sentry.python/…` and must not match.
    if !ua.starts_with("Mozilla/") {
        return;
    }
    let browser = parse_browser(ua);
    let os = parse_os(ua);
    if browser.is_none() && os.is_none() {
        return;
    }
    let contexts = data
        .entry("contexts")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(contexts) = contexts else {
        return;
    };
    for (key, parsed) in [("browser", browser), ("os", os)] {
        if let (false, Some((name, version))) = (contexts.contains_key(key), parsed) {
            let mut ctx = json!({"type": key, "name": name});
            if let Some(version) = version {
                ctx["version"] = version.into();
            }
            contexts.insert(key.into(), ctx);
        }
    }
}

fn token_after<'a>(ua: &'a str, marker: &str) -> Option<&'a str> {
    let start = ua.find(marker)? + marker.len();
    let rest = &ua[start..];
    let end = rest.find([' ', ';', ')']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|v| !v.is_empty())
}

fn parse_browser(ua: &str) -> Option<(String, Option<String>)> {
    BROWSERS.iter().find_map(|(marker, name)| {
        if *marker == "Version/" && !ua.contains("Safari/") {
            return None;
        }
        let version = token_after(ua, marker)?;
        let name = if *name == "Safari" && ua.contains("Mobile/") {
            "Mobile Safari"
        } else {
            name
        };
        Some((name.to_owned(), Some(version.to_owned())))
    })
}

fn parse_os(ua: &str) -> Option<(String, Option<String>)> {
    let dotted = |v: &str| v.replace('_', ".");
    if let Some(v) = token_after(ua, "Windows NT ") {
        let name = match v {
            "10.0" => "10",
            "6.3" => "8.1",
            "6.2" => "8",
            "6.1" => "7",
            other => other,
        };
        return Some(("Windows".into(), Some(name.to_owned())));
    }
    for marker in ["iPhone OS ", "CPU OS "] {
        if let Some(v) = token_after(ua, marker) {
            return Some(("iOS".into(), Some(dotted(v))));
        }
    }
    if let Some(v) = token_after(ua, "Mac OS X ") {
        return Some(("Mac OS X".into(), Some(dotted(v))));
    }
    if let Some(v) = token_after(ua, "Android ") {
        return Some(("Android".into(), Some(v.to_owned())));
    }
    if ua.contains("CrOS") {
        return Some(("Chrome OS".into(), None));
    }
    if ua.contains("Linux") {
        return Some(("Linux".into(), None));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_browsers() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36";
        let mut data = Map::new();
        infer_contexts(&mut data, chrome);
        assert_eq!(
            data["contexts"]["browser"],
            json!({"type": "browser", "name": "Chrome", "version": "120.0.6099.71"})
        );
        assert_eq!(
            data["contexts"]["os"],
            json!({"type": "os", "name": "Linux"})
        );

        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
        assert_eq!(
            parse_browser(safari),
            Some(("Safari".into(), Some("17.1".into())))
        );
        assert_eq!(
            parse_os(safari),
            Some(("Mac OS X".into(), Some("10.15.7".into())))
        );
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36 Edg/120.0.2210.61";
        assert_eq!(parse_browser(edge).unwrap().0, "Edge");
        assert_eq!(parse_os(edge), Some(("Windows".into(), Some("10".into()))));
    }

    #[test]
    fn keeps_sdk_contexts_and_ignores_sdk_agents() {
        let mut data = json!({"contexts": {"os": {"name": "Debian"}}})
            .as_object()
            .unwrap()
            .clone();
        infer_contexts(&mut data, "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0");
        assert_eq!(data["contexts"]["os"], json!({"name": "Debian"}));
        assert_eq!(data["contexts"]["browser"]["name"], "Firefox");
        let mut data = Map::new();
        infer_contexts(&mut data, "sentry.python/2.75.0");
        assert!(data.is_empty());
    }
}
