//! Ingest endpoints: authenticate, limit, decode, enqueue durably, reply.
//!
//! Architecture invariant: handlers never wait for processing. The request path is
//! auth, limits, decoding, framing checks and the durable inbox write; everything else
//! happens in `pipeline`.

pub mod auth;
pub mod decode;
mod envelope;
pub mod error;
mod origin;
mod store;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::routing::post;
use sextant_protocol::auth::Auth;
use sextant_storage::ProjectKey;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::client_addr::client_ip;
use crate::rate_limit::Limit;
use crate::state::AppState;
use error::IngestError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/{project_id}/envelope/",
            post(envelope::handle).options(preflight),
        )
        .route(
            "/api/{project_id}/envelope",
            post(envelope::handle).options(preflight),
        )
        .route(
            "/api/{project_id}/store/",
            post(store::handle).options(preflight),
        )
        .route(
            "/api/{project_id}/store",
            post(store::handle).options(preflight),
        )
        .layer(cors())
}

/// Real CORS preflights are answered by the CORS layer; a bare OPTIONS (no
/// `Access-Control-Request-Method`) still gets a 200 without auth, as from Relay.
async fn preflight() -> axum::http::StatusCode {
    axum::http::StatusCode::OK
}

/// Relay's CORS policy for ingest routes: any origin, the headers SDKs send, and the
/// rate-limit headers exposed so browser SDKs can honour them.
fn cors() -> CorsLayer {
    let allow: Vec<HeaderName> = [
        "x-sentry-auth",
        "x-requested-with",
        "x-forwarded-for",
        "origin",
        "referer",
        "accept",
        "content-type",
        "authentication",
        "authorization",
        "content-encoding",
        "transfer-encoding",
        "sentry-trace",
        "baggage",
    ]
    .into_iter()
    .map(HeaderName::from_static)
    .collect();
    let expose: Vec<HeaderName> = ["x-sentry-error", "x-sentry-rate-limits", "retry-after"]
        .into_iter()
        .map(HeaderName::from_static)
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers(allow)
        .expose_headers(expose)
        .max_age(Duration::from_secs(3600))
}

pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(crate) fn content_encoding(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Authorizes the key for the project and counts the request against its rate limit.
pub(crate) async fn admit(
    state: &AppState,
    auth: &Auth,
    project_id: i64,
) -> Result<ProjectKey, IngestError> {
    let key = auth::authorize(state.store.as_ref(), auth, project_id).await?;
    let limit = match (key.rate_limit_count, key.rate_limit_window_secs) {
        (Some(count), Some(window)) if count >= 0 && window > 0 => Limit {
            count: count as u64,
            window_secs: window as u64,
        },
        _ => Limit {
            count: state.config.rate_limit.count,
            window_secs: state.config.rate_limit.window_secs,
        },
    };
    let now_secs = (state.clock.now_ms() / 1000) as u64;
    state
        .rate_limiter
        .check(&key.public_key, limit, now_secs)
        .map_err(|retry_after| IngestError::RateLimited { retry_after })?;
    Ok(key)
}

/// The durable step: packs the envelope into the inbox and waits for its commit.
/// `payloads` are the ranges of its items' payloads.
pub(crate) async fn enqueue(
    state: &AppState,
    project_id: i64,
    headers: &HeaderMap,
    peer: SocketAddr,
    envelope: &[u8],
    payloads: &[std::ops::Range<usize>],
) -> Result<(), IngestError> {
    let entry = sextant_storage::InboxEntry {
        project_id,
        kind: sextant_storage::InboxKind::Envelope,
        received_at: state.clock.now_ms(),
        client_ip: Some(client_ip(&state.config, headers, peer)),
        user_agent: user_agent(headers),
        body: crate::pipeline::codec::pack_envelope(envelope, payloads),
    };
    Ok(state.pipeline.submit(entry).await?)
}

/// Reads and decodes a request body under both size limits.
pub(crate) async fn read_body(
    state: &AppState,
    encoding: Option<&str>,
    body: axum::body::Body,
    max_decoded: usize,
) -> Result<bytes::Bytes, IngestError> {
    let wire = read_wire(state, encoding, body).await?;
    decode_wire(state, encoding, wire, max_decoded).await
}

/// The body as received, under the wire limit; an unknown coding is refused first.
pub(crate) async fn read_wire(
    state: &AppState,
    encoding: Option<&str>,
    body: axum::body::Body,
) -> Result<bytes::Bytes, IngestError> {
    decode::check_encoding(encoding)?;
    decode::read_wire_body(body, state.config.limits.max_wire_bytes).await
}

/// Undoes `Content-Encoding` under the decoded limit and the shared decoding budget.
/// Large decodes run on a blocking thread so a slow inflate never stalls other requests.
pub(crate) async fn decode_wire(
    state: &AppState,
    encoding: Option<&str>,
    wire: bytes::Bytes,
    max_decoded: usize,
) -> Result<bytes::Bytes, IngestError> {
    let budget = state.decode_budget.clone();
    if !decode::is_encoded(encoding) {
        return decode::decode_body(encoding, wire, max_decoded, &budget);
    }
    let encoding = encoding.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        decode::decode_body(encoding.as_deref(), wire, max_decoded, &budget)
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))?
}
