//! Rule firings as the console shows them: per issue, and per rule across a project.

use serde_json::json;
use sextant_storage::*;

use crate::harness::*;

fn rule(project_id: i64, name: &str) -> NewRule {
    NewRule {
        project_id,
        name: name.into(),
        spec: json!({"name": name}),
        needs: 0,
        created_by: None,
    }
}

fn firing(rule_id: i64, issue_id: i64) -> Firing {
    Firing {
        rule_id,
        issue_id,
        frequency_ms: -1,
        deliveries: Vec::new(),
    }
}

#[store_test]
pub async fn project_rule_fires_sum_each_rule_over_its_issues(store: Shared) {
    let p = project(&store).await;
    let t = now();
    let r = ingest_events(
        &store,
        p.id,
        vec![event(p.id, &eid(1), "a", t), event(p.id, &eid(2), "b", t)],
    )
    .await;
    let (a, b) = (r[0].issue_id.unwrap(), r[1].issue_id.unwrap());
    let busy = store.create_rule(&rule(p.id, "busy")).await.unwrap();
    let once = store.create_rule(&rule(p.id, "once")).await.unwrap();
    store.create_rule(&rule(p.id, "never")).await.unwrap();
    store
        .commit_signals(&[], &[firing(once.id, a)], &[], None)
        .await
        .unwrap();
    for issue in [a, b, b] {
        store
            .commit_signals(&[], &[firing(busy.id, issue)], &[], None)
            .await
            .unwrap();
    }

    let fires = store.project_rule_fires(p.id).await.unwrap();
    let summary: Vec<(i64, &str, i64)> = fires
        .iter()
        .map(|f| (f.rule_id, f.rule_name.as_str(), f.times))
        .collect();
    // The rule that never fired has no row; the most recent firing comes first.
    assert_eq!(summary, vec![(busy.id, "busy", 3), (once.id, "once", 1)]);
    let issue_b = store.issue_rule_fires(b).await.unwrap();
    assert_eq!(fires[0].last_fired, issue_b[0].last_fired);
    assert!(fires[0].last_fired >= fires[1].last_fired);

    let other = store
        .create_project(p.org_id, "other", "Other", None)
        .await
        .unwrap();
    assert!(store.project_rule_fires(other.id).await.unwrap().is_empty());
}
