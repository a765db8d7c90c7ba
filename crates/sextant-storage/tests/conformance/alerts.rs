//! Alerting: rules and their throttle, the signals and counters the batch writer records
//! for them, the outbox's claims, attempts and retries, integrations and channels.

use serde_json::json;
use sextant_storage::*;

use crate::harness::*;

fn rule(project_id: i64, needs: i64) -> NewRule {
    NewRule {
        project_id,
        name: "r".into(),
        spec: json!({"name": "r"}),
        needs,
        created_by: None,
    }
}

fn webhook(org_id: i64, project_id: i64, payload: &str) -> NewDelivery {
    NewDelivery {
        org_id,
        project_id: Some(project_id),
        issue_id: None,
        rule_id: None,
        target: DeliveryTarget::Webhook {
            url: "http://hooks.example/x".into(),
        },
        resource: "issue".into(),
        action: "created".into(),
        payload: payload.into(),
    }
}

#[store_test]
pub async fn rules_round_trip_per_project(store: Shared) {
    let p = project(&store).await;
    let created = store
        .create_rule(&rule(p.id, needs::SIGNALS))
        .await
        .unwrap();
    assert_eq!(created.spec, json!({"name": "r"}));
    assert_eq!(created.status, "active");
    let mut renamed = rule(p.id, 0);
    renamed.name = "renamed".into();
    let updated = store.update_rule(created.id, &renamed).await.unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(store.list_rules(p.id).await.unwrap().len(), 1);
    assert_eq!(store.active_rules(&[p.id]).await.unwrap().len(), 1);
    assert!(matches!(
        store.get_rule(p.id + 1, created.id).await,
        Err(StoreError::NotFound)
    ));
    store.delete_rule(p.id, created.id).await.unwrap();
    assert!(store.list_rules(p.id).await.unwrap().is_empty());
}

#[store_test]
pub async fn batches_signal_new_issues_and_count_for_rules(store: Shared) {
    let p = project(&store).await;
    let t = now();
    // Without rules: a new issue is signalled, a repeat event is not, nothing is counted.
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(1), "a", t)]).await;
    let a = r[0].issue_id.unwrap();
    ingest_events(&store, p.id, vec![event(p.id, &eid(2), "a", t)]).await;
    let signals = store.claim_signals(100, 60_000).await.unwrap();
    assert_eq!(signals.len(), 1);
    assert!(signals[0].new_issue);
    assert_eq!(signals[0].issue_id, Some(a));
    assert_eq!(signals[0].event_id.as_deref(), Some(eid(1).as_str()));
    assert_eq!(store.issue_event_count(a, 0, i64::MAX).await.unwrap(), 0);
    // Claimed signals are not handed out again while the lease lasts.
    assert!(store.claim_signals(100, 60_000).await.unwrap().is_empty());
    store
        .commit_signals(&[signals[0].id], &[], &[], None)
        .await
        .unwrap();
    assert_eq!(store.signals_pending().await.unwrap(), 0);

    store
        .create_rule(&rule(
            p.id,
            needs::SIGNALS | needs::EVENT_COUNTS | needs::USER_COUNTS,
        ))
        .await
        .unwrap();
    let with_user = |n: u64, user: &str| {
        let mut e = event(p.id, &eid(n), "a", t);
        e.user_key = Some(user.into());
        e
    };
    let batch = vec![with_user(3, "u1"), with_user(4, "u2"), with_user(5, "u1")];
    ingest_events(&store, p.id, batch).await;
    let signals = store.claim_signals(100, 60_000).await.unwrap();
    assert_eq!(signals.len(), 1, "one signal per touched issue");
    assert!(!signals[0].new_issue);
    assert_eq!(signals[0].event_id.as_deref(), Some(eid(5).as_str()));
    assert_eq!(store.issue_event_count(a, 0, i64::MAX).await.unwrap(), 3);
    assert_eq!(store.issue_user_count(a, 0, i64::MAX).await.unwrap(), 2);
    assert_eq!(
        store
            .issue_event_count(a, t + 60_000, i64::MAX)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.prune_alert_counters(i64::MAX).await.unwrap(), 3);
    assert_eq!(store.issue_event_count(a, 0, i64::MAX).await.unwrap(), 0);
}

#[store_test]
pub async fn status_changes_are_signalled_once(store: Shared) {
    let p = project(&store).await;
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(1), "a", now())]).await;
    let id = r[0].issue_id.unwrap();
    let first = store.claim_signals(10, 60_000).await.unwrap();
    store
        .commit_signals(
            &first.iter().map(|s| s.id).collect::<Vec<_>>(),
            &[],
            &[],
            None,
        )
        .await
        .unwrap();
    let resolve = IssueUpdate {
        status: Some(IssueStatus::Resolved),
    };
    store.update_issues(&[id], &resolve).await.unwrap();
    store.update_issues(&[id], &resolve).await.unwrap();
    let signals = store.claim_signals(10, 60_000).await.unwrap();
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert_eq!(signals[0].kind, SignalKind::Resolved);
}

