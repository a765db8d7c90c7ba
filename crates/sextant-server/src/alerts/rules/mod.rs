//! Issue alert rules in Sentry's shape (`POST/PUT /api/0/projects/{org}/{project}/rules/`):
//! the request body parsed and validated into a [`RuleSpec`], Sentry's human names for
//! its conditions, filters and actions, and the evaluation of a rule against one event of
//! an issue. Pure: no I/O, no clock, no store. The caller supplies what a rule looks at
//! ([`EventFacts`], [`IssueFacts`], windowed [`Counts`]) and checks that the things a
//! rule refers to (channels, Sentry app installations, members, teams) exist.
//!
//! Ids, parameters, ranges, labels and the evaluation formulas follow Sentry's
//! `sentry.rules` package, so scripts, Terraform and Pulumi written for Sentry work
//! unchanged.

mod actions;
mod checks;
mod conditions;
mod eval;
mod facts;
pub mod ids;
mod names;
mod params;
mod spec;

pub use actions::{Action, ActionKind, EmailTarget, Fallthrough};
pub use checks::{
    AgeComparison, AssigneeTarget, Attribute, Check, Filter, LevelMatch, StrMatch, TimeUnit,
};
pub use conditions::{
    ComparisonType, Condition, ConditionKind, CountFrequency, Interval, SessionPercent,
};
pub use eval::{Counts, Needs, Window, evaluate, may_fire};
pub use facts::{EventFacts, FrameFacts, IssueCategory, IssueFacts};
pub use spec::{DEFAULT_FREQUENCY_MINUTES, Match, RuleSpec, parse};

/// Why a rule body was refused. `field` names the culprit: a top-level field
/// (`"frequency"`, `"actions"`) or a parameter of one item (`"conditions[1].interval"`,
/// items counted from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Sentry's 400 body: `{"<top-level field>": ["<message>"]}`. Sentry reports an item's
    /// problem under the list's key alone, so the message is prefixed with the item
    /// (`{"conditions": ["conditions[1]: interval must be one of …"]}`).
    pub fn to_sentry_body(&self) -> serde_json::Value {
        let key_end = self.field.find(['[', '.']).unwrap_or(self.field.len());
        let key = &self.field[..key_end];
        let text = match self.field.find(']') {
            Some(close) if key_end < self.field.len() => {
                format!("{}: {}", &self.field[..=close], self.message)
            }
            _ => self.message.clone(),
        };
        serde_json::json!({ key: [text] })
    }
}

#[cfg(test)]
mod tests;
