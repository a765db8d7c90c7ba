//! Browser sessions: the cookie, its lifetime, and the cross-site checks applied to every
//! state-changing request (the per-session CSRF token is checked by the UI handlers).

use axum::http::{HeaderMap, HeaderValue, header};

use super::token::hash_token;

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
///
/// The `Origin` must be that of `base_url`. Only when `host_fallback` is set (no public
/// URL is configured, so the server cannot know the name it is reached by) may it
/// instead match the request's `Host`; with a public URL that fallback would let a
/// DNS-rebound name pass, since the browser then sends that name as both.
pub fn same_origin(headers: &HeaderMap, base_url: &str, host_fallback: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""))
    else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    // An opaque origin serializes as "null", which sandboxed frames send: never a match.
    let base = url::Url::parse(base_url).map(|u| u.origin());
    if base.is_ok_and(|o| o.is_tuple() && o.ascii_serialization() == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    host_fallback
        && origin
            .split_once("://")
            .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
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
        for fallback in [true, false] {
            let same = |pairs: &[(&'static str, &'static str)]| {
                same_origin(&headers(pairs), base, fallback)
            };
            assert!(same(&[]));
            assert!(same(&[
                ("origin", "http://127.0.0.1:9000"),
                ("sec-fetch-site", "same-origin")
            ]));
            assert!(!same(&[("sec-fetch-site", "cross-site")]));
            assert!(!same(&[("sec-fetch-site", "same-site")]));
            assert!(!same(&[("origin", "http://evil.example")]));
            assert!(!same(&[("origin", "null")]));
        }
        // Reached by another name: accepted only while no public URL says which is right.
        let by_host = headers(&[
            ("origin", "http://sextant.local:8080"),
            ("host", "sextant.local:8080"),
        ]);
        assert!(same_origin(&by_host, base, true));
        assert!(!same_origin(&by_host, base, false));
    }

    #[test]
    fn a_public_url_admits_its_own_origin_only() {
        let public = "https://Sextant.Example.com:443/monitoring";
        let ok = headers(&[("origin", "https://sextant.example.com")]);
        assert!(same_origin(&ok, public, false));
        // A DNS-rebound name arrives as both Origin and Host.
        let rebound = headers(&[
            ("origin", "http://rebind.example:9000"),
            ("host", "rebind.example:9000"),
        ]);
        assert!(!same_origin(&rebound, public, false));
        for other in [
            "http://sextant.example.com",
            "https://sextant.example.com:8443",
            "https://evil.sextant.example.com",
        ] {
            let mut h = HeaderMap::new();
            h.insert("origin", HeaderValue::from_str(other).unwrap());
            assert!(!same_origin(&h, public, false), "{other}");
        }
    }

    #[test]
    fn cookies_are_http_only_and_lax() {
        let c = set_cookie("s", true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!set_cookie("s", false).to_str().unwrap().contains("Secure"));
    }
}
