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
    AlertSignal, DeliveryTarget, EventRecord, Firing, Issue, NewDelivery, Project, SentryApp,
    SignalKind, Store, StoreError,
};
use tokio::sync::{Notify, watch};

use super::config::AlertsConfig;
use super::email;
use super::notice::{Notice, NoticeKind};
use super::payload::{self, EventAlert};
use super::rules::{
    self, ActionKind, Counts, EventFacts, IssueCategory, IssueFacts, RuleSpec, Window,
};
use crate::stored_event;

/// Signals evaluated per round.
const ROUND: u32 = 200;
/// How long a claim on signals lasts, far past a round's work, so only a node that died
/// lets them go (and a claim that still runs out only costs a round: the first commit
/// wins, the other writes nothing).
const LEASE_MS: i64 = 30_000;
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

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
struct ProjectRules {
    project: Project,
    rules: Vec<(i64, RuleSpec)>,
    latest_release: Option<String>,
    apps: Vec<SentryApp>,
    webhook_urls: Vec<String>,
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
            tokio::select! {
                _ = processed.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
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
        for signal in &signals {
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
        let latest_release = if rules.is_empty() {
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
        let Some(event_id) = &signal.event_id else {
            return Ok(());
        };
        let record = match self.store.get_event(signal.project_id, event_id).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => return Ok(()),
            Err(err) => return Err(err),
        };
        let event = stored_event::read(&record);
        let facts = EventFacts::from_event_json(&event);
        let issue_facts = IssueFacts {
            new_issue: signal.new_issue,
            new_in_environment: signal.new_issue,
            regression: signal.regression,
            reappeared: false,
            first_seen_ms: issue.first_seen,
            times_seen: issue.times_seen,
            category: IssueCategory::Error,
            is_latest_release: record.release.is_some() && record.release == project.latest_release,
            assignee: None,
        };
        let now = self.store.clock().now_ms();
        for (rule_id, spec) in &project.rules {
            let counts = self
                .counts(spec, issue, record.environment.as_deref(), now)
                .await?;
            if !rules::evaluate(spec, &facts, &issue_facts, &counts, now) {
                continue;
            }
            let alert = EventAlert {
                rule_name: &spec.name,
                settings: &Value::Null,
                event: &event,
                record: &record,
                project: &project.project,
                base_url: &self.base_url,
            };
            firings.push(Firing {
                rule_id: *rule_id,
                issue_id: issue.id,
                frequency_ms: spec.frequency_ms(),
                deliveries: self
                    .actions(*rule_id, spec, signal, issue, project, &alert)
                    .await?,
            });
        }
        Ok(())
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
        for channel_id in self.store.issue_channels(issue.id).await? {
            let mut notice = issue_notice(issue, &project.project, &self.base_url);
            notice.kind = NoticeKind::IssueResolved;
            notice.timestamp_ms = self.store.clock().now_ms();
            plain.push(NewDelivery {
                org_id: project.project.org_id,
                project_id: Some(project.project.id),
                issue_id: Some(issue.id),
                rule_id: None,
                target: DeliveryTarget::Channel { channel_id },
                resource: "issue".into(),
                action: "resolved".into(),
                payload: serde_json::to_string(&notice).unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// The counts a rule's conditions read, fetched once per window.
    async fn counts(
        &self,
        spec: &RuleSpec,
        issue: &Issue,
        environment: Option<&str>,
        now: i64,
    ) -> Result<WindowCounts, StoreError> {
        let needs = spec.needs();
        let mut counts = WindowCounts::default();
        for w in needs.event_windows {
            let (from, to) = span(w, now);
            let n = self.store.issue_event_count(issue.id, from, to).await?;
            counts.events.insert(w, n);
        }
        for w in needs.user_windows {
            let (from, to) = span(w, now);
            let n = self.store.issue_user_count(issue.id, from, to).await?;
            counts.users.insert(w, n);
        }
        for w in needs.session_windows {
            let (from, to) = span(w, now);
            let env = spec.environment.as_deref().or(environment);
            let n = self
                .store
                .project_session_count(issue.project_id, env, from, to)
                .await?;
            counts.sessions.insert(w, n);
        }
        Ok(counts)
    }

    /// What a firing rule sends, one delivery per destination.
    async fn actions(
        &self,
        rule_id: i64,
        spec: &RuleSpec,
        signal: &AlertSignal,
        issue: &Issue,
        project: &ProjectRules,
        alert: &EventAlert<'_>,
    ) -> Result<Vec<NewDelivery>, StoreError> {
        let delivery =
            |target: DeliveryTarget, resource: &str, action: &str, payload: String| NewDelivery {
                org_id: project.project.org_id,
                project_id: Some(project.project.id),
                issue_id: Some(issue.id),
                rule_id: Some(rule_id),
                target,
                resource: resource.into(),
                action: action.into(),
                payload,
            };
        let mut out = Vec::new();
        let mut legacy_done = false;
        for action in &spec.actions {
            match &action.kind {
                ActionKind::SentryApp {
                    installation_uuid,
                    settings,
                } => {
                    let Some(app) = project
                        .apps
                        .iter()
                        .find(|a| &a.installation_uuid == installation_uuid)
                    else {
                        continue;
                    };
                    let settings = settings
                        .as_ref()
                        .map(|s| {
                            Value::from(s.iter().cloned().map(Value::Object).collect::<Vec<_>>())
                        })
                        .unwrap_or(Value::Null);
                    let alert = EventAlert {
                        settings: &settings,
                        ..*alert
                    };
                    let body = payload::event_alert_webhook(app, &alert);
                    out.push(delivery(
                        DeliveryTarget::SentryApp { app_id: app.id },
                        "event_alert",
                        "triggered",
                        body.to_string(),
                    ));
                }
                ActionKind::Email { .. } | ActionKind::Service { .. }
                    if let Some(audience) = email::Audience::of_action(&action.kind) =>
                {
                    let notice =
                        rule_notice(spec, signal, issue, project, alert.record, &self.base_url);
                    let payload = serde_json::to_string(&notice).unwrap_or_default();
                    let (store, config) = (self.store.as_ref(), &self.config.email);
                    let targets = email::digest_targets(
                        store,
                        config,
                        &self.metrics,
                        &project.project,
                        audience,
                    )
                    .await?;
                    out.extend(targets.into_iter().map(|target| {
                        delivery(target, "event_alert", "triggered", payload.clone())
                    }));
                }
                ActionKind::Service { service } if service != "webhooks" => {}
                ActionKind::Service { .. } | ActionKind::LegacyPlugins => {
                    if legacy_done {
                        continue;
                    }
                    legacy_done = true;
                    let body =
                        payload::legacy_webhook(issue, alert, std::slice::from_ref(&spec.name));
                    for url in &project.webhook_urls {
                        out.push(delivery(
                            DeliveryTarget::Webhook { url: url.clone() },
                            "webhook",
                            "triggered",
                            body.to_string(),
                        ));
                    }
                }
                ActionKind::Channel { channel } => {
                    match self.store.get_channel(*channel).await {
                        Ok(c) if c.org_id == project.project.org_id => {}
                        Ok(_) | Err(StoreError::NotFound) => continue,
                        Err(err) => return Err(err),
                    }
                    let notice =
                        rule_notice(spec, signal, issue, project, alert.record, &self.base_url);
                    out.push(delivery(
                        DeliveryTarget::Channel {
                            channel_id: *channel,
                        },
                        "event_alert",
                        "triggered",
                        serde_json::to_string(&notice).unwrap_or_default(),
                    ));
                }
                // Every email action has an audience: handled above.
                ActionKind::Email { .. } => {}
            }
        }
        Ok(out)
    }
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

/// The minutes a window covers: counters are kept per minute of arrival, so a window
/// takes the minute it starts in whole.
fn span(w: Window, now: i64) -> (i64, i64) {
    let floor = |t: i64| t - t.rem_euclid(MINUTE_MS);
    let from = floor(now - w.from_ago_ms);
    let to = if w.to_ago_ms == 0 {
        i64::MAX
    } else {
        floor(now - w.to_ago_ms)
    };
    (from, to)
}

#[derive(Default)]
struct WindowCounts {
    events: HashMap<Window, i64>,
    users: HashMap<Window, i64>,
    sessions: HashMap<Window, i64>,
}

impl Counts for WindowCounts {
    fn events(&self, window: Window) -> i64 {
        self.events.get(&window).copied().unwrap_or(0)
    }
    fn users(&self, window: Window) -> i64 {
        self.users.get(&window).copied().unwrap_or(0)
    }
    fn sessions(&self, window: Window) -> i64 {
        self.sessions.get(&window).copied().unwrap_or(0)
    }
}

fn rule_notice(
    spec: &RuleSpec,
    signal: &AlertSignal,
    issue: &Issue,
    project: &ProjectRules,
    record: &EventRecord,
    base_url: &str,
) -> Notice {
    let mut notice = issue_notice(issue, &project.project, base_url);
    notice.kind = if signal.new_issue {
        NoticeKind::NewIssue
    } else if signal.regression {
        NoticeKind::Regression
    } else {
        NoticeKind::RuleTriggered
    };
    notice.environment = record.environment.clone();
    notice.release = record.release.clone();
    notice.fields.push(("rule".into(), spec.name.clone()));
    notice.timestamp_ms = record.received_at;
    notice
}

/// What a notice says of an issue, whatever happened to it.
fn issue_notice(issue: &Issue, project: &Project, base_url: &str) -> Notice {
    Notice {
        kind: NoticeKind::RuleTriggered,
        title: issue.title.clone(),
        project: project.slug.clone(),
        url: payload::issue_web_url(base_url, project, issue.id),
        culprit: Some(issue.culprit.clone()).filter(|c| !c.is_empty()),
        level: Some(issue.level.clone()),
        environment: None,
        release: issue.last_release.clone(),
        fields: vec![
            ("events".into(), issue.times_seen.to_string()),
            ("users".into(), issue.user_count.to_string()),
        ],
        items: Vec::new(),
        dedup_key: format!("sextant-issue-{}", issue.id),
        timestamp_ms: issue.last_seen,
    }
}