#[store_test]
pub async fn a_rule_acts_once_per_issue_within_its_frequency(store: Shared) {
    let p = project(&store).await;
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(1), "a", now())]).await;
    let issue_id = r[0].issue_id.unwrap();
    let rule = store.create_rule(&rule(p.id, 0)).await.unwrap();
    let firing = Firing {
        rule_id: rule.id,
        issue_id,
        frequency_ms: HOUR,
        deliveries: vec![webhook(p.org_id, p.id, "{}")],
    };
    let both = [firing.clone(), firing.clone()];
    assert_eq!(
        store.commit_signals(&[], &both, &[], None).await.unwrap(),
        vec![0]
    );
    assert_eq!(
        store
            .commit_signals(&[], std::slice::from_ref(&firing), &[], None)
            .await
            .unwrap(),
        Vec::<usize>::new()
    );
    let fires = store.issue_rule_fires(issue_id).await.unwrap();
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].times, 1);
    // A zero frequency lets it act again.
    let again = Firing {
        frequency_ms: -1,
        ..firing
    };
    assert_eq!(
        store
            .commit_signals(&[], &[again], &[], None)
            .await
            .unwrap(),
        vec![0]
    );
    let filter = DeliveryFilter {
        org_id: p.org_id,
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.list_deliveries(&filter).await.unwrap().len(), 2);
}

