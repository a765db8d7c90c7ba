//! Metric alerts (Sentry's organization `alert-rules`): rules with their triggers, the
//! incidents they open with their history, the event counts they read, and the
//! `MetricAlertStore` contract that `Store` includes.
//!
//! Rules are evaluated periodically, each by one node at a time: a node claims the rules
//! that are due with a lease ([`MetricAlertStore::claim_metric_rules`]), computes their
//! values, and commits each outcome with [`MetricAlertStore::commit_metric_evaluation`].
//! That commit checks the claim is still the node's (not expired and taken by another,
//! not reset by an edit of the rule) and writes the rule's state, the incident change and
//! the notifications it causes in one transaction, so an incident never changes without
//! its notifications, nor twice for one evaluation.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::alerts::NewDelivery;
use crate::model::Millis;

/// Sentry's `IncidentStatus` numbers.
pub mod incident_status {
    pub const OPEN: i64 = 1;
    pub const CLOSED: i64 = 2;
    pub const WARNING: i64 = 10;
    pub const CRITICAL: i64 = 20;
}

/// Sentry's `IncidentStatusMethod` numbers: how an incident got its status.
pub mod status_method {
    pub const RULE_UPDATED: i64 = 2;
    pub const RULE_TRIGGERED: i64 = 3;
}

/// Sentry's `IncidentActivityType` numbers.
pub mod activity_kind {
    pub const STATUS_CHANGE: i64 = 2;
    pub const DETECTED: i64 = 4;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRule {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    /// The validated body, triggers aside.
    pub spec: serde_json::Value,
    pub project_ids: Vec<i64>,
    /// In label order: `critical` before `warning`.
    pub triggers: Vec<MetricTrigger>,
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// What the evaluator carries from one round to the next, as it wrote it.
    pub state: serde_json::Value,
    /// The lease this copy was read under: [`MetricEvaluation::claimed_until`] hands it
    /// back so the commit can tell whether the claim still holds.
    pub claimed_until: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricTrigger {
    /// The same across edits for as long as the rule has a trigger with this label.
    pub id: i64,
    /// `critical` or `warning`.
    pub label: String,
    /// Its threshold and actions.
    pub spec: serde_json::Value,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMetricRule {
    pub org_id: i64,
    pub name: String,
    pub spec: serde_json::Value,
    pub project_ids: Vec<i64>,
    pub triggers: Vec<NewMetricTrigger>,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMetricTrigger {
    pub label: String,
    pub spec: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub org_id: i64,
    pub rule_id: i64,
    /// Counts per organization; what the API and links name an incident by.
    pub identifier: i64,
    /// One of [`incident_status`].
    pub status: i64,
    /// One of [`status_method`].
    pub status_method: i64,
    pub title: String,
    /// The rule's project slugs when the incident opened.
    pub projects: Vec<String>,
    /// When the metric first crossed the threshold that opened the incident.
    pub date_started: Millis,
    pub date_detected: Millis,
    pub date_created: Millis,
    pub date_closed: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentActivity {
    pub id: i64,
    pub incident_id: i64,
    /// One of [`activity_kind`].
    pub kind: i64,
    pub value: Option<String>,
    pub previous_value: Option<String>,
    pub date_added: Millis,
}

/// What an evaluation does to the rule's incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentChange {
    /// Opens the rule's incident at `status` (warning or critical).
    Open {
        title: String,
        projects: Vec<String>,
        status: i64,
        date_started: Millis,
    },
    /// Moves the open incident to another level.
    Level { incident_id: i64, status: i64 },
    /// Closes the open incident: the metric recovered.
    Close { incident_id: i64 },
}

/// The outcome of evaluating one claimed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricEvaluation {
    pub rule_id: i64,
    /// The lease the rule was evaluated under ([`MetricRule::claimed_until`]).
    pub claimed_until: Millis,
    pub state: serde_json::Value,
    pub next_eval_at: Millis,
    pub change: Option<IncidentChange>,
}

/// Builds the notifications of an incident change from the incident as written (its id
/// and identifier included). It runs inside the committing transaction, so it must be
/// pure CPU work and may run again if the transaction is retried.
pub type NotifyFn<'a> = dyn Fn(&Incident) -> Vec<NewDelivery> + Send + Sync + 'a;

/// One condition on the events a `count()` rule counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventCondition {
    /// The event carries the tag `key` with exactly `value` (`level`, `release`, `user`
    /// and the other derived tags included), or does not, when `negate`.
    Tag {
        key: String,
        value: String,
        negate: bool,
    },
    /// Words found, ignoring case, in the title, message or culprit.
    Text { text: String },
}

/// Which events a count covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventWindow {
    pub project_ids: Vec<i64>,
    pub environment: Option<String>,
    /// `error`, `default`…; every type when empty.
    pub event_types: Vec<String>,
    pub conditions: Vec<EventCondition>,
    /// Event timestamps, inclusive start and exclusive end.
    pub from: Millis,
    pub to: Millis,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    pub events: i64,
    /// Distinct users of those events.
    pub users: i64,
}

/// Which incidents a listing returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub org_id: i64,
    /// `Some(true)`: only those not closed; `Some(false)`: only closed ones.
    pub open: Option<bool>,
    pub rule_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait MetricAlertStore: Send + Sync + 'static {
    /// The rule is due for evaluation at once. `NotFound` when a project is missing.
    async fn create_metric_rule(&self, rule: &NewMetricRule) -> Result<MetricRule>;
    /// Replaces the rule, keeping the ids of triggers whose label stays. Its open
    /// incident is closed (status method "rule updated", without notifications, as
    /// Sentry does), its state reset, any claim on it dropped, and it is due at once.
    /// `NotFound` unless it belongs to the organization.
    async fn update_metric_rule(&self, id: i64, rule: &NewMetricRule) -> Result<MetricRule>;
    /// Deletes the rule with its incidents.
    async fn delete_metric_rule(&self, org_id: i64, id: i64) -> Result<()>;
    async fn get_metric_rule(&self, org_id: i64, id: i64) -> Result<MetricRule>;
    async fn list_metric_rules(&self, org_id: i64) -> Result<Vec<MetricRule>>;

    /// Claims up to `limit` active rules that are due and that nobody holds, for
    /// `lease_ms`, most overdue first.
    async fn claim_metric_rules(&self, limit: u32, lease_ms: i64) -> Result<Vec<MetricRule>>;
    /// In one transaction: checks the claim still holds (else `Conflict`, and nothing is
    /// written), stores the state and the next evaluation time, releases the claim,
    /// applies the incident change with its activity, and writes the deliveries `notify`
    /// builds for the changed incident. Returns the incident as changed.
    async fn commit_metric_evaluation(
        &self,
        evaluation: &MetricEvaluation,
        notify: &NotifyFn<'_>,
    ) -> Result<Option<Incident>>;

    /// Error events in the window and their distinct users.
    async fn metric_event_stats(&self, window: &EventWindow) -> Result<EventStats>;

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;
    /// By the organization's identifier.
    async fn get_incident(&self, org_id: i64, identifier: i64) -> Result<Incident>;
    /// The rule's incident that is not closed, if any.
    async fn open_incident(&self, rule_id: i64) -> Result<Option<Incident>>;
    /// Oldest first.
    async fn incident_activity(&self, incident_id: i64) -> Result<Vec<IncidentActivity>>;
}
