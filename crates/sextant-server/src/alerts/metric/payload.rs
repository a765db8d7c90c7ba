//! What a metric incident's change says: Sentry's `metric_alert` webhook (action
//! `critical`, `warning` or `resolved`; `data.metric_alert` the incident with its
//! `alert_rule`, `description_text`, `description_title` and `web_url`) in the
//! integration platform's envelope, and the notice Sextant's channels render.

use serde_json::{Value, json};
use sextant_storage::SentryApp;

use super::super::notice::{Notice, NoticeKind};
use super::super::payload::envelope;
use super::machine::Level;
use super::spec::Aggregate;

/// The state an incident moved to, as webhooks name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Fired(Level),
    Resolved,
}

impl Outcome {
    /// The webhook's `action`.
    pub fn action(self) -> &'static str {
        match self {
            Outcome::Fired(level) => level.as_str(),
            Outcome::Resolved => "resolved",
        }
    }

    /// Sentry's `INCIDENT_STATUS` words, which open the title.
    fn status_word(self) -> &'static str {
        match self {
            Outcome::Fired(Level::Critical) => "Critical",
            Outcome::Fired(Level::Warning) => "Warning",
            Outcome::Resolved => "Resolved",
        }
    }

    fn notice_kind(self) -> NoticeKind {
        match self {
            Outcome::Fired(Level::Critical) => NoticeKind::MetricCritical,
            Outcome::Fired(Level::Warning) => NoticeKind::MetricWarning,
            Outcome::Resolved => NoticeKind::MetricResolved,
        }
    }
}

/// One change of one rule's incident, with what the notifications say about it.
#[derive(Debug, Clone)]
pub struct MetricAlert<'a> {
    pub outcome: Outcome,
    pub rule_id: i64,
    pub rule_name: &'a str,
    pub aggregate: Aggregate,
    /// Minutes.
    pub time_window: i64,
    pub query: &'a str,
    pub environment: Option<&'a str>,
    pub value: f64,
    pub org_slug: &'a str,
    /// The rule's first project.
    pub project: &'a str,
    pub base_url: &'a str,
    pub now: i64,
}

/// A value as Sentry prints it: counts whole, rates as Python prints a float.
fn format_value(aggregate: Aggregate, value: f64) -> String {
    if !aggregate.is_crash_rate() {
        format!("{}", value.round() as i64)
    } else if value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

impl MetricAlert<'_> {
    /// Sentry's `get_incident_status_text`, e.g. "85.0% sessions crash free rate in the
    /// last 60 minutes", with the rule's filter on a second line.
    pub fn description_text(&self) -> String {
        let value = format_value(self.aggregate, self.value);
        let display = self.aggregate.display();
        let metric = if display.starts_with('%') {
            format!("{value}{display}")
        } else {
            format!("{value} {display}")
        };
        let unit = if self.time_window == 1 {
            "minute"
        } else {
            "minutes"
        };
        let mut text = format!("{metric} in the last {} {unit}", self.time_window);
        if !self.query.is_empty() {
            text.push_str(&format!("\nFilter: {}", self.query));
        }
        text
    }

    /// "Critical: <rule name>".
    pub fn description_title(&self) -> String {
        format!("{}: {}", self.outcome.status_word(), self.rule_name)
    }

    /// The incident's page, at Sentry's path.
    pub fn web_url(&self, identifier: i64) -> String {
        format!(
            "{}/organizations/{}/alerts/rules/details/{}/?alert={identifier}",
            self.base_url, self.org_slug, self.rule_id
        )
    }

    /// The `metric_alert` webhook for an internal integration; `incident` is the
    /// incident in the webhook's snake_case, its `alert_rule` included.
    pub fn webhook(&self, app: &SentryApp, incident: Value, identifier: i64) -> Value {
        envelope(
            self.outcome.action(),
            app,
            json!({
                "metric_alert": incident,
                "description_text": self.description_text(),
                "description_title": self.description_title(),
                "web_url": self.web_url(identifier),
            }),
        )
    }

    /// The notice for Sextant's channels. Every notice of one rule carries the same
    /// `dedup_key`, so a resolution closes what its critical or warning notice opened
    /// (PagerDuty).
    pub fn notice(&self, identifier: i64) -> Notice {
        Notice {
            kind: self.outcome.notice_kind(),
            title: self.rule_name.to_string(),
            project: self.project.to_string(),
            url: self.web_url(identifier),
            culprit: None,
            level: None,
            environment: self.environment.map(str::to_string),
            release: None,
            fields: vec![
                ("metric".into(), self.description_text()),
                ("incident".into(), identifier.to_string()),
            ],
            items: Vec::new(),
            dedup_key: format!("sextant-metric-{}", self.rule_id),
            timestamp_ms: self.now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(aggregate: Aggregate, value: f64, query: &'static str) -> MetricAlert<'static> {
        MetricAlert {
            outcome: Outcome::Fired(Level::Critical),
            rule_id: 7,
            rule_name: "Crashes",
            aggregate,
            time_window: 60,
            query,
            environment: Some("production"),
            value,
            org_slug: "acme",
            project: "web",
            base_url: "https://sextant.example",
            now: 1_767_261_600_000,
        }
    }

    #[test]
    fn texts_follow_sentrys_wording() {
        let a = alert(Aggregate::CrashFreeSessions, 85.0, "");
        assert_eq!(
            a.description_text(),
            "85.0% sessions crash free rate in the last 60 minutes"
        );
        assert_eq!(a.description_title(), "Critical: Crashes");
        let a = alert(Aggregate::Count, 1000.0, "level:error");
        assert_eq!(
            a.description_text(),
            "1000 events in the last 60 minutes\nFilter: level:error"
        );
        let mut a = alert(Aggregate::UniqueUsers, 3.0, "");
        a.time_window = 1;
        a.outcome = Outcome::Resolved;
        assert_eq!(
            a.description_text(),
            "3 users affected in the last 1 minute"
        );
        assert_eq!(a.description_title(), "Resolved: Crashes");
        assert_eq!(format_value(Aggregate::CrashFreeUsers, 66.667), "66.667");
    }

    #[test]
    fn notices_of_one_rule_share_their_dedup_key() {
        let fired = alert(Aggregate::CrashFreeSessions, 85.0, "").notice(3);
        let mut resolved = alert(Aggregate::CrashFreeSessions, 97.0, "");
        resolved.outcome = Outcome::Resolved;
        let resolved = resolved.notice(3);
        assert_eq!(fired.kind, NoticeKind::MetricCritical);
        assert_eq!(resolved.kind, NoticeKind::MetricResolved);
        assert!(resolved.kind.resolves());
        assert_eq!(fired.dedup_key, "sextant-metric-7");
        assert_eq!(fired.dedup_key, resolved.dedup_key);
        assert_eq!(
            fired.url,
            "https://sextant.example/organizations/acme/alerts/rules/details/7/?alert=3"
        );
    }
}
