//! Alerts: Sentry-compatible issue alert rules, what a notification says, and how each
//! channel is told.

pub mod channels;
pub mod notice;
pub mod rules;
