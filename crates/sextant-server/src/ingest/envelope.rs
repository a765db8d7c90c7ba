//! `POST /api/{project_id}/envelope/`: the endpoint every current SDK uses.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use sextant_protocol::envelope::{
    EnvelopeHeaders, ItemSpan, ItemType, parse_envelope_header, parse_envelope_spans,
};

use super::error::IngestError;
use super::{admit, auth, content_encoding, decode, decode_wire, enqueue, read_wire};
use crate::config::Limits;
use crate::state::AppState;

pub async fn handle(
    State(state): State<AppState>,
    Path(project_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = accept(&state, &project_id, peer, uri.query(), &headers, body).await;
    respond(&state, "envelope", result)
}

/// Shared by the envelope and store endpoints: counts the request and shapes the reply.
pub(super) fn respond(
    state: &AppState,
    endpoint: &'static str,
    result: Result<Option<String>, IngestError>,
) -> Response {
    match result {
        Ok(id) => {
            state.metrics.ingest_request(endpoint, 200);
            match id {
                Some(id) => Json(serde_json::json!({ "id": id })).into_response(),
                None => Json(serde_json::json!({})).into_response(),
            }
        }
        Err(err) => {
            state
                .metrics
                .ingest_request(endpoint, err.status().as_u16());
            state.metrics.discarded(err.reason(), endpoint, 1);
            if err.status().is_server_error() {
                tracing::error!(error = %err, "ingest failed");
            } else {
                tracing::debug!(error = %err, "ingest request rejected");
            }
            err.into_response()
        }
    }
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
    let request_auth = auth::request_auth(headers, query)?;
    let limits = &state.config.limits;
    let encoding = content_encoding(headers);
    // The key is checked before anything is inflated, so unauthorized traffic costs
    // little: from the request when it carries one, else from the envelope's first line.
    let wire = match &request_auth {
        Some(auth) => {
            admit(state, auth, project_id).await?;
            read_wire(state, encoding.as_deref(), body).await?
        }
        None => {
            let wire = read_wire(state, encoding.as_deref(), body).await?;
            let line = decode::decode_first_line(encoding.as_deref(), &wire, MAX_HEADER_LINE)?;
            let auth = header_auth(&line, project_id)?;
            admit(state, &auth, project_id).await?;
            wire
        }
    };
    let decoded = decode_wire(state, encoding.as_deref(), wire, limits.max_envelope_bytes).await?;
    if decoded.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyBody);
    }
    // Located, not copied: the payloads stay in the body they arrived in.
    let (envelope, items) =
        parse_envelope_spans(&decoded).map_err(|e| IngestError::InvalidEnvelope(e.to_string()))?;

    // Without request auth, the header line was authenticated above; it is the same line.
    if let (Some(auth), Some(dsn)) = (&request_auth, envelope.dsn.as_deref()) {
        let (header_auth, dsn_project) = auth::envelope_dsn_auth(dsn)?;
        if header_auth.public_key != auth.public_key || dsn_project as i64 != project_id {
            return Err(IngestError::HeaderMismatch);
        }
    }

    super::origin::check(state, project_id, headers).await?;
    check_items(&decoded, &items, limits)?;
    let (event_id, body, items) = ensure_event_id(&envelope, items, decoded)?;
    let payloads: Vec<_> = items.into_iter().map(|item| item.payload).collect();
    enqueue(state, project_id, headers, peer, &body, &payloads).await?;
    Ok(event_id)
}

/// The longest envelope header line read before the request is authenticated.
const MAX_HEADER_LINE: usize = 64 * 1024;

/// The key in an envelope's header line, which must name the request's project.
fn header_auth(line: &[u8], project_id: i64) -> Result<sextant_protocol::auth::Auth, IngestError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::EmptyBody);
    }
    let headers =
        parse_envelope_header(line).map_err(|e| IngestError::InvalidEnvelope(e.to_string()))?;
    let dsn = headers.dsn.ok_or(IngestError::MissingAuth)?;
    let (auth, dsn_project) = auth::envelope_dsn_auth(&dsn)?;
    if dsn_project as i64 != project_id {
        return Err(IngestError::WrongProject(project_id.to_string()));
    }
    Ok(auth)
}

/// Items that carry an event and so need an event id.
fn carries_event(item_type: &ItemType) -> bool {
    matches!(
        item_type,
        ItemType::Event
            | ItemType::Transaction
            | ItemType::Feedback
            | ItemType::UserReport
            | ItemType::Attachment
    )
}

fn is_event_json(item_type: &ItemType) -> bool {
    matches!(
        item_type,
        ItemType::Event | ItemType::Transaction | ItemType::Feedback
    )
}

