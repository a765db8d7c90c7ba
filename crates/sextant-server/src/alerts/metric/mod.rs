//! Metric alerts, Sentry's organization `alert-rules`: a crash-free rate (from the session
//! rollups, by release health's formula) or an error count over a window, evaluated every
//! minute against a critical and an optional warning threshold. A rule has at most one
//! open incident, which opens, changes level and resolves as the value crosses its
//! thresholds; each change is written with its notifications (`metric_alert` webhooks to
//! internal integrations, notices to Sextant's channels) into the outbox in one
//! transaction, and the delivery worker sends them.
//!
//! `spec` and `triggers` validate the API's body, `machine` is the threshold state
//! machine, `measure` computes values, `evaluate` runs one rule, `worker` runs every due
//! rule once across nodes, `payload` and `serialize` give the webhook and API shapes.

pub mod evaluate;
pub mod machine;
pub mod measure;
pub mod payload;
pub mod serialize;
pub mod spec;
pub mod triggers;
pub(super) mod worker;
