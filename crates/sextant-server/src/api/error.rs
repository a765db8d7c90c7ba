//! The single error type of the REST API and its JSON `{"detail": …}` responses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sextant_storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed: bad query, cursor, body or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// No usable bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose scope does not allow the operation.
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// The path exists but not for this HTTP method.
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// Details go to the log only; clients learn nothing about internals.
    #[error("internal error: {0}")]
    Internal(String),
    /// Storage failed; the error and its causes go to the log only.
    #[error("storage failed")]
    Store(#[source] StoreError),
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `detail` text shown to the client.
    fn detail(&self) -> String {
        match self {
            ApiError::Internal(_) | ApiError::Store(_) => "internal server error".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(msg) => ApiError::Conflict(msg),
            other => ApiError::Store(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(
                error = &self as &dyn std::error::Error,
                "api request failed"
            );
        }
        let status = self.status();
        let mut resp =
            (status, Json(serde_json::json!({ "detail": self.detail() }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses() {
        assert_eq!(
            ApiError::from(StoreError::NotFound).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::from(StoreError::Conflict("slug".into())).status(),
            StatusCode::CONFLICT
        );
        let internal = ApiError::from(StoreError::Backend("disk on fire".into()));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(internal.detail(), "internal server error");
        // The storage error stays the cause, for the log.
        let cause = std::error::Error::source(&internal).expect("a source");
        assert_eq!(cause.to_string(), "database error: disk on fire");
    }
}
