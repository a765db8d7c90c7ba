//! Evaluating rules against a real store (in memory) on a manual clock: a crash-free rule
//! going warning → critical → resolved with the notifications Sentry would send at each
//! step, an error count over its window, and an evaluation whose claim was lost.

use std::sync::Arc;

use serde_json::{Value, json};
use sextant_storage::clock::{Clock, ManualClock};
use sextant_storage::*;

use super::*;
use crate::alerts::metric::spec::{self, MetricSpec};

/// A whole minute, so session buckets line up.
const T0: i64 = 1_767_261_600_000;
const MINUTE: i64 = 60_000;

struct Fixture {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    project: Project,
    app: SentryApp,
    channel: Channel,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(T0));
    let store = open_with_clock("sqlite::memory:", clock.clone())
        .await
        .unwrap();
    let (_, project, _) = store.bootstrap_default().await.unwrap().unwrap();
    let app = store
        .create_sentry_app(&NewSentryApp {
            org_id: project.org_id,
            slug: "pager".into(),
            name: "Pager".into(),
            webhook_url: Some("http://127.0.0.1:9/hook".into()),
            events: Vec::new(),
            scopes: Vec::new(),
            is_alertable: true,
            overview: None,
        })
        .await
        .unwrap();
    let channel = store
        .create_channel(&NewChannel {
            org_id: project.org_id,
            project_id: None,
            name: "ops".into(),
            kind: "pagerduty".into(),
            config: "{}".into(),
        })
        .await
        .unwrap();
    Fixture {
        store,
        clock,
        project,
        app,
        channel,
    }
}

impl Fixture {
    async fn rule(&self, body: Value) -> MetricRule {
        let spec = spec::parse(&body).unwrap();
        self.store
            .create_metric_rule(&NewMetricRule {
                org_id: self.project.org_id,
                name: spec.name.clone(),
                spec: spec.stored(),
                project_ids: vec![self.project.id],
                triggers: spec.stored_triggers(),
                created_by: None,
            })
            .await
            .unwrap()
    }

    async fn write(&self, batch: Batch) {
        self.store
            .enqueue(vec![InboxEntry {
                project_id: self.project.id,
                kind: InboxKind::Envelope,
                received_at: self.clock.now_ms(),
                client_ip: None,
                user_agent: None,
                body: b"{}".to_vec(),
            }])
            .await
            .unwrap();
        let report = self
            .store
            .process_inbox(10, &move |_: &[InboxRow]| batch.clone())
            .await
            .unwrap();
        assert_eq!(report.rows, 1);
    }

    async fn sessions(&self, total: i64, crashed: i64) {
        let delta = SessionDelta {
            project_id: self.project.id,
            release: "1.0".into(),
            environment: "production".into(),
            started: self.clock.now_ms() - MINUTE,
            total,
            errored: crashed,
            crashed,
            ..SessionDelta::default()
        };
        self.write(Batch {
            sessions: vec![delta],
            ..Batch::default()
        })
        .await;
    }

    /// The next minute's evaluation of the one rule, as the worker runs it.
    async fn evaluate(&self) -> Option<Incident> {
        self.clock.advance(MINUTE);
        let rule = self
            .store
            .claim_metric_rules(10, 60_000)
            .await
            .unwrap()
            .pop()
            .expect("the rule is due");
        let ctx = Context {
            store: self.store.as_ref(),
            base_url: "https://sextant.example",
            interval_ms: MINUTE,
        };
        evaluate(&ctx, &rule, self.clock.now_ms()).await.unwrap()
    }

    /// Deliveries written so far, oldest first.
    async fn sent(&self) -> Vec<Delivery> {
        let mut all = self
            .store
            .list_deliveries(&DeliveryFilter {
                org_id: self.project.org_id,
                limit: 100,
                ..DeliveryFilter::default()
            })
            .await
            .unwrap();
        all.reverse();
        all
    }
}

fn crash_free_rule(app_id: i64, channel_id: i64) -> Value {
    json!({
        "name": "Checkout crash-free",
        "projects": ["default"],
        "aggregate": "percentage(sessions_crashed, sessions) AS _crash_rate_alert_aggregate",
        "query": "",
        "environment": "production",
        "timeWindow": 60,
        "thresholdType": 1,
        "resolveThreshold": 95,
        "triggers": [
            {"label": "critical", "alertThreshold": 80, "actions": [
                {"type": "sentry_app", "targetType": "sentry_app",
                 "targetIdentifier": app_id, "sentryAppId": app_id},
            ]},
            {"label": "warning", "alertThreshold": 90, "actions": [
                {"type": "sextant_channel", "targetType": "specific",
                 "targetIdentifier": channel_id.to_string()},
            ]},
        ],
    })
}

