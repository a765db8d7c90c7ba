//! Storm summaries: the messages a channel held during a burst (see
//! `sextant_storage::BurstPolicy`) become one notice, "37 new issues in 2 min, after
//! deploy of shop@1.4.2 to production", listing every one of them with its link.

use sextant_storage::{Delivery, DeployRecord};

use super::notice::{Notice, NoticeItem, NoticeKind};

const NEW_ISSUES: &str = "new issues";
const ALERTS: &str = "alerts";

/// What the summary's context is: its project and the deploy before the burst.
pub(super) struct Context<'a> {
    pub project: &'a str,
    /// The project's issue list, newest first: every issue of the burst is on it.
    pub issues_url: &'a str,
    pub deploy: Option<&'a DeployRecord>,
}

fn field(notice: &Notice, name: &str) -> i64 {
    notice
        .fields
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The summary after taking `held`, from the summary as it was (`previous`, empty at
/// first). Deterministic, so a retried send carries the same text.
pub(super) fn summarize(previous: &str, held: &[Delivery], context: &Context<'_>) -> String {
    if held.is_empty() && !previous.is_empty() {
        return previous.to_string();
    }
    let mut summary: Notice = serde_json::from_str(previous).unwrap_or_else(|_| Notice {
        kind: NoticeKind::Summary,
        title: String::new(),
        project: context.project.to_string(),
        url: context.issues_url.to_string(),
        culprit: None,
        level: None,
        environment: None,
        release: None,
        fields: Vec::new(),
        items: Vec::new(),
        dedup_key: String::new(),
        timestamp_ms: held.first().map(|d| d.created_at).unwrap_or_default(),
    });
    let mut new_issues = field(&summary, NEW_ISSUES);
    let mut last = summary.timestamp_ms;
    for delivery in held {
        let Ok(notice) = serde_json::from_str::<Notice>(&delivery.payload) else {
            continue;
        };
        if notice.kind == NoticeKind::NewIssue {
            new_issues += 1;
        }
        last = last.max(delivery.created_at);
        if summary.level.is_none() {
            summary.level = notice.level.clone();
        }
        summary.items.push(NoticeItem {
            title: format!("{}: {}", notice.kind.label(), notice.title),
            url: notice.url,
        });
    }
    let minutes = ((last - summary.timestamp_ms) / 60_000).max(1);
    // Every message taken is one item.
    let alerts = summary.items.len() as i64;
    let what = if new_issues == alerts {
        format!("{alerts} new issues")
    } else {
        format!("{alerts} alerts")
    };
    summary.title = match context.deploy {
        Some(d) => format!(
            "{what} in {minutes} min, after deploy of {} to {}",
            d.version, d.environment
        ),
        None => format!("{what} in {minutes} min"),
    };
    summary.release = context.deploy.map(|d| d.version.clone());
    summary.environment = context.deploy.map(|d| d.environment.clone());
    summary.dedup_key = format!(
        "sextant-summary-{}-{}",
        context.project, summary.timestamp_ms
    );
    summary.fields = vec![
        (ALERTS.to_string(), alerts.to_string()),
        (NEW_ISSUES.to_string(), new_issues.to_string()),
    ];
    serde_json::to_string(&summary).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_storage::{DeliveryState, DeliveryTarget};

    fn held(id: i64, kind: NoticeKind, title: &str, at: i64) -> Delivery {
        let notice = Notice {
            kind,
            title: title.into(),
            project: "shop".into(),
            url: format!("http://x/issues/{id}/"),
            culprit: None,
            level: Some("error".into()),
            environment: None,
            release: None,
            fields: vec![],
            items: vec![],
            dedup_key: format!("sextant-issue-{id}"),
            timestamp_ms: at,
        };
        Delivery {
            id,
            request_id: String::new(),
            org_id: 1,
            project_id: Some(1),
            issue_id: Some(id),
            rule_id: None,
            target: DeliveryTarget::Channel { channel_id: 1 },
            resource: "event_alert".into(),
            action: "triggered".into(),
            payload: serde_json::to_string(&notice).unwrap(),
            state: DeliveryState::Held,
            attempts: 0,
            next_at: at,
            created_at: at,
            finished_at: None,
        }
    }

    #[test]
    fn a_summary_lists_every_held_message_and_names_the_deploy() {
        let deploy = DeployRecord {
            id: 1,
            project_id: 1,
            version: "shop@1.4.2".into(),
            environment: "production".into(),
            name: None,
            url: None,
            date_started: None,
            date_finished: 0,
        };
        let context = Context {
            project: "shop",
            issues_url: "http://x/issues/",
            deploy: Some(&deploy),
        };
        let first = summarize(
            "",
            &[
                held(1, NoticeKind::NewIssue, "A", 0),
                held(2, NoticeKind::NewIssue, "B", 60_000),
            ],
            &context,
        );
        let both = summarize(
            &first,
            &[held(3, NoticeKind::Regression, "C", 180_000)],
            &context,
        );
        let notice: Notice = serde_json::from_str(&both).unwrap();
        assert_eq!(notice.kind, NoticeKind::Summary);
        assert_eq!(
            notice.title,
            "3 alerts in 3 min, after deploy of shop@1.4.2 to production"
        );
        assert_eq!(notice.items.len(), 3);
        assert_eq!(notice.items[2].title, "Regression: C");
        assert_eq!(notice.items[0].url, "http://x/issues/1/");
        let first: Notice = serde_json::from_str(&first).unwrap();
        assert!(
            first.title.starts_with("2 new issues in 1 min"),
            "{}",
            first.title
        );
        assert_eq!(summarize(&both, &[], &context), both, "stable when retried");
    }
}
