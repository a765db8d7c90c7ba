//! Ingest errors: each variant maps to exactly one HTTP response and one discard reason.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::outcome::DiscardReason;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(
        "missing authentication: no sentry_key in X-Sentry-Auth, Authorization, query string or envelope header"
    )]
    MissingAuth,
    #[error("multiple authorization payloads detected")]
    MultipleAuth,
    #[error("bad authentication: {0}")]
    BadAuth(String),
    #[error("unknown DSN public key")]
    UnknownKey,
    #[error("DSN key has been revoked")]
    RevokedKey,
    #[error("DSN key does not belong to project {0}")]
    WrongProject(String),
    #[error("origin {0:?} is not allowed to send to this project")]
    OriginNotAllowed(String),
    #[error("invalid project id in path: {0:?}")]
    BadProjectId(String),
    #[error("unsupported sentry_version {0}")]
    UnsupportedVersion(u32),
    #[error("envelope header dsn does not match the request's authentication")]
    HeaderMismatch,
    #[error("empty request body")]
    EmptyBody,
    #[error("unsupported Content-Encoding {0:?}: use gzip, deflate, br or zstd")]
    UnknownEncoding(String),
    #[error("could not decompress {encoding} body: {reason}")]
    Decompression { encoding: String, reason: String },
    #[error("request body exceeds {limit} bytes on the wire")]
    WireTooLarge { limit: usize },
    #[error("decompressed body exceeds {limit} bytes")]
    DecodedTooLarge { limit: usize },
    #[error("envelope exceeded size limits for type '{item_type}' ({size} > {limit} bytes)")]
    ItemTooLarge {
        item_type: String,
        size: usize,
        limit: usize,
    },
    #[error("too many {item_type} items in one envelope ({count} > {limit})")]
    TooManyItems {
        item_type: String,
        count: usize,
        limit: usize,
    },
    #[error("invalid event envelope: {0}")]
    InvalidEnvelope(String),
    #[error("invalid JSON in {item_type} item: {reason}")]
    InvalidJson { item_type: String, reason: String },
    #[error("invalid store request: {0}")]
    InvalidStoreBody(String),
    #[error("error reading request body: {0}")]
    BodyRead(String),
    #[error("rate limit exceeded for this key; retry after {retry_after}s")]
    RateLimited { retry_after: u64 },
    #[error("server is overloaded; retry after {retry_after}s")]
    Overloaded { retry_after: u64 },
    #[error("not enough disk space to store more data ({free} bytes free, {floor} required)")]
    DiskFull { free: u64, floor: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::pipeline::Refusal> for IngestError {
    fn from(refusal: crate::pipeline::Refusal) -> Self {
        use crate::pipeline::Refusal;
        match refusal {
            Refusal::Busy { retry_after } => IngestError::Overloaded { retry_after },
            Refusal::DiskFull { free, floor } => IngestError::DiskFull { free, floor },
            Refusal::CommitFailed(reason) => IngestError::Internal(reason),
        }
    }
}

impl IngestError {
    pub fn status(&self) -> StatusCode {
        use IngestError::*;
        match self {
            MissingAuth | MultipleAuth | BadAuth(_) | UnknownKey | RevokedKey => {
                StatusCode::UNAUTHORIZED
            }
            WrongProject(_) | OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            BadProjectId(_)
            | UnsupportedVersion(_)
            | HeaderMismatch
            | EmptyBody
            | Decompression { .. }
            | InvalidEnvelope(_)
            | InvalidJson { .. }
            | InvalidStoreBody(_)
            | BodyRead(_) => StatusCode::BAD_REQUEST,
            UnknownEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WireTooLarge { .. }
            | DecodedTooLarge { .. }
            | ItemTooLarge { .. }
            | TooManyItems { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RateLimited { .. } | Overloaded { .. } => StatusCode::TOO_MANY_REQUESTS,
            DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The discard reason counted in metrics for the rejected request.
    pub fn reason(&self) -> DiscardReason {
        use IngestError::*;
        match self {
            MissingAuth | MultipleAuth | BadAuth(_) | UnknownKey | RevokedKey | HeaderMismatch => {
                DiscardReason::Auth
            }
            WrongProject(_) | BadProjectId(_) => DiscardReason::ProjectId,
            OriginNotAllowed(_) => DiscardReason::Origin,
            UnsupportedVersion(_) => DiscardReason::SentryVersion,
            EmptyBody => DiscardReason::EmptyBody,
            UnknownEncoding(_) | Decompression { .. } => DiscardReason::Decompression,
            WireTooLarge { .. }
            | DecodedTooLarge { .. }
            | ItemTooLarge { .. }
            | TooManyItems { .. } => DiscardReason::TooLarge,
            InvalidEnvelope(_) => DiscardReason::InvalidEnvelope,
            InvalidJson { .. } | InvalidStoreBody(_) => DiscardReason::InvalidJson,
            BodyRead(_) => DiscardReason::BodyRead,
            RateLimited { .. } => DiscardReason::RateLimited,
            Overloaded { .. } => DiscardReason::Overloaded,
            DiskFull { .. } => DiscardReason::DiskFull,
            Internal(_) => DiscardReason::Internal,
        }
    }
}

/// Freeing disk space takes an operator; SDKs should not come back within seconds.
const DISK_FULL_RETRY_SECS: u64 = 60;

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = self.to_string();
        let body = serde_json::json!({ "detail": detail });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        // Header values can't hold arbitrary bytes; the JSON body keeps the full text.
        let header_text: String = detail
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(500)
            .collect();
        if let Ok(value) = HeaderValue::from_str(&header_text) {
            headers.insert("x-sentry-error", value);
        }
        match self {
            IngestError::RateLimited { retry_after } => {
                insert_rate_limit_headers(headers, retry_after, "key", "key_quota");
            }
            IngestError::Overloaded { retry_after } => {
                insert_rate_limit_headers(headers, retry_after, "organization", "overloaded");
            }
            IngestError::DiskFull { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(DISK_FULL_RETRY_SECS));
            }
            _ => {}
        }
        response
    }
}

/// `Retry-After` plus `X-Sentry-Rate-Limits` with an empty category list, which SDKs
/// read as "every category".
fn insert_rate_limit_headers(
    headers: &mut axum::http::HeaderMap,
    retry_after: u64,
    scope: &str,
    reason: &str,
) {
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    if let Ok(value) = HeaderValue::from_str(&format!("{retry_after}::{scope}:{reason}")) {
        headers.insert("x-sentry-rate-limits", value);
    }
}
