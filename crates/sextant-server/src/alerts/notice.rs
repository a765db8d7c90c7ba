//! A notice: what one notification says (an issue is new, a metric crossed its
//! threshold, a release regressed…), before any channel gives it a shape. Channels read
//! it in `alerts::channels`; nothing here knows a wire format.

use serde::{Deserialize, Serialize};

/// What a notification says, independent of the channel that carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    /// Headline subject, user text (an issue title, a rule name…).
    pub title: String,
    /// Project slug.
    pub project: String,
    /// Link into the console (issue page, alert page, release page).
    pub url: String,
    pub culprit: Option<String>,
    /// `"fatal"`, `"error"`, `"warning"`, `"info"` or `"debug"`.
    pub level: Option<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// Short facts shown as fields, in order: ("events", "37"), ("users", "5"), ("rule", "…").
    pub fields: Vec<(String, String)>,
    /// Several subjects in one message (storm summaries, digests), each with its link.
    pub items: Vec<NoticeItem>,
    /// Stable identity of the thing notified about, e.g. "sextant-issue-42"; PagerDuty's
    /// `dedup_key`. The notice that resolves a thing must carry the same key as the
    /// notices that raised it, so that the incident they opened is the one closed.
    pub dedup_key: String,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeItem {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    NewIssue,
    Regression,
    Reappeared,
    RuleTriggered,
    IssueResolved,
    MetricCritical,
    MetricWarning,
    MetricResolved,
    ReleaseRegressed,
    ReleaseRecovered,
    Summary,
    Test,
}

/// How urgent a notice is: PagerDuty's four severities, which the other channels map onto
/// their own scales (ntfy priority, colours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// The severity of an event level; an unknown or missing level counts as an error,
    /// since that is what SDKs send when they say nothing.
    pub fn of_level(level: Option<&str>) -> Severity {
        match level.map(str::trim) {
            Some(l) if l.eq_ignore_ascii_case("fatal") => Severity::Critical,
            Some(l) if l.eq_ignore_ascii_case("warning") => Severity::Warning,
            Some(l) if l.eq_ignore_ascii_case("info") || l.eq_ignore_ascii_case("debug") => {
                Severity::Info
            }
            _ => Severity::Error,
        }
    }
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 12] = [
        NoticeKind::NewIssue,
        NoticeKind::Regression,
        NoticeKind::Reappeared,
        NoticeKind::RuleTriggered,
        NoticeKind::IssueResolved,
        NoticeKind::MetricCritical,
        NoticeKind::MetricWarning,
        NoticeKind::MetricResolved,
        NoticeKind::ReleaseRegressed,
        NoticeKind::ReleaseRecovered,
        NoticeKind::Summary,
        NoticeKind::Test,
    ];

    /// The words a message opens with, e.g. "New issue: TypeError …".
    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::NewIssue => "New issue",
            NoticeKind::Regression => "Regression",
            NoticeKind::Reappeared => "Reappeared",
            NoticeKind::RuleTriggered => "Alert",
            NoticeKind::IssueResolved | NoticeKind::MetricResolved => "Resolved",
            NoticeKind::MetricCritical => "Critical",
            NoticeKind::MetricWarning => "Warning",
            NoticeKind::ReleaseRegressed => "Release regressed",
            NoticeKind::ReleaseRecovered => "Release recovered",
            NoticeKind::Summary => "Summary",
            NoticeKind::Test => "Test notification",
        }
    }

    /// The name in the API and in PagerDuty's `class`: the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::NewIssue => "new_issue",
            NoticeKind::Regression => "regression",
            NoticeKind::Reappeared => "reappeared",
            NoticeKind::RuleTriggered => "rule_triggered",
            NoticeKind::IssueResolved => "issue_resolved",
            NoticeKind::MetricCritical => "metric_critical",
            NoticeKind::MetricWarning => "metric_warning",
            NoticeKind::MetricResolved => "metric_resolved",
            NoticeKind::ReleaseRegressed => "release_regressed",
            NoticeKind::ReleaseRecovered => "release_recovered",
            NoticeKind::Summary => "summary",
            NoticeKind::Test => "test",
        }
    }

    /// Whether the thing notified about has recovered: such a notice closes what earlier
    /// notices with the same `dedup_key` opened.
    pub fn resolves(self) -> bool {
        matches!(
            self,
            NoticeKind::IssueResolved | NoticeKind::MetricResolved | NoticeKind::ReleaseRecovered
        )
    }

    /// How urgent a notice of this kind is. Issue notices (and summaries of them) take the
    /// event level; metric and release notices carry their own urgency; recoveries and
    /// tests are informational.
    pub fn severity(self, level: Option<&str>) -> Severity {
        match self {
            NoticeKind::NewIssue
            | NoticeKind::Regression
            | NoticeKind::Reappeared
            | NoticeKind::RuleTriggered
            | NoticeKind::Summary => Severity::of_level(level),
            NoticeKind::MetricCritical => Severity::Critical,
            NoticeKind::MetricWarning => Severity::Warning,
            NoticeKind::ReleaseRegressed => Severity::Error,
            NoticeKind::IssueResolved
            | NoticeKind::MetricResolved
            | NoticeKind::ReleaseRecovered
            | NoticeKind::Test => Severity::Info,
        }
    }
}

