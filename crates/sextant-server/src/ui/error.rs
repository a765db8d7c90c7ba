//! `UiError`: every way a console request fails, and the one place mapping each to a
//! response (an error page, a redirect to sign-in, or 429).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use sextant_storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No valid session: GETs are sent to the sign-in page, coming back to `next`.
    #[error("sign in required")]
    SignIn { next: String },
    #[error("page not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    /// A POST from another site, or without the session's CSRF token.
    #[error("this request did not come from a Sextant page (cross-site or missing CSRF token)")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("too many failed attempts; try again in {0} seconds")]
    TooManyAttempts(u64),
    #[error("internal error: {0}")]
    Internal(String),
    /// Storage failed; the error and its causes go to the log only.
    #[error("storage failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => UiError::NotFound,
            StoreError::Conflict(msg) => UiError::BadRequest(msg),
            StoreError::LastOwner => UiError::BadRequest(e.to_string()),
            other => UiError::Store(other),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::SignIn { .. } => StatusCode::SEE_OTHER,
            UiError::NotFound => StatusCode::NOT_FOUND,
            UiError::Forbidden(_) | UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            UiError::Internal(_) | UiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let UiError::SignIn { next } = &self {
            let target = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return Redirect::to(&target).into_response();
        }
        if self.status().is_server_error() {
            tracing::error!(
                error = &self as &dyn std::error::Error,
                "console request failed"
            );
        }
        let status = self.status();
        let message = match &self {
            UiError::Internal(_) | UiError::Store(_) => {
                "Something went wrong on the server.".to_string()
            }
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| "error".to_string());
        let mut resp = (status, Html(page)).into_response();
        if let UiError::TooManyAttempts(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type UiResult<T> = Result<T, UiError>;
