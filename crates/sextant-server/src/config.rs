//! Server configuration: one plain struct with defaults, passed explicitly.
//!
//! Layering (defaults → TOML file → `SEXTANT_*` environment → flags) happens in the
//! binary; this crate only sees the result.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::outbound::config::Outbound;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the embedded SQLite database lives when no `database_url` is given.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; overrides `data_dir`.
    pub database_url: Option<String>,
    /// Base URL users and SDKs reach this server at; used in DSNs and links.
    /// Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Take the client IP from the first `X-Forwarded-For` entry (only behind a proxy).
    pub trust_forwarded_for: bool,
    /// Serve first-run setup (creating the first owner) to any client. By default only a
    /// browser on this machine may, so a fresh instance cannot be claimed from outside.
    pub allow_remote_setup: bool,
    pub limits: Limits,
    pub http: Http,
    pub rate_limit: RateLimit,
    pub pipeline: Pipeline,
    /// Release health: automatic post-deploy checks and rollup retention.
    pub releases: crate::releases::config::ReleasesConfig,
    /// Outbound requests (alert deliveries): destinations allowed past the policy,
    /// timeouts and the response bytes read.
    pub outbound: Outbound,
    /// Alert delivery retries and worker pacing.
    pub alerts: crate::alerts::config::AlertsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            data_dir: PathBuf::from("sextant-data"),
            database_url: None,
            public_url: None,
            trust_forwarded_for: false,
            allow_remote_setup: false,
            limits: Limits::default(),
            http: Http::default(),
            rate_limit: RateLimit::default(),
            pipeline: Pipeline::default(),
            releases: crate::releases::config::ReleasesConfig::default(),
            outbound: Outbound::default(),
            alerts: crate::alerts::config::AlertsConfig::default(),
        }
    }
}

impl Config {
    /// The database URL in effect: the explicit one, else SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("sextant.db").display()),
        }
    }

    /// A directory on the database's file system, for the disk-space guard; `None` for
    /// a database on another machine.
    pub fn local_data_path(&self) -> Option<std::path::PathBuf> {
        match &self.database_url {
            None => Some(self.data_dir.clone()),
            Some(url) => url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(|path| std::path::Path::new(path.split('?').next().unwrap_or(path)))
                .and_then(|path| path.parent().map(std::path::Path::to_path_buf))
                .filter(|dir| !dir.as_os_str().is_empty()),
        }
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }
}

/// Request and item size limits, in bytes unless named otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Body bytes as received, before decompression.
    pub max_wire_bytes: usize,
    /// Envelope bytes after decompression.
    pub max_envelope_bytes: usize,
    /// One event, transaction or feedback item; also a whole `/store/` body.
    pub max_event_bytes: usize,
    /// One attachment item.
    pub max_attachment_bytes: usize,
    /// One session/sessions/client-report item.
    pub max_session_bytes: usize,
    /// `session` items in one envelope.
    pub max_session_items: usize,
    /// Span, log and other container items.
    pub max_container_bytes: usize,
    /// Items of any type in one envelope.
    pub max_items: usize,
    /// `attachment` items in one envelope.
    pub max_attachment_items: usize,
    /// Decompressed bodies past 64 KiB, all requests together, for as long as each request
    /// keeps its body; a request that would go past it gets 429, so concurrent
    /// compression bombs cannot add up.
    pub max_decoding_bytes: usize,
    /// Ingest answers 507 while the database's disk has less free space than this.
    pub min_free_disk_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        const MIB: usize = 1024 * 1024;
        Limits {
            max_wire_bytes: 20 * MIB,
            max_envelope_bytes: 100 * MIB,
            max_event_bytes: MIB,
            max_attachment_bytes: 100 * MIB,
            max_session_bytes: 100 * 1024,
            max_session_items: 100,
            max_container_bytes: 12 * MIB,
            max_items: 1000,
            max_attachment_items: 100,
            max_decoding_bytes: 128 * MIB,
            min_free_disk_bytes: 100 * MIB as u64,
        }
    }
}

/// Connection limits: how long a client may take to send a request, and how many
/// connections are served at once, so stalled or idle clients cannot hold the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// Seconds to receive a request's headers, counted from the connection's start or
    /// from the end of the previous response (idle keep-alive time included).
    pub header_timeout_secs: u64,
    /// Seconds a request body may take before `min_body_bytes_per_sec` applies: a body
    /// of `n` bytes may take `body_timeout_secs + n / min_body_bytes_per_sec` seconds.
    pub body_timeout_secs: u64,
    pub min_body_bytes_per_sec: u64,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            min_body_bytes_per_sec: 16 * 1024,
            max_connections: 1024,
        }
    }
}

/// Default per-key rate limit; a key's own limit overrides it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Requests accepted per key per window; 0 disables the default limit.
    pub count: u64,
    pub window_secs: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            count: 0,
            window_secs: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pipeline {
    /// Inbox rows processed per transaction.
    pub batch_size: u32,
    /// Batches processed at once; 0 picks the default (see `processors`).
    pub processors: usize,
    /// Requests committed to the inbox per transaction, at most.
    pub commit_batch: usize,
    /// Requests waiting for the inbox writer before ingest answers 429.
    pub max_pending: usize,
    /// Body bytes waiting for the inbox writer before ingest answers 429; together with
    /// `max_pending` this bounds the memory an overload can take.
    pub max_pending_bytes: usize,
    /// Accepted requests waiting to be processed before ingest answers 429; 0 is no bound.
    /// A sustained overload then turns into early refusals instead of a backlog that takes
    /// ever longer to become visible.
    pub max_backlog: u64,
}

impl Pipeline {
    /// The processors to run: two by default, so
    /// one batch is parsed and grouped while another is written (on SQLite the journal
    /// hands batches out in order and they commit in that order). With one on SQLite,
    /// processing fell a second and more behind a steady stream of acknowledgements
    /// (BENCHMARKS.md).
    pub fn processors(&self) -> usize {
        match self.processors {
            0 => 2,
            n => n,
        }
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            batch_size: 256,
            processors: 0,
            commit_batch: 512,
            max_pending: 4096,
            max_pending_bytes: 256 << 20,
            max_backlog: 1_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processors_default_to_two_and_an_explicit_count_wins() {
        assert_eq!(Pipeline::default().processors(), 2);
        let three = Pipeline {
            processors: 3,
            ..Pipeline::default()
        };
        assert_eq!(three.processors(), 3);
    }
}
