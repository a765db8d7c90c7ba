//! The rule evaluator: claims signals (state changes written by the batch writer and by
//! issue updates), evaluates the project's rules against the signal's event and the
//! issue's counters, and commits the firings with their deliveries and the consumed
//! signals in one transaction. Woken by every committed batch, so an alert is handed to
//! delivery within milliseconds of its event being stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sextant_storage::{
    AlertSignal, DeliveryTarget, Firing, Issue, NewDelivery, Project, SentryApp, SignalKind, Store,
    StoreError,
};
use tokio::sync::{Notify, watch};

use super::config::AlertsConfig;
use super::issue_rules::issue_notice;
use super::notice::NoticeKind;
use super::payload;
use super::rules::{self, RuleSpec};

/// Signals evaluated per round.
const ROUND: u32 = 200;
/// How long a claim on signals lasts, far past a round's work, so only a node that died
/// lets them go (and a claim that still runs out only costs a round: the first commit
/// wins, the other writes nothing).
const LEASE_MS: i64 = 30_000;
const DAY_MS: i64 = 86_400_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long a woken evaluator waits for more signals before its round.
const GATHER: Duration = Duration::from_millis(50);

/// The project option of the legacy webhooks plugin: its URLs, one per line in Sentry.
pub const WEBHOOK_URLS: &str = "webhooks:urls";

pub(super) struct Evaluator {
    pub store: Arc<dyn Store>,
    pub config: AlertsConfig,
    pub base_url: String,
    /// Rung when deliveries were written.
    pub deliveries: Arc<Notify>,
    pub metrics: crate::metrics::Metrics,
}

/// A project's rules as evaluated this round.
pub(super) struct ProjectRules {
    pub project: Project,
    pub rules: Vec<(i64, RuleSpec)>,
    pub latest_release: Option<String>,
    pub apps: Vec<SentryApp>,
    pub webhook_urls: Vec<String>,
}

