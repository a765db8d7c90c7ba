//! Metric alerts: rules with their triggers and projects, claims that hand a rule to one
//! evaluation at a time, incidents changed together with their notifications (or not at
//! all), and the event counts rules read.

use serde_json::json;
use sextant_storage::*;

use crate::harness::*;

fn new_rule(org_id: i64, project_id: i64, labels: &[&str]) -> NewMetricRule {
    NewMetricRule {
        org_id,
        name: "crash-free".into(),
        spec: json!({"aggregate": "count()", "timeWindow": 60}),
        project_ids: vec![project_id],
        triggers: labels
            .iter()
            .map(|l| NewMetricTrigger {
                label: (*l).into(),
                spec: json!({"alertThreshold": 10}),
            })
            .collect(),
        created_by: Some("ada@example.com".into()),
    }
}

/// One webhook delivery per change, naming the incident it was built for.
fn notify(incident: &Incident) -> Vec<NewDelivery> {
    vec![NewDelivery {
        org_id: incident.org_id,
        project_id: None,
        issue_id: None,
        rule_id: Some(incident.rule_id),
        target: DeliveryTarget::Webhook {
            url: "http://hooks.example/m".into(),
        },
        resource: "metric_alert".into(),
        action: incident.status.to_string(),
        payload: format!("incident {}", incident.identifier),
    }]
}

