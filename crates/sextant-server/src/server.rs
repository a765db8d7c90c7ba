//! Starting and stopping the application: storage, bootstrap, pipeline and HTTP.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sextant_storage::{Organization, Project, ProjectKey, Store, StoreError};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::{Pipeline, Progress};
use crate::rate_limit::RateLimiter;
use crate::state::AppState;
use sextant_protocol::auth::format_dsn as dsn;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("storage")]
    Store(#[from] StoreError),
    #[error("listener")]
    Io(#[from] std::io::Error),
    #[error("outbound HTTP client")]
    Outbound(#[from] crate::outbound::OutboundError),
}

/// What a fresh database was given on first start.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub org: Organization,
    pub project: Project,
    pub key: ProjectKey,
}

/// A server that has opened its storage and bound its listener, ready to serve.
pub struct Server {
    config: Config,
    store: Arc<dyn Store>,
    listener: TcpListener,
    pub bound: SocketAddr,
    pub bootstrapped: Option<Bootstrapped>,
    progress: Progress,
}

impl Server {
    /// Opens (and migrates) storage, and creates the default project on an empty database.
    pub async fn prepare(config: Config, listener: TcpListener) -> Result<Server, ServerError> {
        let store = sextant_storage::open(&config.effective_database_url()).await?;
        Server::with_store(config, store, listener).await
    }

    pub async fn with_store(
        config: Config,
        store: Arc<dyn Store>,
        listener: TcpListener,
    ) -> Result<Server, ServerError> {
        let bound = listener.local_addr()?;
        store.open_inbox().await?;
        let bootstrapped = store
            .bootstrap_default()
            .await?
            .map(|(org, project, key)| Bootstrapped { org, project, key });
        Ok(Server {
            config,
            store,
            listener,
            bound,
            bootstrapped,
            progress: Progress::new(),
        })
    }

    /// The pipeline's progress, to wait until everything accepted so far is processed
    /// ([`Progress::drained`]) while the server runs.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    pub fn base_url(&self) -> String {
        self.config.base_url(self.bound)
    }

    /// The DSN of the default project's first active key, if there is one.
    pub async fn default_dsn(&self) -> Result<Option<String>, ServerError> {
        let project = match self.store.get_project_by_slug("default", "default").await {
            Ok(project) => project,
            Err(StoreError::NotFound) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let keys = self.store.list_keys(project.id).await?;
        Ok(keys
            .iter()
            .find(|k| k.active)
            .map(|k| dsn(&self.base_url(), &k.public_key, project.id)))
    }

    /// Serves until `shutdown` resolves, then drains: in-flight requests finish, the
    /// inbox writer commits what it holds, and the processor empties the inbox.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let metrics = Metrics::new();
        let live = crate::pipeline::notice::live_channel();
        let (pipeline, handle) = Pipeline::start(
            self.store.clone(),
            &self.config.pipeline,
            metrics.clone(),
            live.clone(),
            crate::disk::DiskGuard::new(
                self.config.local_data_path(),
                self.config.limits.min_free_disk_bytes,
            ),
            self.progress.clone(),
        );
        let scheduler = crate::releases::scheduler::Scheduler::start(
            self.store.clone(),
            self.config.releases.clone(),
        );
        let alerts = crate::alerts::Alerts::start(
            self.store.clone(),
            self.config.alerts.clone(),
            crate::outbound::OutboundClient::new(&self.config.outbound)?,
            self.config.base_url(self.bound),
            self.progress.processed(),
            metrics.clone(),
        );
        let http = self.config.http.clone();
        let decode_budget =
            crate::memory_budget::MemoryBudget::new(self.config.limits.max_decoding_bytes);
        let clock = self.store.clock();
        let state = AppState {
            config: Arc::new(self.config),
            clock,
            store: self.store,
            pipeline: handle,
            metrics,
            rate_limiter: Arc::new(RateLimiter::new()),
            decode_budget,
            bound: self.bound,
            live,
            login_throttle: Arc::new(crate::accounts::throttle::LoginThrottle::new()),
            alert_deliveries: alerts.deliveries_waker(),
        };
        let app = router(state);
        crate::connections::serve(self.listener, app, &http, shutdown).await;
        pipeline.shutdown().await;
        scheduler.shutdown().await;
        alerts.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::ingest::router())
        .merge(crate::api::router())
        .merge(crate::releases::router())
        .merge(crate::alerts::api::router())
        .merge(crate::ops::router())
        .merge(crate::ui::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(close_after_refused_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(state)
}

/// A request refused before its body was read leaves that body on the connection, so
/// the server cannot reuse it; saying `Connection: close` keeps clients from sending their
/// next request on a connection that is about to go away.
async fn close_after_refused_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let has_body = request
        .headers()
        .contains_key(axum::http::header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "0");
    let mut response = next.run(request).await;
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({ "detail": "not found" })),
    )
}

/// Prepares and serves: the whole server behind one call.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::prepare(config, listener)
        .await?
        .serve(shutdown)
        .await
}