fn notice(d: &Delivery) -> Value {
    serde_json::from_str(&d.payload).unwrap()
}

#[tokio::test]
async fn crash_free_rule_warns_escalates_and_resolves_with_sentrys_actions() {
    let f = fixture().await;
    let rule = f.rule(crash_free_rule(f.app.id, f.channel.id)).await;

    // No sessions: no rate, nothing happens.
    assert_eq!(f.evaluate().await, None);
    // 85 %: the warning trigger fires, and only its action runs.
    f.sessions(100, 15).await;
    let warned = f.evaluate().await.expect("opened");
    assert_eq!(
        (warned.identifier, warned.status),
        (1, incident_status::WARNING)
    );
    let sent = f.sent().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].target,
        DeliveryTarget::Channel {
            channel_id: f.channel.id
        }
    );
    assert_eq!(
        (sent[0].resource.as_str(), sent[0].action.as_str()),
        ("metric_alert", "warning")
    );
    let n = notice(&sent[0]);
    assert_eq!(n["kind"], "metric_warning");
    assert_eq!(n["dedup_key"], format!("sextant-metric-{}", rule.id));
    assert_eq!(
        n["fields"][0][1],
        "85.0% sessions crash free rate in the last 60 minutes"
    );

    // The same rate again changes nothing.
    assert_eq!(f.evaluate().await, None);
    // 77.5 %: critical, and every action runs.
    f.sessions(100, 30).await;
    let critical = f.evaluate().await.expect("escalated");
    assert_eq!(
        (critical.id, critical.status),
        (warned.id, incident_status::CRITICAL)
    );
    let sent = f.sent().await;
    assert_eq!(sent.len(), 3);
    let hook = sent
        .iter()
        .find(|d| d.target == DeliveryTarget::SentryApp { app_id: f.app.id })
        .expect("webhook");
    assert_eq!(hook.action, "critical");
    let body: Value = serde_json::from_str(&hook.payload).unwrap();
    assert_eq!(body["action"], "critical");
    assert_eq!(
        body["installation"]["uuid"],
        f.app.installation_uuid.as_str()
    );
    assert_eq!(body["actor"]["id"], "sentry");
    let data = &body["data"];
    assert_eq!(data["description_title"], "Critical: Checkout crash-free");
    assert_eq!(
        data["description_text"],
        "77.5% sessions crash free rate in the last 60 minutes"
    );
    assert_eq!(
        data["web_url"],
        format!(
            "https://sextant.example/organizations/default/alerts/rules/details/{}/?alert=1",
            rule.id
        )
    );
    let incident = &data["metric_alert"];
    assert_eq!(incident["identifier"], "1");
    assert_eq!(incident["status"], 20);
    assert_eq!(incident["projects"], json!(["default"]));
    assert_eq!(incident["alert_rule"]["id"], rule.id.to_string());
    assert_eq!(incident["alert_rule"]["threshold_type"], 1);
    assert_eq!(
        incident["alert_rule"]["triggers"][0]["alert_threshold"],
        80.0
    );
    assert_eq!(notice(&sent[2])["kind"], "metric_critical");

    // 95.5 %: past the resolve threshold. It was critical, so every action hears.
    f.sessions(800, 0).await;
    let resolved = f.evaluate().await.expect("resolved");
    assert_eq!(resolved.status, incident_status::CLOSED);
    assert!(resolved.date_closed.is_some());
    let sent = f.sent().await;
    assert_eq!(sent.len(), 5);
    assert!(sent[3..].iter().all(|d| d.action == "resolved"), "{sent:?}");
    let closing = sent[3..]
        .iter()
        .find(|d| matches!(d.target, DeliveryTarget::Channel { .. }))
        .unwrap();
    assert_eq!(notice(closing)["kind"], "metric_resolved");
    assert_eq!(
        notice(closing)["dedup_key"],
        format!("sextant-metric-{}", rule.id)
    );
    assert!(f.store.open_incident(rule.id).await.unwrap().is_none());
}