impl Notice {
    pub fn severity(&self) -> Severity {
        self.kind.severity(self.level.as_deref())
    }

    /// "New issue: TypeError …", the line every channel leads with.
    pub fn headline(&self) -> String {
        format!("{}: {}", self.kind.label(), self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in NoticeKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::from(kind.as_str()));
            let back: NoticeKind = serde_json::from_value(json).unwrap();
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn only_recoveries_resolve() {
        let resolving: Vec<_> = NoticeKind::ALL
            .into_iter()
            .filter(|k| k.resolves())
            .collect();
        assert_eq!(
            resolving,
            [
                NoticeKind::IssueResolved,
                NoticeKind::MetricResolved,
                NoticeKind::ReleaseRecovered
            ]
        );
        assert_eq!(NoticeKind::IssueResolved.label(), "Resolved");
    }

    #[test]
    fn severity_follows_kind_then_level() {
        let issue = NoticeKind::NewIssue;
        assert_eq!(issue.severity(Some("fatal")), Severity::Critical);
        assert_eq!(issue.severity(Some("error")), Severity::Error);
        assert_eq!(issue.severity(Some("Warning")), Severity::Warning);
        assert_eq!(issue.severity(Some("debug")), Severity::Info);
        assert_eq!(issue.severity(None), Severity::Error);
        assert_eq!(issue.severity(Some("bogus")), Severity::Error);
        // The kind wins over the level where the kind carries its own urgency.
        assert_eq!(
            NoticeKind::MetricCritical.severity(Some("info")),
            Severity::Critical
        );
        assert_eq!(NoticeKind::MetricWarning.severity(None), Severity::Warning);
        assert_eq!(
            NoticeKind::IssueResolved.severity(Some("fatal")),
            Severity::Info
        );
        assert_eq!(NoticeKind::Test.severity(Some("fatal")), Severity::Info);
    }

    #[test]
    fn notice_round_trips_through_json() {
        let notice = Notice {
            kind: NoticeKind::Regression,
            title: "TypeError: x is undefined".into(),
            project: "web".into(),
            url: "https://sextant.example/web/issues/42/".into(),
            culprit: Some("checkout.js".into()),
            level: Some("error".into()),
            environment: None,
            release: Some("1.4.2".into()),
            fields: vec![("events".into(), "37".into())],
            items: vec![NoticeItem {
                title: "a".into(),
                url: "https://sextant.example/a".into(),
            }],
            dedup_key: "sextant-issue-42".into(),
            timestamp_ms: 1_767_261_600_123,
        };
        let json = serde_json::to_value(&notice).unwrap();
        assert_eq!(json["kind"], "regression");
        assert_eq!(json["fields"], serde_json::json!([["events", "37"]]));
        let back: Notice = serde_json::from_value(json).unwrap();
        assert_eq!(back, notice);
        assert_eq!(back.headline(), "Regression: TypeError: x is undefined");
    }
}
