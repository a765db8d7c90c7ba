//! Attachment endpoints of an event: list, metadata, and download.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::pagination::Params;
use super::support::{PathParams, normalize_event_id, param, resolve_project};
use crate::serialize::attachment_json;
use crate::state::AppState;

/// `Content-Disposition` for a download. The quoted `filename` is ASCII with quotes and
/// backslashes escaped (anything else becomes `_`), and `filename*` carries the exact
/// UTF-8 name for clients that read RFC 5987.
pub fn content_disposition(name: &str) -> String {
    let mut ascii = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                ascii.push('\\');
                ascii.push(c);
            }
            ' '..='~' => ascii.push(c),
            _ => ascii.push('_'),
        }
    }
    let mut encoded = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub async fn list(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
) -> ApiResult<Json<Value>> {
    let project = resolve_project(&state, param(&p, "org")?, param(&p, "project")?).await?;
    let event_id = normalize_event_id(param(&p, "event_id")?).ok_or(ApiError::NotFound)?;
    let records = state.store.list_attachments(project.id, &event_id).await?;
    Ok(Json(records.iter().map(attachment_json).collect()))
}

/// The attachment's JSON record, or its bytes when `download` is present (any value,
/// as in Sentry).
pub async fn get(
    _auth: Auth,
    State(state): State<AppState>,
    Path(p): Path<PathParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let project = resolve_project(&state, param(&p, "org")?, param(&p, "project")?).await?;
    let event_id = normalize_event_id(param(&p, "event_id")?).ok_or(ApiError::NotFound)?;
    let id: i64 = param(&p, "attachment_id")?
        .parse()
        .map_err(|_| ApiError::NotFound)?;
    let (record, data) = state.store.get_attachment(project.id, id).await?;
    if record.event_id != event_id {
        return Err(ApiError::NotFound);
    }
    if Params::parse(raw.as_deref()).get("download").is_none() {
        return Ok(Json(attachment_json(&record)).into_response());
    }
    let content_type = HeaderValue::from_str(&record.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&record.name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut resp = data.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    // The bytes are whatever an SDK uploaded; never let a browser sniff them into HTML.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(
            content_disposition("log.txt"),
            "attachment; filename=\"log.txt\"; filename*=UTF-8''log.txt"
        );
        assert_eq!(
            content_disposition("a \"b\".txt"),
            "attachment; filename=\"a \\\"b\\\".txt\"; filename*=UTF-8''a%20%22b%22.txt"
        );
        assert_eq!(
            content_disposition("résumé\r\n.pdf"),
            "attachment; filename=\"r_sum___.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%0D%0A.pdf"
        );
        assert!(HeaderValue::from_str(&content_disposition("x\"\\\r\n\u{7f}é")).is_ok());
    }
}
