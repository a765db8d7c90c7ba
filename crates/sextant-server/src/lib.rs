//! Sextant server library: ingest, pipeline, API and operations endpoints.
//!
//! # Path of an event
//!
//! 1. **Ingest** (`ingest`): an SDK posts to `/api/{project_id}/envelope/` or `/store/`.
//!    The handler authenticates the DSN key (`ingest::auth`), checks the per-key rate
//!    limit, reads the body under the wire-size limit, undoes `Content-Encoding` under
//!    the decoded-size limit (`ingest::decode`), frames the envelope and checks per-item
//!    limits. Nothing else happens on the request path.
//! 2. **Durable enqueue** (`pipeline`): the decoded body goes to the inbox, the SQLite
//!    store's journal or the inbox writer task (`pipeline::writer`), either of which
//!    commits waiting requests together (group commit: one fsync for many requests). Only
//!    after that commit does the SDK get `200 {"id": …}`.
//! 3. **Processing** (`pipeline::processor`): a background task claims inbox rows in
//!    batches. For each envelope item it parses, normalizes and groups events
//!    (`sextant_protocol`), keeps other items raw, and counts every discard as an
//!    outcome. The batch is written and its requests recorded as consumed in one
//!    transaction, so a crash at any point either replays the requests or has already
//!    stored them, never both.
//! 4. **Query** (`api`): the REST API under `/api/0/` reads issues and events back.
//!
//! `run` ties these together around a bound listener and a shutdown future.

pub mod accounts;
pub mod alerts;
pub mod api;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod connections;
pub mod disk;
pub mod ingest;
pub mod memory_budget;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod outcome;
pub mod pipeline;
pub mod projects;
pub mod rate_limit;
pub mod releases;
pub mod serialize;
pub mod server;
pub mod state;
pub mod stored_event;
pub mod ui;

pub use server::{Server, ServerError, run};
