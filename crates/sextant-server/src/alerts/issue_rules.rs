//! Issue alert rules for one event signal: the per-issue throttle checked first, the
//! counters a rule's conditions read fetched once per issue and window, the event read
//! only when some rule could fire (summarized, unless a rule reads frames' source), and
//! the deliveries of each rule that does.

use std::collections::HashMap;

use serde_json::Value;
use sextant_storage::{
    AlertSignal, DeliveryTarget, EventRecord, Firing, Issue, NewDelivery, Project, StoreError,
};

use super::email;
use super::evaluate::{Evaluator, ProjectRules};
use super::notice::{Notice, NoticeKind};
use super::payload::{self, EventAlert};
use super::rules::{
    self, ActionKind, Counts, EventFacts, IssueCategory, IssueFacts, RuleSpec, Window,
};
use crate::stored_event;

const MINUTE_MS: i64 = 60_000;

/// The signal's event, read once whichever rules need it.
struct Loaded {
    record: EventRecord,
    facts: EventFacts,
    /// The full normalized event, for webhook payloads; read on the first firing.
    full: Option<Value>,
}

/// An issue's event and user counts per window, shared by its rules.
#[derive(Default)]
struct IssueCounts {
    events: HashMap<Window, i64>,
    users: HashMap<Window, i64>,
}

/// What one rule's conditions read: the issue's counts, and sessions in the rule's
/// environment.
struct RuleCounts<'a> {
    issue: &'a IssueCounts,
    sessions: HashMap<Window, i64>,
}

impl Counts for RuleCounts<'_> {
    fn events(&self, window: Window) -> i64 {
        self.issue.events.get(&window).copied().unwrap_or(0)
    }
    fn users(&self, window: Window) -> i64 {
        self.issue.users.get(&window).copied().unwrap_or(0)
    }
    fn sessions(&self, window: Window) -> i64 {
        self.sessions.get(&window).copied().unwrap_or(0)
    }
}

impl Evaluator {
    /// Evaluates the project's rules for an event signal of an open issue.
    pub(super) async fn fire_rules(
        &self,
        signal: &AlertSignal,
        issue: &Issue,
        project: &ProjectRules,
        firings: &mut Vec<Firing>,
    ) -> Result<(), StoreError> {
        let now = self.store.clock().now_ms();
        let last_fired: HashMap<i64, i64> = self
            .store
            .issue_rule_fires(issue.id)
            .await?
            .into_iter()
            .map(|f| (f.rule_id, f.last_fired))
            .collect();
        let mut issue_facts = IssueFacts {
            new_issue: signal.new_issue,
            new_in_environment: signal.new_issue,
            regression: signal.regression,
            reappeared: false,
            first_seen_ms: issue.first_seen,
            times_seen: issue.times_seen,
            category: IssueCategory::Error,
            is_latest_release: false,
            assignee: None,
        };
        let mut shared = IssueCounts::default();
        let mut loaded: Option<Loaded> = None;
        for (rule_id, spec) in &project.rules {
            // The throttle the commit enforces, checked before any work.
            if last_fired
                .get(rule_id)
                .is_some_and(|&at| at > now - spec.frequency_ms())
            {
                continue;
            }
            let sessions = self.count(spec, issue, &mut shared, now).await?;
            let counts = RuleCounts {
                issue: &shared,
                sessions,
            };
            if !rules::may_fire(spec, &issue_facts, &counts) {
                continue;
            }
            if loaded.is_none() {
                let Some(event) = self.load(signal, project).await? else {
                    return Ok(());
                };
                issue_facts.is_latest_release = event.record.release.is_some()
                    && event.record.release == project.latest_release;
                loaded = Some(event);
            }
            let Some(event) = loaded.as_mut() else {
                continue;
            };
            if !rules::evaluate(spec, &event.facts, &issue_facts, &counts, now) {
                continue;
            }
            let full = event
                .full
                .get_or_insert_with(|| stored_event::read(&event.record));
            let alert = EventAlert {
                rule_name: &spec.name,
                settings: &Value::Null,
                event: full,
                record: &event.record,
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

    /// The signal's event with what rules see of it, or `None` when it is gone.
    async fn load(
        &self,
        signal: &AlertSignal,
        project: &ProjectRules,
    ) -> Result<Option<Loaded>, StoreError> {
        let Some(event_id) = &signal.event_id else {
            return Ok(None);
        };
        let record = match self.store.get_event(signal.project_id, event_id).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => return Ok(None),
            Err(err) => return Err(err),
        };
        // The summary is half the work of the full normalization and has every field a
        // rule reads but frames' source lines.
        let (facts, full) = if project.rules.iter().any(|(_, s)| s.reads_source()) {
            let full = stored_event::read(&record);
            (EventFacts::from_event_json(&full), Some(full))
        } else {
            let summary = stored_event::read_summary(&record);
            (EventFacts::from_event_json(&summary), None)
        };
        Ok(Some(Loaded {
            record,
            facts,
            full,
        }))
    }

    /// Fills in the issue's counts for the rule's windows (each fetched once per issue),
    /// and returns the sessions in its environment.
    async fn count(
        &self,
        spec: &RuleSpec,
        issue: &Issue,
        shared: &mut IssueCounts,
        now: i64,
    ) -> Result<HashMap<Window, i64>, StoreError> {
        let needs = spec.needs();
        for w in needs.event_windows {
            if let std::collections::hash_map::Entry::Vacant(slot) = shared.events.entry(w) {
                let (from, to) = span(w, now);
                slot.insert(self.store.issue_event_count(issue.id, from, to).await?);
            }
        }
        for w in needs.user_windows {
            if let std::collections::hash_map::Entry::Vacant(slot) = shared.users.entry(w) {
                let (from, to) = span(w, now);
                slot.insert(self.store.issue_user_count(issue.id, from, to).await?);
            }
        }
        let mut sessions = HashMap::new();
        for w in needs.session_windows {
            let (from, to) = span(w, now);
            let env = spec.environment.as_deref();
            let n = self
                .store
                .project_session_count(issue.project_id, env, from, to)
                .await?;
            sessions.insert(w, n);
        }
        Ok(sessions)
    }

    /// What a firing rule sends, one delivery per destination.
    pub(super) async fn actions(
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
pub(super) fn issue_notice(issue: &Issue, project: &Project, base_url: &str) -> Notice {
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
