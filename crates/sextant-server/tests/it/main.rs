//! End-to-end tests: a real Sextant server per test (fresh SQLite database, or PostgreSQL
//! when `SEXTANT_TEST_PG_URL` is set), driven over HTTP by recorded SDK fixtures,
//! hand-built envelopes and the real Sentry SDKs (Python, raven, Node, Rust).

mod support;

mod accounts_authz;
mod accounts_sessions;
mod alerts;
mod alerts_channels;
mod alerts_email;
mod alerts_metric;
mod alerts_slow;
mod alerts_storm;
mod alerts_verdict;
mod api_projects_keys;
mod api_search;
mod fixtures;
mod grouping;
mod ingest_auth;
mod ingest_bad_input;
mod ingest_encodings;
mod lifecycle;
mod ops;
mod releases;
mod sdk_node;
mod sdk_python;
mod sdk_raven;
mod sdk_rust;
mod sdk_sessions;
mod security_accounts;
mod security_events;
mod ui_alerts;
mod ui_releases;
