//! The client's address as ingest, throttles and sessions see it: the TCP peer, or the
//! first `X-Forwarded-For` entry when the server is configured to sit behind a proxy.

use std::net::SocketAddr;

use axum::http::HeaderMap;

use crate::config::Config;

/// The client address: the first `X-Forwarded-For` entry when configured to trust it.
pub fn client_ip(config: &Config, headers: &HeaderMap, peer: SocketAddr) -> String {
    if config.trust_forwarded_for
        && let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return first.to_string();
    }
    peer.ip().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_when_trusted() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            " 203.0.113.9 , 10.0.0.2".parse().unwrap(),
        );
        let mut config = Config::default();
        assert_eq!(client_ip(&config, &headers, peer), "10.0.0.1");
        config.trust_forwarded_for = true;
        assert_eq!(client_ip(&config, &headers, peer), "203.0.113.9");
        assert_eq!(client_ip(&config, &HeaderMap::new(), peer), "10.0.0.1");
    }
}
