//! Shared application state handed to every handler.

use std::net::SocketAddr;
use std::sync::Arc;

use sextant_storage::Store;

use crate::config::Config;
use crate::ingest::ratelimit::RateLimiter;
use crate::metrics::Metrics;
use crate::pipeline::PipelineHandle;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub pipeline: PipelineHandle,
    pub metrics: Metrics,
    pub rate_limiter: Arc<RateLimiter>,
    /// Bytes being decompressed by ingest requests, all together.
    pub decode_budget: Arc<crate::memory_budget::MemoryBudget>,
    /// The address the server is bound to.
    pub bound: SocketAddr,
    /// Processed-event notices for the console's live updates.
    pub live: crate::pipeline::notice::LiveSender,
    pub login_throttle: Arc<crate::accounts::throttle::LoginThrottle>,
}

impl AppState {
    /// Base URL without a trailing slash, for DSNs and links.
    pub fn base_url(&self) -> String {
        self.config.base_url(self.bound)
    }
}

/// A DSN for `public_key` of project `project_id`, reachable at `base_url`.
pub fn dsn(base_url: &str, public_key: &str, project_id: i64) -> String {
    match base_url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{public_key}@{rest}/{project_id}"),
        None => format!("http://{public_key}@{base_url}/{project_id}"),
    }
}