/// Per-item size and count limits (§7.4), and a JSON syntax check of event payloads so
/// that a broken event is refused now rather than acknowledged and lost later.
fn check_items(body: &[u8], items: &[ItemSpan], limits: &Limits) -> Result<(), IngestError> {
    let (mut sessions, mut attachments) = (0usize, 0usize);
    for item in items {
        let item_type = &item.headers.item_type;
        let payload = &body[item.payload.clone()];
        let size = payload.len();
        let limit = match item_type {
            ItemType::Event | ItemType::Transaction | ItemType::Feedback | ItemType::UserReport => {
                limits.max_event_bytes
            }
            ItemType::Attachment => limits.max_attachment_bytes,
            ItemType::Session | ItemType::Sessions | ItemType::ClientReport | ItemType::CheckIn => {
                limits.max_session_bytes
            }
            _ => limits.max_container_bytes,
        };
        if size > limit {
            return Err(IngestError::ItemTooLarge {
                item_type: item_type.as_str().to_string(),
                size,
                limit,
            });
        }
        match item_type {
            ItemType::Session => sessions += 1,
            ItemType::Attachment => attachments += 1,
            _ => {}
        }
        if is_event_json(item_type) {
            sextant_protocol::check_event_json(payload).map_err(|e| IngestError::InvalidJson {
                item_type: item_type.as_str().to_string(),
                reason: e.to_string(),
            })?;
        }
    }
    let counts = [
        ("session", sessions, limits.max_session_items),
        ("attachment", attachments, limits.max_attachment_items),
        ("envelope", items.len(), limits.max_items),
    ];
    for (item_type, count, limit) in counts {
        if count > limit {
            return Err(IngestError::TooManyItems {
                item_type: item_type.into(),
                count,
                limit,
            });
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct EventIdProbe {
    event_id: Option<serde_json::Value>,
}

/// Parses a 32-hex or dashed UUID into the 32-hex form.
pub(super) fn normalize_event_id(raw: &str) -> Option<String> {
    uuid::Uuid::parse_str(raw)
        .ok()
        .map(|id| id.simple().to_string())
}

/// The body and its items as they will be stored, with the id to answer with.
type WithEventId = (Option<String>, Bytes, Vec<ItemSpan>);

/// The id to answer with. An envelope that carries an event but has no header id gets
/// one (the payload's, else a new one) written into its header, so that the id the SDK
/// is told is the id that gets stored; its items move with the new header.
fn ensure_event_id(
    envelope: &EnvelopeHeaders,
    mut items: Vec<ItemSpan>,
    body: Bytes,
) -> Result<WithEventId, IngestError> {
    if let Some(id) = &envelope.event_id {
        return Ok((Some(id.clone()), body, items));
    }
    if !items
        .iter()
        .any(|item| carries_event(&item.headers.item_type))
    {
        return Ok((None, body, items));
    }
    let from_payload = items
        .iter()
        .find(|item| is_event_json(&item.headers.item_type))
        .and_then(|item| serde_json::from_slice::<EventIdProbe>(&body[item.payload.clone()]).ok())
        .and_then(|probe| probe.event_id)
        .and_then(|v| v.as_str().and_then(normalize_event_id));
    let id = from_payload.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let mut header = envelope.raw.clone();
    header.insert("event_id".into(), serde_json::Value::String(id.clone()));
    let newline = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let mut rebuilt =
        serde_json::to_vec(&header).map_err(|e| IngestError::Internal(e.to_string()))?;
    rebuilt.extend_from_slice(&body[newline..]);
    // Every item now starts this much further on (or back).
    let shift = rebuilt.len() as isize - body.len() as isize;
    for item in &mut items {
        item.payload = item.payload.start.saturating_add_signed(shift)
            ..item.payload.end.saturating_add_signed(shift);
    }
    Ok((Some(id), Bytes::from(rebuilt), items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ensure(body: &'static [u8]) -> WithEventId {
        let body = Bytes::from_static(body);
        let (headers, items) = parse_envelope_spans(&body).unwrap();
        ensure_event_id(&headers, items, body).unwrap()
    }

    #[test]
    fn adds_an_event_id_to_envelopes_without_one() {
        let (id, rebuilt, items) = ensure(b"{}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n");
        let id = id.unwrap();
        assert_eq!(id.len(), 32);
        let (headers, reparsed) = parse_envelope_spans(&rebuilt).unwrap();
        assert_eq!(headers.event_id.as_deref(), Some(id.as_str()));
        assert_eq!(reparsed, items, "the items moved with the new header");
        assert_eq!(&rebuilt[items[0].payload.clone()], b"{\"message\":\"hi\"}");
    }

    #[test]
    fn takes_the_payload_id_when_the_header_has_none() {
        let (id, _, _) = ensure(
            b"{}\n{\"type\":\"event\"}\n{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}\n",
        );
        assert_eq!(id.as_deref(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
    }

    #[test]
    fn session_only_envelopes_have_no_id() {
        assert_eq!(
            ensure(b"{}\n{\"type\":\"session\"}\n{\"sid\":\"x\"}\n").0,
            None
        );
    }

    #[test]
    fn refuses_oversized_and_broken_event_items() {
        let limits = Limits {
            max_event_bytes: 10,
            ..Limits::default()
        };
        let check = |body: &[u8], limits: &Limits| {
            let (_, items) = parse_envelope_spans(body).unwrap();
            check_items(body, &items, limits)
        };
        assert!(matches!(
            check(
                b"{}\n{\"type\":\"event\"}\n{\"message\":\"far too long\"}\n",
                &limits
            ),
            Err(IngestError::ItemTooLarge { .. })
        ));
        assert!(matches!(
            check(
                b"{}\n{\"type\":\"event\"}\n{\"message\":\n",
                &Limits::default()
            ),
            Err(IngestError::InvalidJson { .. })
        ));
    }
}