#[tokio::test]
async fn error_count_rule_counts_matching_events_in_its_window() {
    let f = fixture().await;
    let mut body = crash_free_rule(f.app.id, f.channel.id);
    body["aggregate"] = json!("count()");
    body["query"] = json!("level:error");
    body["dataset"] = json!("events");
    body["timeWindow"] = json!(5);
    body["thresholdType"] = json!(0);
    body["resolveThreshold"] = json!(null);
    body["triggers"] = json!([{"label": "critical", "alertThreshold": 2, "actions": [
        {"type": "sentry_app", "targetType": "sentry_app", "targetIdentifier": f.app.id},
    ]}]);
    let mut spec: MetricSpec = spec::parse(&body).unwrap();
    spec.event_query.conditions = vec![EventCondition::Tag {
        key: "level".into(),
        value: "error".into(),
        negate: false,
    }];
    let rule = f
        .store
        .create_metric_rule(&NewMetricRule {
            org_id: f.project.org_id,
            name: spec.name.clone(),
            spec: spec.stored(),
            project_ids: vec![f.project.id],
            triggers: spec.stored_triggers(),
            created_by: None,
        })
        .await
        .unwrap();
    let event = |n: u64, level: &str| NewEvent {
        project_id: f.project.id,
        event_id: format!("{n:032x}"),
        timestamp: f.clock.now_ms(),
        received_at: f.clock.now_ms(),
        level: level.into(),
        platform: "python".into(),
        event_type: "error".into(),
        release: None,
        environment: Some("production".into()),
        title: "OSError: disk full".into(),
        culprit: "app.save".into(),
        message: String::new(),
        metadata: json!({}),
        tags: vec![("level".into(), level.into())],
        user_key: None,
        trace_id: None,
        unhandled: false,
        grouping_config: "newstyle:2023-01-11".into(),
        hashes: vec!["disk".into()],
        payload: vec![0x28, 0xb5, 0x2f, 0xfd],
    };
    // Two errors and two warnings: not more than 2 matching events.
    f.write(Batch {
        events: vec![
            event(1, "error"),
            event(2, "error"),
            event(3, "warning"),
            event(4, "warning"),
        ],
        ..Batch::default()
    })
    .await;
    assert_eq!(f.evaluate().await, None);
    f.write(Batch {
        events: vec![event(5, "error")],
        ..Batch::default()
    })
    .await;
    let opened = f.evaluate().await.expect("opened");
    assert_eq!(opened.status, incident_status::CRITICAL);
    let hook: Value = serde_json::from_str(&f.sent().await[0].payload).unwrap();
    assert_eq!(
        hook["data"]["description_text"],
        "3 events in the last 5 minutes\nFilter: level:error"
    );
    // Five minutes on, the events have left the window: back to 0, resolved.
    f.clock.advance(5 * MINUTE);
    let resolved = f.evaluate().await.expect("resolved");
    assert_eq!(
        (resolved.id, resolved.status),
        (opened.id, incident_status::CLOSED)
    );
    assert_eq!(f.sent().await.len(), 2);
    assert_eq!(rule.id, resolved.rule_id);
}

#[tokio::test]
async fn an_evaluation_whose_claim_was_lost_changes_and_sends_nothing() {
    let f = fixture().await;
    let rule = f.rule(crash_free_rule(f.app.id, f.channel.id)).await;
    f.sessions(100, 50).await;
    f.clock.advance(MINUTE);
    let claimed = f
        .store
        .claim_metric_rules(10, 60_000)
        .await
        .unwrap()
        .pop()
        .unwrap();
    // Edited meanwhile: the claim is gone with the old rule.
    let spec = MetricSpec::from_rule(&rule).unwrap();
    f.store
        .update_metric_rule(
            rule.id,
            &NewMetricRule {
                org_id: rule.org_id,
                name: "renamed".into(),
                spec: spec.stored(),
                project_ids: rule.project_ids.clone(),
                triggers: spec.stored_triggers(),
                created_by: None,
            },
        )
        .await
        .unwrap();
    let ctx = Context {
        store: f.store.as_ref(),
        base_url: "https://sextant.example",
        interval_ms: MINUTE,
    };
    assert_eq!(
        evaluate(&ctx, &claimed, f.clock.now_ms()).await.unwrap(),
        None
    );
    assert!(f.store.open_incident(rule.id).await.unwrap().is_none());
    assert!(f.sent().await.is_empty());
    // The edited rule is due at once and opens the incident itself.
    assert!(f.evaluate().await.is_some());
}
