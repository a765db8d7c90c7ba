//! Deploy-verdict alerts: a post-deploy check that finds its release regressed (or, after
//! that, recovered) is an alert of its own, sent to the actions of the project's rules
//! with a release-verdict condition.

use serde_json::Value;
use sextant_storage::{
    CheckRecord, DeliveryTarget, NewDelivery, Project, SentryApp, Store, StoreError,
};

use super::notice::{Notice, NoticeKind};
use super::payload;
use super::rules::{ActionKind, ConditionKind, RuleSpec};

/// What a finished check says to alerting: `regressed`, `recovered`, or nothing.
pub(super) async fn change(
    store: &dyn Store,
    check: &CheckRecord,
) -> Result<Option<&'static str>, StoreError> {
    match check.verdict.as_deref() {
        Some("regressed") => Ok(Some("regressed")),
        Some("healthy") => {
            // Recovered: the release's previous verdict in this environment was regressed.
            let earlier = store
                .list_checks(check.project_id, &check.version)
                .await?
                .into_iter()
                .filter(|c| c.environment == check.environment && c.id != check.id)
                .filter(|c| c.run_at.is_some() && c.run_at <= check.run_at)
                .max_by_key(|c| (c.run_at, c.id));
            Ok(earlier
                .filter(|c| c.verdict.as_deref() == Some("regressed"))
                .map(|_| "recovered"))
        }
        _ => Ok(None),
    }
}

/// The deliveries of every rule that listens to verdicts.
pub(super) fn deliveries(
    rules: &[(i64, RuleSpec)],
    project: &Project,
    apps: &[SentryApp],
    check: &CheckRecord,
    action: &str,
    base_url: &str,
) -> Vec<NewDelivery> {
    let recovered = action == "recovered";
    let mut out = Vec::new();
    for (rule_id, spec) in rules {
        let listens = spec.conditions.iter().any(|c| match c.kind {
            ConditionKind::ReleaseVerdict { recovered: hears } => !recovered || hears,
            _ => false,
        });
        if !listens {
            continue;
        }
        let delivery = |target: DeliveryTarget, payload: String| NewDelivery {
            org_id: project.org_id,
            project_id: Some(project.id),
            issue_id: None,
            rule_id: Some(*rule_id),
            target,
            resource: "release_verdict".into(),
            action: action.into(),
            payload,
        };
        for a in &spec.actions {
            match &a.kind {
                ActionKind::SentryApp {
                    installation_uuid, ..
                } => {
                    if let Some(app) = apps
                        .iter()
                        .find(|app| &app.installation_uuid == installation_uuid)
                    {
                        let body =
                            payload::release_verdict_webhook(action, app, check, project, base_url);
                        out.push(delivery(
                            DeliveryTarget::SentryApp { app_id: app.id },
                            body.to_string(),
                        ));
                    }
                }
                ActionKind::Channel { channel } => {
                    let notice = notice(project, check, recovered, base_url);
                    out.push(delivery(
                        DeliveryTarget::Channel {
                            channel_id: *channel,
                        },
                        serde_json::to_string(&notice).unwrap_or_default(),
                    ));
                }
                _ => {}
            }
        }
    }
    out
}

fn notice(project: &Project, check: &CheckRecord, recovered: bool, base_url: &str) -> Notice {
    let report: Value = check
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    let mut fields = vec![("environment".to_string(), check.environment.clone())];
    if let Some(summary) = report.get("summary").and_then(Value::as_str) {
        fields.push(("verdict".into(), summary.to_string()));
    }
    Notice {
        kind: if recovered {
            NoticeKind::ReleaseRecovered
        } else {
            NoticeKind::ReleaseRegressed
        },
        title: format!("{} in {}", check.version, check.environment),
        project: project.slug.clone(),
        url: payload::release_web_url(base_url, project, &check.version),
        culprit: None,
        level: Some(if recovered { "info" } else { "error" }.into()),
        environment: Some(check.environment.clone()),
        release: Some(check.version.clone()),
        fields,
        items: Vec::new(),
        // One incident per release and environment: recovery resolves it.
        dedup_key: format!(
            "sextant-release-{}-{}-{}",
            project.id, check.version, check.environment
        ),
        timestamp_ms: check.run_at.unwrap_or(check.due_at),
    }
}
