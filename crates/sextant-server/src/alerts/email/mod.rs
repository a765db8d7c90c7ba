//! Alert email: rules' email actions mail the organization's members over SMTP, each
//! user getting one mail per project and digest period rather than one per alert.
//!
//! The path of a mail: the evaluator turns an email action into one digest entry per
//! recipient (`recipients.rs`), written in the transaction of the rule firing; the digest
//! worker (`digest.rs`) claims digests once they are due (Sentry's `digestsMinDelay` after
//! the newest entry, at most `digestsMaxDelay` after the first; `options.rs`), renders one
//! mail (`render.rs`) and writes it as an email delivery in the transaction that consumes
//! the entries; the delivery worker sends it (`send.rs`) with the retries, request id and
//! log of any delivery. Every step is durable and claimed with a lease, as the rest of
//! the outbox.

pub mod config;
pub mod digest;
pub mod options;
pub mod recipients;
pub mod render;
pub mod send;

pub use recipients::{Audience, digest_targets};
