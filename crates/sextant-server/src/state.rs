//! Shared application state handed to every handler.

use std::net::SocketAddr;
use std::sync::Arc;

use sextant_storage::Store;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::PipelineHandle;
use crate::rate_limit::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub pipeline: PipelineHandle,
    pub metrics: Metrics,
    pub rate_limiter: Arc<RateLimiter>,
    /// The process's one clock (the store's).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Large decompressed bodies held by ingest requests, all together.
    pub decode_budget: Arc<crate::memory_budget::MemoryBudget>,
    /// The address the server is bound to.
    pub bound: SocketAddr,
    /// Processed-event notices for the console's live updates.
    pub live: crate::pipeline::notice::LiveSender,
    pub login_throttle: Arc<crate::accounts::throttle::LoginThrottle>,
    /// Rings the alert delivery worker after a delivery is written outside it.
    pub alert_deliveries: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Base URL without a trailing slash, for DSNs and links.
    pub fn base_url(&self) -> String {
        self.config.base_url(self.bound)
    }
}
