//! HTTP plumbing for the harness: fully-read responses, body framing, auth headers and
//! URL encoding.

use serde_json::Value;

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response ({}) is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// First header with this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a request body is framed.
pub enum Body {
    None,
    /// With `Content-Length`.
    Bytes(Vec<u8>),
    /// With `Transfer-Encoding: chunked` and no `Content-Length`, as @sentry/node sends.
    Chunked(Vec<u8>),
}

pub fn body_json(r: &Resp) -> Value {
    if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(r.text()))
    }
}

/// `X-Sentry-Auth` value for a key, as sentry-python writes it.
pub fn sentry_auth(public_key: &str) -> String {
    format!("Sentry sentry_key={public_key}, sentry_version=7, sentry_client=sextant-e2e/1.0")
}

/// Percent-encodes a query-string value.
pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
