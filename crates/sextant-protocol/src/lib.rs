//! Sentry wire protocol for Sextant: auth, envelopes, store bodies, event normalization and grouping.
//!
//! Everything here is pure (no I/O, no async) so the server can call it from any context
//! and the behaviour can be pinned down with fixture tests. The contract implemented is
//! `shared/docs/sentry-protocol.md`.

pub mod auth;
pub mod client_report;
pub mod envelope;
pub mod event;
pub mod event_id;
pub mod grouping;
mod jsonval;
pub mod pipeline;
pub mod store_body;
pub mod timestamp;

pub use auth::{
    Auth, AuthError, Dsn, DsnError, parse_auth_header, parse_auth_query, parse_basic_auth,
    parse_dsn,
};
pub use client_report::{ClientReport, DiscardedEvent, parse_client_report};
pub use envelope::{
    Envelope, EnvelopeError, EnvelopeHeaders, Item, ItemHeaders, ItemSpan, ItemType,
    parse_envelope, parse_envelope_spans,
};
pub use event::{
    Event, EventError, NormalizeContext, check_event_json, check_event_object, normalize_event,
    normalize_event_for_index, normalize_event_item,
};
pub use grouping::{GROUPING_CONFIG, Grouping, IssueMetadata, group, issue_metadata};
pub use pipeline::{ProcessedEvent, process_event};
pub use store_body::{StoreBodyError, decode_store_body};