#[store_test]
pub async fn deliveries_are_claimed_once_and_retried(store: Shared) {
    let p = project(&store).await;
    let written = store
        .enqueue_deliveries(&[webhook(p.org_id, p.id, "{\"a\":1}")])
        .await
        .unwrap();
    assert_eq!(written[0].request_id.len(), 32);
    let claimed = store.claim_deliveries(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(store.claim_deliveries(10, 60_000).await.unwrap().is_empty());

    let attempt = |status| DeliveryAttempt {
        at: now(),
        status: Some(status),
        duration_ms: 3,
        response: Some("busy".into()),
        error: None,
    };
    store
        .record_attempt(
            claimed[0].id,
            &attempt(503),
            AttemptNext::RetryAt(now() - 1),
        )
        .await
        .unwrap();
    let retry = store.claim_deliveries(10, 60_000).await.unwrap();
    assert_eq!(retry.len(), 1, "due again, and no longer claimed");
    assert_eq!(retry[0].request_id, written[0].request_id);
    assert_eq!(retry[0].attempts, 1);
    store
        .record_attempt(retry[0].id, &attempt(200), AttemptNext::Delivered)
        .await
        .unwrap();
    let done = store.get_delivery(p.org_id, retry[0].id).await.unwrap();
    assert_eq!(done.state, DeliveryState::Delivered);
    assert_eq!(done.attempts, 2);
    let log = store.delivery_attempts(done.id).await.unwrap();
    assert_eq!(
        log.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![Some(503), Some(200)]
    );
    assert!(store.claim_deliveries(10, 60_000).await.unwrap().is_empty());

    let again = store.redeliver(p.org_id, done.id).await.unwrap();
    assert_eq!(again.state, DeliveryState::Pending);
    assert_eq!(store.claim_deliveries(10, 60_000).await.unwrap().len(), 1);
    assert!(matches!(
        store.get_delivery(p.org_id + 1, done.id).await,
        Err(StoreError::NotFound)
    ));
}

#[store_test]
pub async fn integrations_channels_and_options(store: Shared) {
    let p = project(&store).await;
    let new = NewSentryApp {
        org_id: p.org_id,
        slug: "bridge".into(),
        name: "Bridge".into(),
        webhook_url: Some("http://hooks.example/".into()),
        events: vec!["issue".into()],
        scopes: vec![],
        is_alertable: true,
        overview: None,
    };
    let app = store.create_sentry_app(&new).await.unwrap();
    assert_eq!(app.client_secret.len(), 64);
    assert_ne!(app.uuid, app.installation_uuid);
    assert!(matches!(
        store.create_sentry_app(&new).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .find_installation(&app.installation_uuid)
            .await
            .unwrap()
            .id,
        app.id
    );
    assert_eq!(
        store.get_sentry_app("bridge").await.unwrap().events,
        vec!["issue"]
    );

    let channel = store
        .create_channel(&NewChannel {
            org_id: p.org_id,
            project_id: Some(p.id),
            name: "ops".into(),
            kind: "slack".into(),
            config: "{\"kind\":\"slack\"}".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.list_channels(p.org_id).await.unwrap(),
        vec![channel.clone()]
    );
    store.delete_channel(channel.id).await.unwrap();
    assert!(store.list_channels(p.org_id).await.unwrap().is_empty());

    let urls = json!(["http://a.example/"]);
    store
        .set_project_option(p.id, "webhooks:urls", Some(&urls))
        .await
        .unwrap();
    assert_eq!(
        store.project_option(p.id, "webhooks:urls").await.unwrap(),
        Some(urls)
    );
    store
        .set_project_option(p.id, "webhooks:urls", None)
        .await
        .unwrap();
    assert_eq!(
        store.project_option(p.id, "webhooks:urls").await.unwrap(),
        None
    );
}

#[store_test]
pub async fn a_burst_is_held_for_one_summary(store: Shared) {
    let p = project(&store).await;
    let channel = store
        .create_channel(&NewChannel {
            org_id: p.org_id,
            project_id: None,
            name: "ops".into(),
            kind: "slack".into(),
            config: "{}".into(),
        })
        .await
        .unwrap();
    let message = |n: usize| NewDelivery {
        target: DeliveryTarget::Channel {
            channel_id: channel.id,
        },
        ..webhook(p.org_id, p.id, &format!("m{n}"))
    };
    let burst = Some(BurstPolicy {
        threshold: 2,
        window_ms: HOUR,
    });
    let batch: Vec<NewDelivery> = (0..5).map(message).collect();
    store.commit_signals(&[], &[], &batch, burst).await.unwrap();
    let filter = |state| DeliveryFilter {
        org_id: p.org_id,
        state: Some(state),
        limit: 100,
        ..Default::default()
    };
    let held = store
        .list_deliveries(&filter(DeliveryState::Held))
        .await
        .unwrap();
    assert_eq!(held.len(), 3, "the two first go alone, the rest wait");
    let pending = store
        .list_deliveries(&filter(DeliveryState::Pending))
        .await
        .unwrap();
    let summaries: Vec<&Delivery> = pending.iter().filter(|d| d.resource == "summary").collect();
    assert_eq!(summaries.len(), 1, "one summary for the burst");
    assert_eq!(pending.len(), 3);

    let payload = store
        .fill_summary(summaries[0].id, &|previous, held| {
            format!(
                "{previous}+{}",
                held.iter()
                    .map(|d| d.payload.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .await
        .unwrap();
    assert_eq!(payload, "+m2,m3,m4");
    assert!(
        store
            .list_deliveries(&filter(DeliveryState::Held))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_deliveries(&filter(DeliveryState::Collapsed))
            .await
            .unwrap()
            .len(),
        3
    );
    // Filled again (a retry), it keeps what it took.
    let again = store
        .fill_summary(summaries[0].id, &|previous, held| {
            format!("{previous}{}", held.len())
        })
        .await
        .unwrap();
    assert_eq!(again, "+m2,m3,m40");

    assert_eq!(store.channel_sent_since(channel.id, 0).await.unwrap(), 0);
    let due = store.claim_deliveries(10, 60_000).await.unwrap();
    let attempt = DeliveryAttempt {
        at: now(),
        status: Some(200),
        duration_ms: 1,
        response: None,
        error: None,
    };
    store
        .record_attempt(due[0].id, &attempt, AttemptNext::Delivered)
        .await
        .unwrap();
    assert_eq!(
        store
            .channel_sent_since(channel.id, now() - HOUR)
            .await
            .unwrap(),
        1
    );
    store
        .postpone_delivery(due[1].id, now() + HOUR)
        .await
        .unwrap();
    let left: Vec<i64> = store
        .claim_deliveries(10, 60_000)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert!(!left.contains(&due[1].id), "postponed until later");
}

#[store_test]
pub async fn a_finished_check_is_a_verdict_signal(store: Shared) {
    let p = project(&store).await;
    store
        .schedule_checks(&[NewCheck {
            project_id: p.id,
            version: "1.1".into(),
            environment: "production".into(),
            deploy_id: None,
            due_at: now() - 1,
        }])
        .await
        .unwrap();
    let due = store.due_checks(now(), 10).await.unwrap();
    store
        .complete_check(due[0].id, now(), "regressed", "{}")
        .await
        .unwrap();
    store
        .complete_check(due[0].id, now(), "healthy", "{}")
        .await
        .unwrap();
    let signals = store.claim_signals(10, 60_000).await.unwrap();
    assert_eq!(signals.len(), 1, "a check finishes once");
    assert_eq!(signals[0].kind, SignalKind::Verdict);
    assert_eq!(signals[0].check_id, Some(due[0].id));
    assert_eq!(signals[0].issue_id, None);
    let check = store.get_check(due[0].id).await.unwrap();
    assert_eq!(check.verdict.as_deref(), Some("regressed"));
}

#[store_test]
pub async fn channels_alerted_about_an_issue_are_known(store: Shared) {
    let p = project(&store).await;
    let r = ingest_events(&store, p.id, vec![event(p.id, &eid(1), "a", now())]).await;
    let issue_id = r[0].issue_id.unwrap();
    let alert = NewDelivery {
        issue_id: Some(issue_id),
        resource: "event_alert".into(),
        target: DeliveryTarget::Channel { channel_id: 7 },
        ..webhook(p.org_id, p.id, "{}")
    };
    store.enqueue_deliveries(&[alert]).await.unwrap();
    assert_eq!(store.issue_channels(issue_id).await.unwrap(), vec![7]);
    assert!(store.issue_channels(issue_id + 1).await.unwrap().is_empty());
}
