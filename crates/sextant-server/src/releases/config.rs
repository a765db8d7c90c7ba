//! Release-health settings: server-wide scheduling (`ReleasesConfig`, part of `Config`)
//! and the per-project deploy-gate thresholds (`GateSettings`, stored as JSON).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReleasesConfig {
    /// Seconds after each registered deploy at which the gate runs automatically.
    pub check_after_secs: Vec<u64>,
    /// Window of the automatic checks, and the default window of `release check`.
    pub window_secs: u64,
    /// How often the scheduler looks for due checks, in milliseconds.
    pub poll_ms: u64,
    /// Days of session rollups kept; older ones are pruned.
    pub retention_days: u64,
}

impl Default for ReleasesConfig {
    fn default() -> Self {
        ReleasesConfig {
            check_after_secs: vec![600, 1800],
            window_secs: 1800,
            poll_ms: 5000,
            retention_days: 90,
        }
    }
}

/// Per-project gate thresholds. Every field has a default, so a stored partial object
/// (or none) is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct GateSettings {
    /// Regressed when crash-free sessions drop by at least this many percentage points…
    pub crash_free_drop_points: f64,
    /// …with this one-sided confidence.
    pub crash_free_confidence: f64,
    /// Regressed when error events per session (or minute) rise at least this much…
    pub error_rate_ratio: f64,
    /// …with a p-value below this.
    pub error_rate_p: f64,
    /// The same for unhandled error events.
    pub unhandled_ratio: f64,
    pub unhandled_p: f64,
    /// The same for events of issues first seen in the release.
    pub new_issue_ratio: f64,
    pub new_issue_p: f64,
    /// New issues must reach this many distinct users (or events, when users are
    /// unknown) to count against a release.
    pub new_issue_min_users: i64,
    /// Sessions needed on each side before session signals can conclude.
    pub min_sessions: i64,
    /// Events needed (both sides together) before the per-minute error rate can conclude
    /// when there are no sessions at all.
    pub min_events: i64,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            crash_free_drop_points: 0.5,
            crash_free_confidence: 0.95,
            error_rate_ratio: 1.5,
            error_rate_p: 0.01,
            unhandled_ratio: 1.5,
            unhandled_p: 0.01,
            new_issue_ratio: 1.5,
            new_issue_p: 0.01,
            new_issue_min_users: 2,
            min_sessions: 100,
            min_events: 20,
        }
    }
}
