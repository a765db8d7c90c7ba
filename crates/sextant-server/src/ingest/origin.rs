//! Per-project allowed origins for browser SDKs (Sentry's "allowed domains").
//!
//! Only requests that carry `Origin` (or, without it, `Referer`) are checked, so server
//! SDKs never pay for the lookup. An empty list or `*` allows every origin.

use axum::http::{HeaderMap, header};

use super::error::IngestError;
use crate::state::AppState;

pub async fn check(
    state: &AppState,
    project_id: i64,
    headers: &HeaderMap,
) -> Result<(), IngestError> {
    let Some(origin) = request_origin(headers) else {
        return Ok(());
    };
    let allowed = state
        .store
        .allowed_origins(project_id)
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?;
    if is_allowed(&allowed, &origin) {
        Ok(())
    } else {
        Err(IngestError::OriginNotAllowed(origin))
    }
}

fn request_origin(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))?;
    let value = value.to_str().ok()?.trim();
    // Opaque origins ("null", file://) carry no host to check.
    (!value.is_empty() && value != "null").then(|| value.to_string())
}

/// The host of an origin or URL: `https://app.example.com:8443/x` → `app.example.com`.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.split(':').next().unwrap_or(host)
}

/// Entries are hosts (`example.com`), wildcard subdomains (`*.example.com`), full origins
/// (`https://example.com`, scheme then must match too) or `*`.
pub fn is_allowed(allowed: &[String], origin: &str) -> bool {
    let entries: Vec<&str> = allowed
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() || entries.contains(&"*") {
        return true;
    }
    let host = host_of(origin).to_ascii_lowercase();
    let scheme = origin
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    entries.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        if let Some((entry_scheme, _)) = entry.split_once("://")
            && scheme.as_deref() != Some(entry_scheme)
        {
            return false;
        }
        let pattern = host_of(&entry);
        match pattern.strip_prefix("*.") {
            Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
            None => host == pattern,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn empty_and_star_allow_everything() {
        assert!(is_allowed(&[], "https://evil.test"));
        assert!(is_allowed(&list(&["*"]), "https://evil.test"));
        assert!(is_allowed(&list(&["", "  "]), "https://evil.test"));
    }

    #[test]
    fn hosts_wildcards_and_schemes() {
        let allowed = list(&["example.com", "*.shop.test", "https://secure.test"]);
        assert!(is_allowed(&allowed, "https://example.com"));
        assert!(is_allowed(&allowed, "http://example.com:8080"));
        assert!(!is_allowed(&allowed, "https://www.example.com"));
        assert!(is_allowed(&allowed, "https://eu.shop.test"));
        assert!(is_allowed(&allowed, "https://shop.test/cart?x=1"));
        assert!(!is_allowed(&allowed, "https://evilshop.test"));
        assert!(is_allowed(&allowed, "https://secure.test"));
        assert!(!is_allowed(&allowed, "http://secure.test"));
        assert!(!is_allowed(&allowed, "https://attacker.test"));
    }
}