async fn deliveries(store: &Shared, org_id: i64) -> Vec<Delivery> {
    store
        .list_deliveries(&DeliveryFilter {
            org_id,
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap()
}

fn evaluation(rule: &MetricRule, change: Option<IncidentChange>) -> MetricEvaluation {
    MetricEvaluation {
        rule_id: rule.id,
        claimed_until: rule.claimed_until,
        state: json!({"n": 1}),
        next_eval_at: now() + 60_000,
        change,
    }
}

fn open(status: i64) -> Option<IncidentChange> {
    Some(IncidentChange::Open {
        title: "crash-free".into(),
        projects: vec!["default".into()],
        status,
        date_started: now() - 60_000,
    })
}

#[store_test]
pub async fn metric_rules_round_trip_keeping_trigger_ids(store: Shared) {
    let p = project(&store).await;
    let created = store
        .create_metric_rule(&new_rule(p.org_id, p.id, &["warning", "critical"]))
        .await
        .unwrap();
    assert_eq!(created.project_ids, vec![p.id]);
    let labels: Vec<&str> = created.triggers.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["critical", "warning"]);
    assert_eq!(created.spec["timeWindow"], 60);
    assert_eq!(created.state, json!({}));
    assert_eq!(created.status, "active");

    let mut edited = new_rule(p.org_id, p.id, &["critical"]);
    edited.name = "renamed".into();
    edited.triggers[0].spec = json!({"alertThreshold": 20});
    let updated = store.update_metric_rule(created.id, &edited).await.unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.triggers.len(), 1);
    assert_eq!(updated.triggers[0].id, created.triggers[0].id);
    assert_eq!(updated.triggers[0].spec["alertThreshold"], 20);
    assert_eq!(updated.created_by.as_deref(), Some("ada@example.com"));

    let other = store.create_org("other", "Other").await.unwrap();
    assert!(matches!(
        store.get_metric_rule(other.id, created.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update_metric_rule(created.id, &new_rule(other.id, p.id, &["critical"]))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_metric_rules(p.org_id).await.unwrap().len(), 1);
    assert!(store.list_metric_rules(other.id).await.unwrap().is_empty());
    store
        .delete_metric_rule(p.org_id, created.id)
        .await
        .unwrap();
    assert!(store.list_metric_rules(p.org_id).await.unwrap().is_empty());
    assert!(matches!(
        store.delete_metric_rule(p.org_id, created.id).await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn a_due_rule_is_claimed_by_one_evaluation_at_a_time(store: Shared) {
    let p = project(&store).await;
    let rule = store
        .create_metric_rule(&new_rule(p.org_id, p.id, &["critical"]))
        .await
        .unwrap();
    // Two claims at once: the rule goes to exactly one of them.
    let (a, b) = tokio::join!(
        store.claim_metric_rules(10, 60_000),
        store.claim_metric_rules(10, 60_000)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let claimed = a.into_iter().chain(b).next().unwrap();
    assert_eq!(claimed.id, rule.id);
    assert!(claimed.claimed_until > now());
    assert!(
        store
            .claim_metric_rules(10, 60_000)
            .await
            .unwrap()
            .is_empty()
    );

    // Committing stores the state, releases the claim and schedules the next round.
    store
        .commit_metric_evaluation(&evaluation(&claimed, None), &notify)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_metric_rule(p.org_id, rule.id)
            .await
            .unwrap()
            .state,
        json!({"n": 1})
    );
    assert!(
        store
            .claim_metric_rules(10, 60_000)
            .await
            .unwrap()
            .is_empty()
    );
    // The same evaluation cannot commit twice.
    assert!(matches!(
        store
            .commit_metric_evaluation(&evaluation(&claimed, open(20)), &notify)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(deliveries(&store, p.org_id).await.is_empty());

    // A claim whose lease ran out is taken by the next node; the late one cannot commit.
    store
        .update_metric_rule(rule.id, &new_rule(p.org_id, p.id, &["critical"]))
        .await
        .unwrap();
    let late = store
        .claim_metric_rules(10, -1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let next = store
        .claim_metric_rules(10, 60_000)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_ne!(late.claimed_until, next.claimed_until);
    assert!(matches!(
        store
            .commit_metric_evaluation(&evaluation(&late, open(20)), &notify)
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .commit_metric_evaluation(&evaluation(&next, None), &notify)
        .await
        .unwrap();
    // An edit drops any claim, so an evaluation of the rule as it was cannot commit.
    store
        .update_metric_rule(rule.id, &new_rule(p.org_id, p.id, &["critical"]))
        .await
        .unwrap();
    let fresh = store
        .claim_metric_rules(10, 60_000)
        .await
        .unwrap()
        .pop()
        .unwrap();
    store
        .update_metric_rule(rule.id, &new_rule(p.org_id, p.id, &["critical"]))
        .await
        .unwrap();
    assert!(matches!(
        store
            .commit_metric_evaluation(&evaluation(&fresh, open(20)), &notify)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.open_incident(rule.id).await.unwrap().is_none());
    assert!(deliveries(&store, p.org_id).await.is_empty());
}

#[store_test]
pub async fn incidents_change_together_with_their_notifications(store: Shared) {
    let p = project(&store).await;
    let rule = store
        .create_metric_rule(&new_rule(p.org_id, p.id, &["critical", "warning"]))
        .await
        .unwrap();
    let claim = || async { store.claim_metric_rules(1, 60_000).await.unwrap().pop() };
    let due_now = |mut e: MetricEvaluation| {
        e.next_eval_at = 0;
        e
    };

    let claimed = claim().await.unwrap();
    let opened = store
        .commit_metric_evaluation(&due_now(evaluation(&claimed, open(20))), &notify)
        .await
        .unwrap()
        .expect("opened");
    assert_eq!(opened.identifier, 1);
    assert_eq!(opened.status, incident_status::CRITICAL);
    assert_eq!(opened.status_method, status_method::RULE_TRIGGERED);
    assert_eq!(opened.projects, vec!["default".to_string()]);
    assert_eq!(opened.date_closed, None);
    let sent = deliveries(&store, p.org_id).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].payload, "incident 1");
    assert_eq!(sent[0].resource, "metric_alert");
    assert_eq!(
        store.open_incident(rule.id).await.unwrap().map(|i| i.id),
        Some(opened.id)
    );

    let claimed = claim().await.unwrap();
    let level = Some(IncidentChange::Level {
        incident_id: opened.id,
        status: incident_status::WARNING,
    });
    let warned = store
        .commit_metric_evaluation(&due_now(evaluation(&claimed, level)), &notify)
        .await
        .unwrap()
        .expect("changed");
    assert_eq!(
        (warned.id, warned.status),
        (opened.id, incident_status::WARNING)
    );

    let claimed = claim().await.unwrap();
    let close = Some(IncidentChange::Close {
        incident_id: opened.id,
    });
    let closed = store
        .commit_metric_evaluation(&due_now(evaluation(&claimed, close.clone())), &notify)
        .await
        .unwrap()
        .expect("closed");
    assert_eq!(closed.status, incident_status::CLOSED);
    assert!(closed.date_closed.is_some());
    assert!(store.open_incident(rule.id).await.unwrap().is_none());
    let sent = deliveries(&store, p.org_id).await;
    let actions: Vec<&str> = sent.iter().rev().map(|d| d.action.as_str()).collect();
    assert_eq!(actions, ["20", "10", "2"]);

    // Closing what is already closed changes nothing and notifies nobody. (The rule
    // stays claimed by a failed commit until its lease ends: here, at once.)
    let claimed = store
        .claim_metric_rules(1, -1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(matches!(
        store
            .commit_metric_evaluation(&due_now(evaluation(&claimed, close)), &notify)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(deliveries(&store, p.org_id).await.len(), 3);

    let history: Vec<(i64, Option<String>, Option<String>)> = store
        .incident_activity(opened.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.kind, a.value, a.previous_value))
        .collect();
    let s = |v: i64| Some(v.to_string());
    assert_eq!(
        history,
        [
            (activity_kind::DETECTED, None, None),
            (activity_kind::STATUS_CHANGE, s(20), s(1)),
            (activity_kind::STATUS_CHANGE, s(10), s(20)),
            (activity_kind::STATUS_CHANGE, s(2), s(10)),
        ]
    );

    // A second incident gets the organization's next identifier; editing the rule
    // closes it without a notification.
    let claimed = claim().await.unwrap();
    let second = store
        .commit_metric_evaluation(&evaluation(&claimed, open(10)), &notify)
        .await
        .unwrap()
        .expect("opened");
    assert_eq!(second.identifier, 2);
    store
        .update_metric_rule(rule.id, &new_rule(p.org_id, p.id, &["critical"]))
        .await
        .unwrap();
    let edited = store.get_incident(p.org_id, 2).await.unwrap();
    assert_eq!(edited.status, incident_status::CLOSED);
    assert_eq!(edited.status_method, status_method::RULE_UPDATED);
    assert_eq!(deliveries(&store, p.org_id).await.len(), 4);

    let filter = |open| IncidentFilter {
        org_id: p.org_id,
        open,
        rule_id: None,
        limit: 100,
    };
    let all = store.list_incidents(&filter(None)).await.unwrap();
    assert_eq!(all.iter().map(|i| i.identifier).collect::<Vec<_>>(), [2, 1]);
    assert!(
        store
            .list_incidents(&filter(Some(true)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.get_incident(p.org_id, 3).await,
        Err(StoreError::NotFound)
    ));
    // Deleting the rule deletes its incidents.
    store.delete_metric_rule(p.org_id, rule.id).await.unwrap();
    assert!(
        store
            .list_incidents(&filter(None))
            .await
            .unwrap()
            .is_empty()
    );
}

#[store_test]
pub async fn event_counts_follow_the_window_and_conditions(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let mut events = Vec::new();
    for (n, (level, env, user, age)) in [
        ("error", "production", "id:1", 60_000),
        ("error", "production", "id:2", 120_000),
        ("warning", "production", "id:1", 60_000),
        ("error", "staging", "id:3", 60_000),
        ("error", "production", "id:4", 7_200_000),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = event(p.id, &eid(n as u64 + 1), &format!("h{}", n % 2), t - age);
        e.level = level.into();
        e.environment = Some(env.into());
        e.user_key = Some(user.into());
        e.tags = vec![
            ("level".into(), level.into()),
            ("environment".into(), env.into()),
        ];
        e.title = format!("DiskFull: {n}");
        events.push(e);
    }
    ingest_events(&store, p.id, events).await;

    let window = |conditions: Vec<EventCondition>| EventWindow {
        project_ids: vec![p.id],
        environment: Some("production".into()),
        event_types: vec!["error".into(), "default".into()],
        conditions,
        from: t - 3_600_000,
        to: t + 60_000,
    };
    let stats = |w| {
        let store = store.clone();
        async move { store.metric_event_stats(&w).await.unwrap() }
    };
    assert_eq!(
        stats(window(vec![])).await,
        EventStats {
            events: 3,
            users: 2
        }
    );
    let level = |negate| EventCondition::Tag {
        key: "level".into(),
        value: "error".into(),
        negate,
    };
    assert_eq!(stats(window(vec![level(false)])).await.events, 2);
    assert_eq!(stats(window(vec![level(true)])).await.events, 1);
    let text = |t: &str| EventCondition::Text { text: t.into() };
    assert_eq!(stats(window(vec![text("diskfull: 2")])).await.events, 1);
    assert_eq!(stats(window(vec![text("disk%")])).await.events, 0);
    let mut everywhere = window(vec![level(false)]);
    everywhere.environment = None;
    assert_eq!(stats(everywhere).await.users, 3);
    let mut none = window(vec![]);
    none.project_ids.clear();
    assert_eq!(stats(none).await, EventStats::default());
}

#[store_test]
pub async fn an_incident_does_not_change_without_its_notifications(store: Shared) {
    let p = project(&store).await;
    let rule = store
        .create_metric_rule(&new_rule(p.org_id, p.id, &["critical"]))
        .await
        .unwrap();
    let claimed = store
        .claim_metric_rules(1, -1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    // A notification that cannot be written (its organization does not exist) takes
    // the incident and the rule's new state down with it.
    let unwritable = |incident: &Incident| {
        let mut deliveries = notify(incident);
        deliveries[0].org_id = incident.org_id + 1_000_000;
        deliveries
    };
    assert!(
        store
            .commit_metric_evaluation(&evaluation(&claimed, open(20)), &unwritable)
            .await
            .is_err()
    );
    assert!(store.open_incident(rule.id).await.unwrap().is_none());
    assert!(deliveries(&store, p.org_id).await.is_empty());
    let after = store.get_metric_rule(p.org_id, rule.id).await.unwrap();
    assert_eq!(after.state, json!({}));
    // The claim was not released either; once it lapses the rule is evaluated again.
    let again = store
        .claim_metric_rules(1, 60_000)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let opened = store
        .commit_metric_evaluation(&evaluation(&again, open(20)), &notify)
        .await
        .unwrap()
        .expect("opened");
    assert_eq!(
        opened.identifier, 1,
        "the failed attempt used no identifier"
    );
    assert_eq!(deliveries(&store, p.org_id).await.len(), 1);
}