impl Evaluator {
    pub(super) async fn run(self, processed: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_ms.max(10));
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            match self.round().await {
                Ok(n) if n >= ROUND as usize => continue,
                Ok(_) => {}
                Err(StoreError::Conflict(reason)) => tracing::debug!(reason, "alert round dropped"),
                Err(err) => tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "evaluating alert rules failed"
                ),
            }
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(std::time::Instant::now());
                let days = i64::try_from(self.config.counter_days).unwrap_or(31);
                let before = self.store.clock().now_ms() - days * DAY_MS;
                if let Err(err) = self.store.prune_alert_counters(before).await {
                    tracing::error!(
                        error = &err as &dyn std::error::Error,
                        "pruning alert counters failed"
                    );
                }
            }
            let woken = tokio::select! {
                _ = processed.notified() => true,
                _ = tokio::time::sleep(poll) => false,
                _ = stop.changed() => false,
            };
            if *stop.borrow() {
                return;
            }
            if woken {
                // A moment for the next batches' signals to join this round: an issue
                // touched by several is evaluated once.
                tokio::select! {
                    _ = tokio::time::sleep(GATHER) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Evaluates one round of signals; returns how many were claimed.
    async fn round(&self) -> Result<usize, StoreError> {
        let signals = self.store.claim_signals(ROUND, LEASE_MS).await?;
        if signals.is_empty() {
            return Ok(0);
        }
        let mut projects: HashMap<i64, ProjectRules> = HashMap::new();
        let mut firings: Vec<Firing> = Vec::new();
        let mut plain: Vec<NewDelivery> = Vec::new();
        for signal in &coalesce(&signals) {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                projects.entry(signal.project_id)
            {
                match self.project_rules(signal.project_id).await {
                    Ok(rules) => {
                        slot.insert(rules);
                    }
                    // Deleted with its project: the signal has nothing left to say.
                    Err(StoreError::NotFound) => continue,
                    Err(err) => return Err(err),
                }
            }
            let project = &projects[&signal.project_id];
            if signal.kind == SignalKind::Verdict {
                self.verdict(signal, project, &mut plain).await?;
                continue;
            }
            let Some(issue_id) = signal.issue_id else {
                continue;
            };
            let issue = match self.store.get_issue(issue_id).await {
                Ok(issue) => issue,
                Err(StoreError::NotFound) => continue,
                Err(err) => return Err(err),
            };
            self.evaluate(signal, &issue, project, &mut firings, &mut plain)
                .await?;
        }
        let ids: Vec<i64> = signals.iter().map(|s| s.id).collect();
        let burst = Some(self.config.burst());
        let fired = self
            .store
            .commit_signals(&ids, &firings, &plain, burst)
            .await?;
        if !plain.is_empty() || fired.iter().any(|&i| !firings[i].deliveries.is_empty()) {
            self.deliveries.notify_one();
        }
        Ok(signals.len())
    }

    async fn project_rules(&self, project_id: i64) -> Result<ProjectRules, StoreError> {
        let project = self.store.get_project(project_id).await?;
        let mut rules = Vec::new();
        for rule in self.store.active_rules(&[project_id]).await? {
            match rules::parse(&rule.spec) {
                Ok(spec) => rules.push((rule.id, spec)),
                Err(err) => {
                    tracing::warn!(rule = rule.id, error = %err, "skipping a stored rule that no longer parses")
                }
            }
        }
        // Every release of the project is read, so only when a rule asks.
        let latest_release = if !rules.iter().any(|(_, spec)| spec.reads_latest_release()) {
            None
        } else {
            self.store
                .list_releases(project_id)
                .await?
                .into_iter()
                .max_by_key(|r| r.date_created)
                .map(|r| r.version)
        };
        let apps = self.store.list_sentry_apps(project.org_id).await?;
        let webhook_urls = webhook_urls(
            self.store
                .project_option(project_id, WEBHOOK_URLS)
                .await?
                .as_ref(),
        );
        Ok(ProjectRules {
            project,
            rules,
            latest_release,
            apps,
            webhook_urls,
        })
    }

    async fn evaluate(
        &self,
        signal: &AlertSignal,
        issue: &Issue,
        project: &ProjectRules,
        firings: &mut Vec<Firing>,
        plain: &mut Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        let action = match signal.kind {
            SignalKind::Event if signal.new_issue => Some("created"),
            SignalKind::Event => None,
            SignalKind::Resolved => Some("resolved"),
            SignalKind::Unresolved => Some("unresolved"),
            SignalKind::Ignored => Some("archived"),
            SignalKind::Verdict => None,
        };
        if let Some(action) = action {
            for app in project.apps.iter().filter(|a| subscribed(a, "issue")) {
                let body =
                    payload::issue_webhook(action, app, issue, &project.project, &self.base_url);
                plain.push(NewDelivery {
                    org_id: project.project.org_id,
                    project_id: Some(project.project.id),
                    issue_id: Some(issue.id),
                    rule_id: None,
                    target: DeliveryTarget::SentryApp { app_id: app.id },
                    resource: "issue".into(),
                    action: action.into(),
                    payload: body.to_string(),
                });
            }
        }
        if signal.kind == SignalKind::Resolved {
            self.resolve_channels(issue, project, plain).await?;
        }
        // Rules act for open issues only: resolving or ignoring one silences it.
        if signal.kind != SignalKind::Event
            || project.rules.is_empty()
            || issue.status != sextant_storage::IssueStatus::Unresolved
        {
            return Ok(());
        }
        self.fire_rules(signal, issue, project, firings).await
    }

    /// A verdict's alerts, for the rules that listen to verdicts.
    async fn verdict(
        &self,
        signal: &AlertSignal,
        project: &ProjectRules,
        plain: &mut Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        let Some(check_id) = signal.check_id else {
            return Ok(());
        };
        let check = match self.store.get_check(check_id).await {
            Ok(check) => check,
            Err(StoreError::NotFound) => return Ok(()),
            Err(err) => return Err(err),
        };
        if let Some(action) = super::verdict::change(self.store.as_ref(), &check).await? {
            plain.extend(super::verdict::deliveries(
                &project.rules,
                &project.project,
                &project.apps,
                &check,
                action,
                &self.base_url,
            ));
        }
        Ok(())
    }

    /// A resolved issue resolves what its alerts opened: each channel that was alerted
    /// about it hears that it is resolved (PagerDuty resolves the incident by its key).
    async fn resolve_channels(
        &self,
        issue: &Issue,
        project: &ProjectRules,
        plain: &mut Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        let mut notice = issue_notice(issue, &project.project, &self.base_url);
        notice.kind = NoticeKind::IssueResolved;
        notice.timestamp_ms = self.store.clock().now_ms();
        let payload = serde_json::to_string(&notice).unwrap_or_default();
        for channel_id in self.store.issue_channels(issue.id).await? {
            plain.push(NewDelivery {
                org_id: project.project.org_id,
                project_id: Some(project.project.id),
                issue_id: Some(issue.id),
                rule_id: None,
                target: DeliveryTarget::Channel { channel_id },
                resource: "issue".into(),
                action: "resolved".into(),
                payload: payload.clone(),
            });
        }
        Ok(())
    }
}

/// The round's signals with those of one issue's events merged (several batches touched
/// it): new or regressed if any says so, naming the event that made it so, else the
/// newest. Other signals stay as they are, in order.
fn coalesce(signals: &[AlertSignal]) -> Vec<AlertSignal> {
    let mut merged: Vec<AlertSignal> = Vec::with_capacity(signals.len());
    let mut by_issue: HashMap<i64, usize> = HashMap::new();
    for signal in signals {
        let issue = signal.issue_id.filter(|_| signal.kind == SignalKind::Event);
        let Some(index) = issue.and_then(|id| by_issue.get(&id).copied()) else {
            if let Some(id) = issue {
                by_issue.insert(id, merged.len());
            }
            merged.push(signal.clone());
            continue;
        };
        let first = &mut merged[index];
        // Signals come oldest first: a later one names a newer event, or the one that
        // created or regressed the issue; a cause already named stays.
        if !(first.new_issue || first.regression) {
            first.event_id = signal.event_id.clone();
        }
        first.new_issue |= signal.new_issue;
        first.regression |= signal.regression;
    }
    merged
}

/// The URLs of the legacy webhooks plugin, from its option (a list, or lines of text).
pub fn webhook_urls(option: Option<&Value>) -> Vec<String> {
    let lines: Vec<String> = match option {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(text)) => text.lines().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    lines
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn subscribed(app: &SentryApp, resource: &str) -> bool {
    app.webhook_url.is_some() && app.events.iter().any(|e| e == resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(id: i64, issue: i64, new_issue: bool, event: &str) -> AlertSignal {
        AlertSignal {
            id,
            project_id: 1,
            issue_id: Some(issue),
            check_id: None,
            kind: SignalKind::Event,
            new_issue,
            regression: false,
            event_id: Some(event.into()),
            created_at: 0,
        }
    }

    #[test]
    fn one_issue_touched_by_several_batches_is_evaluated_once() {
        let merged = coalesce(&[
            signal(1, 7, true, "created"),
            signal(2, 8, false, "other"),
            signal(3, 7, false, "later"),
            signal(4, 8, false, "newest"),
        ]);
        assert_eq!(merged.len(), 2);
        assert!(merged[0].new_issue);
        assert_eq!(
            merged[0].event_id.as_deref(),
            Some("created"),
            "the cause is named"
        );
        assert_eq!(merged[1].event_id.as_deref(), Some("newest"));
        let resolved = AlertSignal {
            kind: SignalKind::Resolved,
            event_id: None,
            ..signal(5, 7, false, "")
        };
        assert_eq!(coalesce(&[signal(1, 7, false, "a"), resolved]).len(), 2);
    }
}
