//! Outbound HTTP requests (alert deliveries), all through one client under one policy,
//! because their URLs are user input that could otherwise reach the server's own network.
//!
//! - Refused unless allowed: loopback, private (RFC 1918), shared (CGNAT), link-local,
//!   unique-local, unspecified, multicast, broadcast, documentation and reserved
//!   addresses, the IPv6 forms that carry one of them (IPv4-mapped, NAT64, 6to4), and
//!   cloud metadata (169.254.169.254, fd00:ec2::254, `metadata.google.internal`).
//! - `outbound.allow` lifts a refusal: a host name entry for that name whatever it
//!   resolves to, an address or CIDR entry for the addresses in it. A metadata address
//!   needs an entry naming it alone, so allowing a link-local range does not hand out
//!   the machine's cloud credentials.
//! - A name is resolved once and the connection goes only to an address that passed,
//!   so DNS rebinding cannot swap in a refused one; an address given as the URL's host is
//!   never resolved and is checked before sending.
//! - No proxy from the environment (it would resolve names itself), no redirects (a
//!   redirect could point anywhere; a 3xx is the answer), a connect and a total timeout,
//!   and a bound on the response bytes read.
//! - Errors show a URL as `scheme://host[:port]` only: webhook URLs carry their secret in
//!   the path or query.

pub mod config;
mod policy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

pub use config::{AllowEntry, Outbound};
pub use policy::OutboundPolicy;

/// Response body bytes kept as text for a delivery log.
const EXCERPT_BYTES: usize = 1024;

/// Why an outbound request failed, in words fit for a delivery log. No variant holds a
/// URL's path, query or user info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("refused by the outbound policy: {reason}")]
    Refused { reason: String },
    #[error("invalid URL: {reason}")]
    InvalidUrl { reason: String },
    #[error("{target} did not answer within {after_ms} ms")]
    Timeout { target: String, after_ms: u64 },
    #[error("could not connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("{reason}")]
    Other { reason: String },
}

/// An answer, whatever its status (a redirect is not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The start of the body (at most 1 KiB, cut on a character boundary), as lossy UTF-8.
    pub excerpt: String,
    /// The body as read: at most `outbound.max_response_bytes`.
    pub body: Vec<u8>,
    /// From sending the request to the end of the body read.
    pub duration_ms: u64,
}

/// The HTTP client for outbound requests. Cheap to clone.
#[derive(Clone)]
pub struct OutboundClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    policy: Arc<OutboundPolicy>,
    config: Outbound,
}

impl OutboundClient {
    pub fn new(config: &Outbound) -> Result<Self, OutboundError> {
        // reqwest is built without a TLS provider of its own; ring is already in the tree.
        // An error only means a provider was installed before, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = Arc::new(OutboundPolicy::new(config));
        let http = reqwest::Client::builder()
            .user_agent(concat!("sextant/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .timeout(Duration::from_millis(config.timeout_ms))
            .dns_resolver(PolicyResolver {
                policy: Arc::clone(&policy),
            })
            .build()
            .map_err(|error| OutboundError::Other {
                reason: format!("could not set up the HTTP client: {}", deepest(&error)),
            })?;
        Ok(OutboundClient {
            inner: Arc::new(Inner {
                http,
                policy,
                config: config.clone(),
            }),
        })
    }

    /// The longest a request may take, connecting and reading the body included.
    pub fn total_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.config.timeout_ms)
    }

    /// The policy requests are held to, e.g. to check a URL when it is saved.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.inner.policy
    }

    /// POSTs `body` to `url` with `headers` (besides `User-Agent: sextant/<version>`).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Response, OutboundError> {
        let url = Url::parse(url).map_err(|error| OutboundError::InvalidUrl {
            reason: error.to_string(),
        })?;
        self.inner.policy.check_url(&url)?;
        let target = target(&url);
        let mut request = self.inner.http.post(url).body(body);
        for (name, value) in headers {
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| OutboundError::Other {
                    reason: format!("invalid header name {name:?}"),
                })?;
            // The value may be a credential: the error names only the header.
            let value = HeaderValue::from_str(value).map_err(|_| OutboundError::Other {
                reason: format!("invalid value for header {name}"),
            })?;
            request = request.header(name, value);
        }
        let started = Instant::now();
        let mut response = request
            .send()
            .await
            .map_err(|error| self.failure(error, &target))?;
        let status = response.status().as_u16();
        let cap = self.inner.config.max_response_bytes;
        let mut read = Vec::new();
        while read.len() < cap {
            let chunk = response
                .chunk()
                .await
                .map_err(|error| self.failure(error, &target))?;
            let Some(chunk) = chunk else { break };
            let room = cap - read.len();
            read.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        // Dropping the response closes the connection on whatever was left unread.
        drop(response);
        Ok(Response {
            status,
            excerpt: excerpt(&read),
            body: read,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    fn failure(&self, error: reqwest::Error, target: &str) -> OutboundError {
        let error = error.without_url();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(cause) = source {
            // A refusal by the resolver travels up as the connection's cause.
            if let Some(own) = cause.downcast_ref::<OutboundError>() {
                return own.clone();
            }
            source = cause.source();
        }
        let target = target.to_string();
        if error.is_timeout() {
            let config = &self.inner.config;
            let after_ms = match error.is_connect() {
                true => config.connect_timeout_ms,
                false => config.timeout_ms,
            };
            return OutboundError::Timeout { target, after_ms };
        }
        let reason = deepest(&error);
        match error.is_connect() {
            true => OutboundError::Connect { target, reason },
            false => OutboundError::Other {
                reason: format!("request to {target} failed: {reason}"),
            },
        }
    }
}

/// Resolves with the system resolver and hands the connector only the addresses the
/// policy passes, so the address connected to is one that was checked.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str();
            let resolved = tokio::net::lookup_host((host, 0)).await?;
            let addrs = policy.check_resolved(host, resolved)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// `scheme://host[:port]`: what an error may show of a URL.
fn target(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The innermost cause's message: the outer ones only say "error sending request".
fn deepest(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The first `EXCERPT_BYTES` of `body`, cut before a character that would straddle the
/// end, as lossy UTF-8.
fn excerpt(body: &[u8]) -> String {
    let mut end = body.len().min(EXCERPT_BYTES);
    // Back off over continuation bytes (at most three) to the start of the cut character.
    let continuation = |byte: u8| byte & 0b1100_0000 == 0b1000_0000;
    if end < body.len() {
        let start = end.saturating_sub(3);
        while end > start && continuation(body[end]) {
            end -= 1;
        }
    }
    String::from_utf8_lossy(&body[..end]).into_owned()
}

#[cfg(test)]
mod tests;
