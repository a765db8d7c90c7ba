//! DSN parsing and formatting (§1): `{scheme}://{key}[:{secret}]@{host}[:{port}][/{prefix}]/{project_id}`.

use std::fmt;
use std::str::FromStr;

/// A parsed DSN. The deprecated secret key is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// `http` or `https`.
    pub scheme: String,
    pub public_key: String,
    /// Host name or IP; IPv6 literals keep their brackets.
    pub host: String,
    /// Explicit port; `None` means the scheme default.
    pub port: Option<u16>,
    /// Empty, or `/seg[/seg…]` without trailing slash.
    pub path_prefix: String,
    pub project_id: u64,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DsnError {
    #[error("DSN has no scheme (expected http:// or https://)")]
    MissingScheme,
    #[error("unsupported DSN scheme {0:?} (expected http or https)")]
    InvalidScheme(String),
    #[error("DSN has no public key before '@'")]
    MissingPublicKey,
    #[error("DSN has no host")]
    MissingHost,
    #[error("DSN port {0:?} is not a valid port number")]
    InvalidPort(String),
    #[error("DSN has no project id path segment")]
    MissingProjectId,
    #[error("DSN project id {0:?} is not a decimal number")]
    InvalidProjectId(String),
}

pub fn parse_dsn(s: &str) -> Result<Dsn, DsnError> {
    let s = s.trim();
    let (scheme, rest) = s.split_once("://").ok_or(DsnError::MissingScheme)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(DsnError::InvalidScheme(scheme));
    }
    // Query strings and fragments are not part of a DSN; tolerate and drop them.
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = authority
        .rsplit_once('@')
        .ok_or(DsnError::MissingPublicKey)?;
    let public_key = userinfo.split(':').next().unwrap_or_default();
    if public_key.is_empty() {
        return Err(DsnError::MissingPublicKey);
    }
    let (host, port) = split_host_port(hostport)?;
    if host.is_empty() {
        return Err(DsnError::MissingHost);
    }
    let path = path.trim_end_matches('/');
    let (prefix, id) = path.rsplit_once('/').ok_or(DsnError::MissingProjectId)?;
    if id.is_empty() {
        return Err(DsnError::MissingProjectId);
    }
    let project_id = id
        .parse::<u64>()
        .map_err(|_| DsnError::InvalidProjectId(id.to_owned()))?;
    Ok(Dsn {
        scheme,
        public_key: public_key.to_owned(),
        host: host.to_owned(),
        port,
        path_prefix: prefix.to_owned(),
        project_id,
    })
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), DsnError> {
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(end) => (&hostport[..=end], hostport[end + 1..].strip_prefix(':')),
            None => return Err(DsnError::MissingHost),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| DsnError::InvalidPort(p.to_owned()))?,
        ),
    };
    Ok((host, port))
}

/// The DSN that SDKs use to reach a server at `base_url` with `public_key` for
/// `project_id`: the inverse of [`parse_dsn`] for a server's own base URL.
pub fn format_dsn(base_url: &str, public_key: &str, project_id: i64) -> String {
    match base_url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{public_key}@{rest}/{project_id}"),
        None => format!("http://{public_key}@{base_url}/{project_id}"),
    }
}

impl Dsn {
    /// Port actually used (explicit, else scheme default).
    pub fn effective_port(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }

    /// `{scheme}://{host}{:port}{prefix}`: what SDKs prepend to `/api/…`.
    pub fn base_url(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{}{}",
            self.scheme, self.host, port, self.path_prefix
        )
    }

    pub fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base_url(), self.project_id)
    }

    pub fn store_url(&self) -> String {
        format!("{}/api/{}/store/", self.base_url(), self.project_id)
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}@{}", self.scheme, self.public_key, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}/{}", self.path_prefix, self.project_id)
    }
}

impl FromStr for Dsn {
    type Err = DsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_dsn(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "http://e12d836b15bb49d7bbf99e64295d995b@127.0.0.1:9000/42",
            "https://abc@sentry.example.com/7",
            "https://abc@example.com/sentry/sub/7",
            "http://abc@[::1]:8080/1",
        ] {
            assert_eq!(parse_dsn(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn formats_what_it_parses() {
        for (base, dsn) in [
            ("http://127.0.0.1:9000", "http://k@127.0.0.1:9000/3"),
            (
                "https://sextant.example.com/sub",
                "https://k@sextant.example.com/sub/3",
            ),
            ("127.0.0.1:9000", "http://k@127.0.0.1:9000/3"),
        ] {
            assert_eq!(format_dsn(base, "k", 3), dsn);
            let parsed = parse_dsn(dsn).unwrap();
            assert_eq!((parsed.public_key.as_str(), parsed.project_id), ("k", 3));
        }
    }

    #[test]
    fn parses_parts_and_drops_secret() {
        let dsn: Dsn = "https://pub:secret@example.com:8443/prefix/42/"
            .parse()
            .unwrap();
        assert_eq!(dsn.scheme, "https");
        assert_eq!(dsn.public_key, "pub");
        assert_eq!(dsn.host, "example.com");
        assert_eq!(dsn.port, Some(8443));
        assert_eq!(dsn.path_prefix, "/prefix");
        assert_eq!(dsn.project_id, 42);
        assert_eq!(dsn.to_string(), "https://pub@example.com:8443/prefix/42");
        assert_eq!(
            dsn.envelope_url(),
            "https://example.com:8443/prefix/api/42/envelope/"
        );
        assert_eq!(dsn.effective_port(), 8443);
    }

    #[test]
    fn errors() {
        assert_eq!(parse_dsn("example.com/1"), Err(DsnError::MissingScheme));
        assert_eq!(
            parse_dsn("ftp://k@h/1"),
            Err(DsnError::InvalidScheme("ftp".into()))
        );
        assert_eq!(parse_dsn("http://h/1"), Err(DsnError::MissingPublicKey));
        assert_eq!(parse_dsn("http://k@/1"), Err(DsnError::MissingHost));
        assert_eq!(
            parse_dsn("http://k@h:99999/1"),
            Err(DsnError::InvalidPort("99999".into()))
        );
        assert_eq!(parse_dsn("http://k@h"), Err(DsnError::MissingProjectId));
        assert_eq!(
            parse_dsn("http://k@h/abc"),
            Err(DsnError::InvalidProjectId("abc".into()))
        );
    }
}
