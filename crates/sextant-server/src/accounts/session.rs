//! Browser sessions: the cookie, its lifetime, and the cross-site checks applied to every
//! state-changing request (the per-session CSRF token is checked by the UI handlers).

use axum::http::{HeaderMap, HeaderValue, header};

use crate::api::auth::hash_token;

pub const COOKIE: &str = "sextant_session";
/// Sessions last two weeks from sign-in.
pub const LIFETIME_MS: i64 = 14 * 24 * 60 * 60 * 1000;
/// Header htmx-style requests (and our fetch calls) carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session secret from the `Cookie` header, if any.
pub fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Digest under which a session secret is stored.
pub fn secret_hash(secret: &str) -> String {
    hash_token(secret)
}

/// `Set-Cookie` for a new session. `Secure` when the public URL is https.
pub fn set_cookie(secret: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = LIFETIME_MS / 1000;
    HeaderValue::from_str(&format!(
        "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Whether a state-changing request may come from where it says it comes from. Browsers
/// send `Sec-Fetch-Site` and `Origin` on cross-site POSTs; a request from another site is
/// refused even before its CSRF token is looked at. Requests without either header (old
/// browsers, scripts) fall through to the token check.
pub fn same_origin(headers: &HeaderMap, base_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let origin = origin.trim_end_matches('/');
            origin == base_url.trim_end_matches('/')
                || origin
                    .split_once("://")
                    .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
        }
    }
}

/// Constant-time comparison for tokens.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookie_parsing() {
        let h = headers(&[("cookie", "a=1; sextant_session=abc ; b=2")]);
        assert_eq!(cookie_secret(&h).as_deref(), Some("abc"));
        assert_eq!(cookie_secret(&headers(&[("cookie", "a=1")])), None);
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let base = "http://127.0.0.1:9000";
        assert!(same_origin(&headers(&[]), base));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:9000"),
                ("sec-fetch-site", "same-origin")
            ]),
            base
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            base
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            base
        ));
        assert!(!same_origin(
            &headers(&[("origin", "http://evil.example")]),
            base
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://sextant.local:8080"),
                ("host", "sextant.local:8080")
            ]),
            base
        ));
    }

    #[test]
    fn cookies_are_http_only_and_lax() {
        let c = set_cookie("s", true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!set_cookie("s", false).to_str().unwrap().contains("Secure"));
    }
}
