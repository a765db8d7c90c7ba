//! Alerting records and the `AlertStore` contract that `Store` includes: rules and their
//! throttle, the counters rules read, internal integrations, channels, and the outbox.
//!
//! The outbox has two stages, each written in the transaction of what caused it:
//! 1. a *signal* (an issue got events, was created, regressed or changed status), written
//!    by the batch writer or the issue update that made the change;
//! 2. *deliveries*, written when a signal is evaluated, in the same transaction that
//!    records the rule firing (its compare-and-set throttle) and consumes the signal.
//!
//! Both stages are claimed with a lease, so a node that dies mid-way leaves its claims to
//! expire and be taken again: nothing is lost, and a retry carries the same `Request-ID`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::model::Millis;

/// What the batch writer records for a project with rules, as bits of `NewRule::needs`.
pub mod needs {
    /// A signal for every issue a batch touches, not only new issues and regressions.
    pub const SIGNALS: i64 = 1;
    /// Events per issue and minute.
    pub const EVENT_COUNTS: i64 = 2;
    /// Distinct users per issue and minute.
    pub const USER_COUNTS: i64 = 4;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    /// The validated rule body.
    pub spec: serde_json::Value,
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    pub project_id: i64,
    pub name: String,
    pub spec: serde_json::Value,
    /// Bits of [`needs`].
    pub needs: i64,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// The issue got events (and may have been created or regressed by them).
    Event,
    Resolved,
    Unresolved,
    Ignored,
    /// A post-deploy check reached its verdict.
    Verdict,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Event => "event",
            SignalKind::Resolved => "resolved",
            SignalKind::Unresolved => "unresolved",
            SignalKind::Ignored => "ignored",
            SignalKind::Verdict => "verdict",
        }
    }

    pub fn parse(s: &str) -> Option<SignalKind> {
        Some(match s {
            "event" => SignalKind::Event,
            "resolved" => SignalKind::Resolved,
            "unresolved" => SignalKind::Unresolved,
            "ignored" => SignalKind::Ignored,
            "verdict" => SignalKind::Verdict,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSignal {
    pub id: i64,
    pub project_id: i64,
    /// The issue, for every kind but `Verdict`.
    pub issue_id: Option<i64>,
    /// The post-deploy check, for `Verdict`.
    pub check_id: Option<i64>,
    pub kind: SignalKind,
    pub new_issue: bool,
    pub regression: bool,
    /// The event rules look at: the one that created or regressed the issue, else the
    /// newest of the batch.
    pub event_id: Option<String>,
    pub created_at: Millis,
}

/// Where a delivery goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliveryTarget {
    /// An internal integration's webhook, signed with its client secret.
    SentryApp { app_id: i64 },
    /// A URL of the legacy webhooks plugin (unsigned).
    Webhook { url: String },
    /// A configured channel, which renders the notice in its own format.
    Channel { channel_id: i64 },
    /// A user's mail digest (see [`crate::mail`]): written as a digest entry, never sent
    /// as it is. The delays are the project's, in milliseconds.
    Digest {
        user_id: i64,
        min_delay_ms: i64,
        max_delay_ms: i64,
    },
    /// An email, sent over SMTP; the payload is the rendered message.
    Email { address: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub org_id: i64,
    pub project_id: Option<i64>,
    pub issue_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub target: DeliveryTarget,
    /// `issue`, `event_alert`, `metric_alert`, `release_verdict`, `test`, …
    pub resource: String,
    pub action: String,
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
    /// Part of a burst: waits for the channel's pending summary.
    Held,
    /// Sent as part of a summary.
    Collapsed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Held => "held",
            DeliveryState::Collapsed => "collapsed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            "held" => DeliveryState::Held,
            "collapsed" => DeliveryState::Collapsed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    /// 32 hex digits, the same for every attempt.
    pub request_id: String,
    pub org_id: i64,
    pub project_id: Option<i64>,
    pub issue_id: Option<i64>,
    pub rule_id: Option<i64>,
    pub target: DeliveryTarget,
    pub resource: String,
    pub action: String,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_at: Millis,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: Millis,
    /// The HTTP status, when a response came.
    pub status: Option<i64>,
    pub duration_ms: i64,
    /// The start of the response body.
    pub response: Option<String>,
    pub error: Option<String>,
}

/// A delivery's id, an attempt, and what comes next.
pub type RecordedAttempt = (i64, DeliveryAttempt, AttemptNext);

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptNext {
    Delivered,
    RetryAt(Millis),
    Failed,
}

/// A rule acting for an issue, with what it sends. Committed only if the rule has not
/// acted for the issue within `frequency_ms` (compare-and-set on the last firing).
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub rule_id: i64,
    pub issue_id: i64,
    pub frequency_ms: i64,
    pub deliveries: Vec<NewDelivery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentryApp {
    pub id: i64,
    pub org_id: i64,
    pub slug: String,
    pub name: String,
    pub uuid: String,
    pub installation_uuid: String,
    pub webhook_url: Option<String>,
    /// Subscribed resources: `issue`, `error`, `comment`.
    pub events: Vec<String>,
    pub scopes: Vec<String>,
    pub is_alertable: bool,
    pub overview: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSentryApp {
    pub org_id: i64,
    pub slug: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub events: Vec<String>,
    pub scopes: Vec<String>,
    pub is_alertable: bool,
    pub overview: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: i64,
    pub org_id: i64,
    pub project_id: Option<i64>,
    pub name: String,
    pub kind: String,
    /// The settings as JSON, secrets included.
    pub config: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    pub org_id: i64,
    pub project_id: Option<i64>,
    pub name: String,
    pub kind: String,
    pub config: String,
}

/// When a channel's messages for one project collapse into a summary: once it has
/// received `threshold` of them within `window_ms`, the next ones are held, and one
/// pending summary per channel and project, due `window_ms` after it was opened, takes
/// them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstPolicy {
    pub threshold: i64,
    pub window_ms: i64,
}

/// Builds a summary's payload from its previous payload and the held deliveries it takes.
pub type SummaryFn<'a> = dyn Fn(&str, &[Delivery]) -> String + Send + Sync + 'a;

/// When a rule last acted for an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFire {
    pub rule_id: i64,
    pub rule_name: String,
    pub last_fired: Millis,
    pub times: i64,
}

/// Which deliveries a listing returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub org_id: i64,
    pub project_id: Option<i64>,
    pub state: Option<DeliveryState>,
    /// Only deliveries with an id below this one (the cursor).
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    // --- rules ---------------------------------------------------------------------
    async fn create_rule(&self, rule: &NewRule) -> Result<AlertRule>;
    /// Replaces the rule's name and spec; `NotFound` unless it belongs to the project.
    async fn update_rule(&self, id: i64, rule: &NewRule) -> Result<AlertRule>;
    async fn delete_rule(&self, project_id: i64, id: i64) -> Result<()>;
    async fn get_rule(&self, project_id: i64, id: i64) -> Result<AlertRule>;
    async fn list_rules(&self, project_id: i64) -> Result<Vec<AlertRule>>;
    /// Active rules of these projects.
    async fn active_rules(&self, project_ids: &[i64]) -> Result<Vec<AlertRule>>;
    /// When each rule last acted for the issue, most recent first.
    async fn issue_rule_fires(&self, issue_id: i64) -> Result<Vec<RuleFire>>;
    /// When each rule of the project last acted, for any issue, and how often in all;
    /// most recent first. Rules that never acted are absent.
    async fn project_rule_fires(&self, project_id: i64) -> Result<Vec<RuleFire>>;

    // --- counters rules read -----------------------------------------------------------
    /// Events of the issue that arrived in minutes starting in `[from, to)`.
    async fn issue_event_count(&self, issue_id: i64, from: Millis, to: Millis) -> Result<i64>;
    /// Distinct users of the issue's events that arrived in minutes starting in `[from, to)`.
    async fn issue_user_count(&self, issue_id: i64, from: Millis, to: Millis) -> Result<i64>;
    /// Sessions started in `[from, to)` in the project (and environment, when given).
    async fn project_session_count(
        &self,
        project_id: i64,
        environment: Option<&str>,
        from: Millis,
        to: Millis,
    ) -> Result<i64>;
    /// Drops counters of minutes before `before`; returns the rows deleted.
    async fn prune_alert_counters(&self, before: Millis) -> Result<u64>;

    // --- signals ---------------------------------------------------------------------
    /// Claims up to `limit` signals nobody holds, for `lease_ms`, oldest first.
    async fn claim_signals(&self, limit: u32, lease_ms: i64) -> Result<Vec<AlertSignal>>;
    /// In one transaction: the signals are consumed, each firing whose rule has not
    /// acted for the issue within its frequency is recorded with its deliveries (the
    /// others are dropped), and the plain deliveries are written. Returns the firings
    /// that took effect, by index; `Conflict`, writing nothing, when another node
    /// consumed any of the signals first.
    /// Channel deliveries past the `burst` policy are held for a summary.
    async fn commit_signals(
        &self,
        signal_ids: &[i64],
        firings: &[Firing],
        deliveries: &[NewDelivery],
        burst: Option<BurstPolicy>,
    ) -> Result<Vec<usize>>;
    /// Signals waiting to be evaluated.
    async fn signals_pending(&self) -> Result<i64>;

    // --- deliveries ------------------------------------------------------------------
    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<Delivery>>;
    /// Claims up to `limit` due pending deliveries nobody holds, for `lease_ms`.
    async fn claim_deliveries(&self, limit: u32, lease_ms: i64) -> Result<Vec<Delivery>>;
    async fn record_attempt(
        &self,
        id: i64,
        attempt: &DeliveryAttempt,
        next: AttemptNext,
    ) -> Result<()>;
    /// [`AlertStore::record_attempt`] for many, in one transaction.
    async fn record_attempts(&self, batch: &[RecordedAttempt]) -> Result<()>;
    async fn get_delivery(&self, org_id: i64, id: i64) -> Result<Delivery>;
    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>>;
    async fn delivery_attempts(&self, id: i64) -> Result<Vec<DeliveryAttempt>>;
    /// Makes a delivery pending again, due now, whatever its state.
    async fn redeliver(&self, org_id: i64, id: i64) -> Result<Delivery>;
    /// Releases a claimed delivery unattempted, due again at `next_at` (a channel over
    /// its rate).
    async fn postpone_delivery(&self, id: i64, next_at: Millis) -> Result<()>;
    /// Messages the channel was sent since `since`.
    async fn channel_sent_since(&self, channel_id: i64, since: Millis) -> Result<i64>;
    /// In one transaction: the held deliveries of the summary's channel and project
    /// become collapsed, and the summary's payload becomes what `build` makes of its
    /// previous payload and them. Returns the new payload.
    async fn fill_summary(&self, summary_id: i64, build: &SummaryFn<'_>) -> Result<String>;
    /// Channels that were sent an alert about the issue.
    async fn issue_channels(&self, issue_id: i64) -> Result<Vec<i64>>;

    // --- internal integrations -------------------------------------------------------
    /// Generates the uuids and the client id and secret. `Conflict` when the slug is taken.
    async fn create_sentry_app(&self, app: &NewSentryApp) -> Result<SentryApp>;
    async fn update_sentry_app(&self, id: i64, app: &NewSentryApp) -> Result<SentryApp>;
    async fn get_sentry_app(&self, slug: &str) -> Result<SentryApp>;
    async fn get_sentry_app_by_id(&self, id: i64) -> Result<SentryApp>;
    async fn find_installation(&self, installation_uuid: &str) -> Result<SentryApp>;
    async fn list_sentry_apps(&self, org_id: i64) -> Result<Vec<SentryApp>>;
    async fn delete_sentry_app(&self, id: i64) -> Result<()>;

    // --- channels --------------------------------------------------------------------
    async fn create_channel(&self, channel: &NewChannel) -> Result<Channel>;
    async fn update_channel(&self, id: i64, channel: &NewChannel) -> Result<Channel>;
    async fn get_channel(&self, id: i64) -> Result<Channel>;
    /// The organization's channels, its project-level ones included.
    async fn list_channels(&self, org_id: i64) -> Result<Vec<Channel>>;
    async fn delete_channel(&self, id: i64) -> Result<()>;

    // --- project options -------------------------------------------------------------
    async fn project_option(&self, project_id: i64, key: &str)
    -> Result<Option<serde_json::Value>>;
    /// Sets the option, or removes it when `value` is `None`.
    async fn set_project_option(
        &self,
        project_id: i64,
        key: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<()>;
}
