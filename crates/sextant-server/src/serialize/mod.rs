//! Pure conversions from storage records to Sentry-shaped API JSON, plus the small
//! formatting helpers (timestamps, short ids, releases) they share.

mod entries;
mod event;
mod issue;
mod project;

pub use event::{event_json, event_list_item};
pub use issue::{issue_json, status_response};
pub use project::{
    attachment_json, key_json, org_json, project_json, tag_key_json, tag_value_json,
};

pub use crate::clock::format_ms;
pub use crate::releases::serialize::short_version;

use serde_json::{Value, json};
use sextant_storage::Millis;

/// A float-seconds timestamp from an event payload, as RFC 3339.
pub fn format_secs(secs: f64) -> Option<String> {
    secs.is_finite()
        .then(|| format_ms((secs * 1000.0).round() as Millis))
}

pub fn base36_upper(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Sentry's short id: `{PROJECT-SLUG}-{issue id in base 36}`, upper case.
pub fn short_id(project_slug: &str, issue_id: i64) -> String {
    format!(
        "{}-{}",
        project_slug.to_uppercase(),
        base36_upper(issue_id.max(0).unsigned_abs())
    )
}

/// Reads a short id back, given the slug of the project it must belong to.
pub fn parse_short_id(short: &str, project_slug: &str) -> Option<i64> {
    let (prefix, suffix) = short.rsplit_once('-')?;
    if !prefix.eq_ignore_ascii_case(project_slug) {
        return None;
    }
    i64::from_str_radix(suffix, 36).ok().filter(|id| *id > 0)
}

/// The project part of a short id (everything before the last `-`), lower-cased.
pub fn short_id_slug(short: &str) -> Option<String> {
    short.rsplit_once('-').map(|(slug, _)| slug.to_lowercase())
}

/// `{"version", "shortVersion"}` or `null`, Sentry's release reference object.
pub fn release_ref(version: Option<&str>) -> Value {
    match version {
        Some(v) => json!({ "version": v, "shortVersion": short_version(v) }),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(format_ms(1_767_261_600_123), "2026-01-01T10:00:00.123Z");
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_secs(1_767_261_600.5).as_deref(),
            Some("2026-01-01T10:00:00.500Z")
        );
        assert_eq!(format_secs(f64::NAN), None);
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("my-app", 1), "MY-APP-1");
        assert_eq!(short_id("web", 36), "WEB-10");
        assert_eq!(short_id("web", 1295), "WEB-ZZ");
        assert_eq!(parse_short_id("WEB-ZZ", "web"), Some(1295));
        assert_eq!(parse_short_id("my-app-1", "my-app"), Some(1));
        assert_eq!(parse_short_id("WEB-ZZ", "api"), None);
        assert_eq!(parse_short_id("WEB-", "web"), None);
        assert_eq!(short_id_slug("MY-APP-1F").as_deref(), Some("my-app"));
    }

    #[test]
    fn releases() {
        assert_eq!(short_version("frontend@2.4.1"), "2.4.1");
        assert_eq!(short_version("1.0"), "1.0");
        assert_eq!(short_version("@odd"), "@odd");
        assert_eq!(
            short_version("0123456789abcdef0123456789abcdef01234567"),
            "0123456789ab"
        );
        assert_eq!(
            release_ref(Some("a@1")),
            json!({"version": "a@1", "shortVersion": "1"})
        );
        assert_eq!(release_ref(None), Value::Null);
    }
}
