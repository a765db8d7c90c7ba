//! Request authentication carriers (§2): `X-Sentry-Auth`, `Authorization: Sentry|Basic`,
//! query-string keys, plus DSN parsing.

mod dsn;

pub use dsn::{Dsn, DsnError, format_dsn, parse_dsn};

use base64::Engine;

/// Credentials extracted from one auth carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Public key, `.flags` suffix stripped; `[A-Za-z0-9]+`.
    pub public_key: String,
    /// Protocol version (integer part of `sentry_version`), default 7.
    pub version: u32,
    /// `sentry_client` (SDK `name/version`), informational.
    pub client: Option<String>,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing public key (sentry_key)")]
    MissingKey,
    #[error("bad sentry DSN public key")]
    BadKey,
    #[error("unsupported protocol version {0} (sentry_version must be <= 8)")]
    UnsupportedVersion(u32),
    #[error("malformed sentry auth: {0}")]
    Malformed(String),
}

/// Highest protocol version Relay accepts.
const MAX_VERSION: u32 = 8;
const DEFAULT_VERSION: u32 = 7;

/// Parses an `X-Sentry-Auth` or `Authorization: Sentry …` value. `Ok(None)` when the value
/// does not start with `sentry ` (case-insensitive), i.e. it is not a Sentry auth header.
pub fn parse_auth_header(value: &str) -> Result<Option<Auth>, AuthError> {
    let Some(prefix) = value.get(..7) else {
        return Ok(None);
    };
    if !prefix.eq_ignore_ascii_case("sentry ") {
        return Ok(None);
    }
    let pairs = value[7..].split(',').filter_map(|part| {
        let (k, v) = part.split_once('=')?;
        Some((k.trim().to_owned(), v.trim().to_owned()))
    });
    from_pairs(pairs).map(Some)
}

/// Parses auth from a query string (URL-form-decoded). `Ok(None)` when no key starts with
/// `sentry_`.
pub fn parse_auth_query(query: &str) -> Result<Option<Auth>, AuthError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect();
    if !pairs.iter().any(|(k, _)| k.starts_with("sentry_")) {
        return Ok(None);
    }
    from_pairs(pairs.into_iter().filter(|(k, _)| k.starts_with("sentry_"))).map(Some)
}

/// `Authorization: Basic base64(public_key:anything)`; only the part before `:` is used.
pub fn parse_basic_auth(value: &str) -> Option<Auth> {
    let prefix = value.get(..6)?;
    if !prefix.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let encoded = value[6..].trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let key = text.split(':').next().unwrap_or_default();
    Some(Auth {
        public_key: validate_key(key).ok()?,
        version: DEFAULT_VERSION,
        client: None,
    })
}

/// Checks a public key as Relay does: non-empty, flags after 32 chars stripped,
/// alphanumeric. Returns the bare key.
pub fn validate_key(key: &str) -> Result<String, AuthError> {
    if key.is_empty() {
        return Err(AuthError::MissingKey);
    }
    let key = match key.as_bytes().get(32) {
        Some(b'.') => &key[..32],
        _ => key,
    };
    if key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(key.to_owned())
    } else {
        Err(AuthError::BadKey)
    }
}

fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Auth, AuthError> {
    let mut key = None;
    let mut version = None;
    let mut client = None;
    for (k, v) in pairs {
        // sentry-types accepts both `sentry_key` and bare `key`.
        match k.strip_prefix("sentry_").unwrap_or(&k) {
            "key" => key = Some(v),
            "version" => version = Some(v),
            "client" => client = Some(v).filter(|c| !c.is_empty()),
            _ => {}
        }
    }
    let public_key = validate_key(key.as_deref().unwrap_or_default())?;
    let version = match version {
        None => DEFAULT_VERSION,
        Some(v) => {
            let int = v.split('.').next().unwrap_or_default().trim();
            int.parse::<u32>()
                .map_err(|_| AuthError::Malformed(format!("invalid sentry_version {v:?}")))?
        }
    };
    if version > MAX_VERSION {
        return Err(AuthError::UnsupportedVersion(version));
    }
    Ok(Auth {
        public_key,
        version,
        client,
    })
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; invalid
/// escapes are kept literally.
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "e12d836b15bb49d7bbf99e64295d995b";

    #[test]
    fn observed_header_variants() {
        let py = parse_auth_header(&format!(
            "Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(py.public_key, KEY);
        assert_eq!(py.version, 7);
        assert_eq!(py.client.as_deref(), Some("sentry.python/2.75.0"));

        let rust = parse_auth_header(&format!(
            "Sentry sentry_key={KEY}, sentry_version=7, sentry_timestamp=1795512722.669579, sentry_client=sentry.rust/0.49.5"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(rust.client.as_deref(), Some("sentry.rust/0.49.5"));

        let raven = parse_auth_header(&format!(
            "Sentry sentry_timestamp=1795512730.1, sentry_client=raven-python/6.10.0, sentry_version=6, sentry_key={KEY}, sentry_secret=7f3c2a9b1d4e4f6a8b0c2d4e6f8a0b1c"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(raven.version, 6);
        assert_eq!(raven.public_key, KEY);

        let lower = parse_auth_header(&format!("sentry sentry_key={KEY}"))
            .unwrap()
            .unwrap();
        assert_eq!(lower.version, 7);
        assert_eq!(lower.client, None);
    }

    #[test]
    fn header_rules() {
        assert_eq!(parse_auth_header("Bearer abc"), Ok(None));
        assert_eq!(parse_auth_header("Sent"), Ok(None));
        assert_eq!(
            parse_auth_header("Sentry sentry_version=7"),
            Err(AuthError::MissingKey)
        );
        assert_eq!(
            parse_auth_header("Sentry sentry_key="),
            Err(AuthError::MissingKey)
        );
        assert_eq!(
            parse_auth_header("Sentry sentry_key=ab-cd"),
            Err(AuthError::BadKey)
        );
        assert_eq!(
            parse_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version=9")),
            Err(AuthError::UnsupportedVersion(9))
        );
        assert!(matches!(
            parse_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version=x")),
            Err(AuthError::Malformed(_))
        ));
        let flagged = parse_auth_header(&format!(
            "Sentry sentry_key={KEY}.no-cache, sentry_version=7.1"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(flagged.public_key, KEY);
        assert_eq!(flagged.version, 7);
    }

    #[test]
    fn query_auth() {
        let q = format!(
            "sentry_version=7&sentry_key={KEY}&sentry_client=sentry.javascript.node%2F11.12.0"
        );
        let auth = parse_auth_query(&q).unwrap().unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(
            auth.client.as_deref(),
            Some("sentry.javascript.node/11.12.0")
        );
        assert_eq!(parse_auth_query("status=ok&x=1"), Ok(None));
        assert_eq!(parse_auth_query(""), Ok(None));
        assert_eq!(
            parse_auth_query("sentry_version=7"),
            Err(AuthError::MissingKey)
        );
        assert_eq!(form_decode("a+b%20c%zz"), "a b c%zz");
    }

    #[test]
    fn basic_auth() {
        use base64::Engine;
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:whatever"))
        );
        assert_eq!(parse_basic_auth(&value).unwrap().public_key, KEY);
        assert_eq!(parse_basic_auth("Basic !!!"), None);
        assert_eq!(parse_basic_auth("Bearer x"), None);
    }

    #[test]
    fn error_messages_are_readable() {
        assert_eq!(
            AuthError::MissingKey.to_string(),
            "missing public key (sentry_key)"
        );
        assert!(AuthError::UnsupportedVersion(9).to_string().contains('9'));
    }
}
