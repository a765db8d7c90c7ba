//! `POST /api/{project_id}/store/`: the legacy single-event endpoint (raven, curl).
//!
//! The event is wrapped into a one-item envelope before it is enqueued, so the pipeline
//! reads one format and the id answered here is the id that gets stored.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use serde::Deserialize;
use sextant_protocol::store_body::{StoreBodyError, decode_store_body};

use super::envelope::{normalize_event_id, respond};
use super::error::IngestError;
use super::{admit, auth, content_encoding, enqueue, read_body};
use crate::state::AppState;

pub async fn handle(
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let is_envelope = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-sentry-envelope"));
    if is_envelope {
        return super::envelope::handle(
            State(state),
            Path(project_id),
            ConnectInfo(peer),
            uri,
            headers,
            body,
        )
        .await;
    }
    let result = accept(&state, &project_id, peer, uri.query(), &headers, body).await;
    respond(&state, "store", result)
}

#[derive(Deserialize)]
struct Probe {
    event_id: Option<serde_json::Value>,
    #[serde(rename = "type")]
    event_type: Option<serde_json::Value>,
}

async fn accept(
    state: &AppState,
    raw_project_id: &str,
    peer: SocketAddr,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<String>, IngestError> {
    let project_id = auth::parse_project_id(raw_project_id)?;
    let auth = auth::request_auth(headers, query)?.ok_or(IngestError::MissingAuth)?;
    admit(state, &auth, project_id).await?;
    super::origin::check(state, project_id, headers).await?;
    let max = state.config.limits.max_event_bytes;
    let encoding = content_encoding(headers);
    let decoded = read_body(state, encoding.as_deref(), body, max).await?;
    if decoded.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyBody);
    }
    let json = decode_store_body(&decoded, max).map_err(|e| match e {
        StoreBodyError::TooLarge { .. } => IngestError::DecodedTooLarge { limit: max },
        other => IngestError::InvalidStoreBody(other.to_string()),
    })?;
    // The envelope endpoint's check: anything but a JSON object would be acknowledged
    // and then discarded by processing (the probe alone reads `[id, type]` as fields).
    // The probe's parse checks the syntax, so only the object test is added.
    let invalid = |e: serde_json::Error| IngestError::InvalidJson {
        item_type: "event".into(),
        reason: e.to_string(),
    };
    sextant_protocol::check_event_object(&json).map_err(invalid)?;
    let probe: Probe = serde_json::from_slice(&json).map_err(invalid)?;
    let event_id = probe
        .event_id
        .as_ref()
        .and_then(|v| v.as_str())
        .and_then(normalize_event_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let item_type = match probe.event_type.as_ref().and_then(|v| v.as_str()) {
        Some("transaction") => "transaction",
        _ => "event",
    };
    let mut envelope = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"{item_type}\",\"length\":{}}}\n",
        json.len()
    )
    .into_bytes();
    let payload = envelope.len()..envelope.len() + json.len();
    envelope.extend_from_slice(&json);
    envelope.push(b'\n');

    enqueue(state, project_id, headers, peer, &envelope, &[payload]).await?;
    Ok(Some(event_id))
}
