//! Sentry's human names for conditions, filters and actions (each class's `label`, filled
//! in as its `render_label` does), and the API's rendering of a rule's items: the stored
//! parameters plus `name`.

use serde_json::{Value, json};

use super::actions::{Action, ActionKind, EmailTarget, Fallthrough};
use super::checks::{AssigneeTarget, Check, Filter, LevelMatch, StrMatch};
use super::conditions::{Condition, ConditionKind};
use super::spec::RuleSpec;

/// Sentry's `GroupCategory` names, by number from 1.
const CATEGORY_NAMES: [&str; 19] = [
    "error",
    "performance",
    "profile",
    "cron",
    "replay",
    "feedback",
    "uptime",
    "metric_alert",
    "test_notification",
    "outage",
    "metric",
    "db_query",
    "http_client",
    "frontend",
    "mobile",
    "ai_detected",
    "preprod",
    "instrumentation",
    "configuration",
];

impl LevelMatch {
    pub fn label(self) -> &'static str {
        match self {
            LevelMatch::Eq => "equal to",
            LevelMatch::Gte => "greater than or equal to",
            LevelMatch::Lte => "less than or equal to",
        }
    }
}

impl StrMatch {
    pub fn label(self) -> &'static str {
        match self {
            StrMatch::Eq => "equals",
            StrMatch::Ne => "does not equal",
            StrMatch::StartsWith => "starts with",
            StrMatch::NotStartsWith => "does not start with",
            StrMatch::EndsWith => "ends with",
            StrMatch::NotEndsWith => "does not end with",
            StrMatch::Contains => "contains",
            StrMatch::NotContains => "does not contain",
            StrMatch::IsIn => "is in (comma separated)",
            StrMatch::NotIn => "not in (comma separated)",
            StrMatch::IsSet => "is set",
            StrMatch::NotSet => "is not set",
        }
    }
}

/// Sentry's level names (`LOG_LEVELS`).
pub fn level_name(level: i64) -> &'static str {
    match level {
        50 => "fatal",
        40 => "error",
        30 => "warning",
        20 => "info",
        10 => "debug",
        _ => "sample",
    }
}

/// A number as Sentry's labels show it: whole numbers without a decimal part.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// Python's `str.title()`: a capital after each non-letter, the rest lowercase.
fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_letter = false;
    for c in text.chars() {
        if after_letter {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        after_letter = c.is_alphabetic();
    }
    out
}

impl Condition {
    pub fn name(&self) -> String {
        match &self.kind {
            ConditionKind::FirstSeen => "A new issue is created".into(),
            ConditionKind::Regression => {
                "The issue changes state from resolved to unresolved".into()
            }
            ConditionKind::Reappeared => "An issue escalates".into(),
            ConditionKind::EveryEvent => "The event occurs".into(),
            ConditionKind::EventFrequency(f) => format!(
                "The issue is seen more than {} times in {}",
                f.value,
                f.interval.key()
            ),
            ConditionKind::UniqueUserFrequency(f) => format!(
                "The issue is seen by more than {} users in {}",
                f.value,
                f.interval.key()
            ),
            ConditionKind::SessionPercent(f) => format!(
                "The issue affects more than {} percent of sessions in {}",
                number(f.value),
                f.interval.key()
            ),
            ConditionKind::Check(check) => check_name(check),
            ConditionKind::ReleaseVerdict { recovered: false } => {
                "A post-deploy check finds the release regressed".into()
            }
            ConditionKind::ReleaseVerdict { recovered: true } => {
                "A post-deploy check finds the release regressed or recovered".into()
            }
        }
    }
}

impl Filter {
    pub fn name(&self) -> String {
        check_name(&self.check)
    }
}

fn check_name(check: &Check) -> String {
    match check {
        Check::Level { matches, level } => format!(
            "The event's level is {} {}",
            matches.label(),
            level_name(*level)
        ),
        Check::Tagged {
            key,
            matches,
            value,
        } => format!("The event's tags match {key} {} {value}", matches.label()),
        Check::Attribute {
            attribute,
            matches,
            value,
        } => format!(
            "The event's {} value {} {value}",
            attribute.as_str(),
            matches.label()
        ),
        // Sentry fills this label with the raw parameters ("older than 3 week").
        Check::Age {
            comparison,
            value,
            time,
        } => format!(
            "The issue is {} than {value} {}",
            comparison.key(),
            time.key()
        ),
        Check::Occurrences { value } => {
            format!("The issue has happened at least {value} times")
        }
        Check::LatestRelease => "The event is from the latest release".into(),
        Check::Category { value, include } => {
            let category = usize::try_from(*value - 1)
                .ok()
                .and_then(|i| CATEGORY_NAMES.get(i))
                .map_or_else(String::new, |n| title(n));
            let include = if *include == Some(false) {
                "not equal to"
            } else {
                "equal to"
            };
            format!("The issue's category is {include} {category}")
        }
        // Sentry shows the team's slug or the member's username when it can look them up,
        // and the raw target type otherwise; names are the caller's to look up.
        Check::AssignedTo(target) => {
            let target = match target {
                AssigneeTarget::Unassigned => "Unassigned",
                AssigneeTarget::Team(_) => "Team",
                AssigneeTarget::Member(_) => "Member",
            };
            format!("The issue is assigned to {target}")
        }
    }
}

impl Action {
    pub fn name(&self) -> String {
        match &self.kind {
            ActionKind::Email {
                target,
                fallthrough,
            } => {
                let target = match target {
                    EmailTarget::IssueOwners => "IssueOwners",
                    EmailTarget::Team(_) => "Team",
                    EmailTarget::Member(_) => "Member",
                };
                let fallthrough = fallthrough.unwrap_or(Fallthrough::ActiveMembers);
                format!(
                    "Send a notification to {target} and if none can be found then send a \
                     notification to {}",
                    fallthrough.as_str()
                )
            }
            ActionKind::Service { service } => format!("Send a notification via {service}"),
            // Sentry's label for app actions is empty: the app's own form names them.
            ActionKind::SentryApp { .. } => String::new(),
            ActionKind::LegacyPlugins => "Send a notification (for all legacy integrations)".into(),
            ActionKind::Channel { channel } => {
                format!("Send a notification to channel {channel}")
            }
        }
    }

    /// The API's rendering: Sentry returns email targets' ids as strings and always names
    /// the fallthrough.
    fn to_api(&self) -> Value {
        let mut out = self.params();
        if let ActionKind::Email {
            target,
            fallthrough,
        } = &self.kind
        {
            if let EmailTarget::Team(id) | EmailTarget::Member(id) = target {
                out.insert("targetIdentifier".into(), json!(id.to_string()));
            }
            let fallthrough = fallthrough.unwrap_or(Fallthrough::ActiveMembers);
            out.insert("fallthroughType".into(), json!(fallthrough.as_str()));
        }
        out.insert("name".into(), json!(self.name()));
        Value::Object(out)
    }
}

impl RuleSpec {
    /// `conditions` of Sentry's rule response: each item's parameters and `name`.
    pub fn conditions_json(&self) -> Value {
        let items = self.conditions.iter().map(|c| {
            let mut out = c.params();
            // Sentry shows a whole percentage without its `.0`.
            if let ConditionKind::SessionPercent(f) = &c.kind
                && f.value.fract() == 0.0
                && f.value.abs() < 9.0e15
            {
                out.insert("value".into(), json!(f.value as i64));
            }
            out.insert("name".into(), json!(c.name()));
            Value::Object(out)
        });
        Value::Array(items.collect())
    }

    /// `filters` of Sentry's rule response.
    pub fn filters_json(&self) -> Value {
        let items = self.filters.iter().map(|f| {
            let mut out = f.params();
            out.insert("name".into(), json!(f.name()));
            Value::Object(out)
        });
        Value::Array(items.collect())
    }

    /// `actions` of Sentry's rule response.
    pub fn actions_json(&self) -> Value {
        Value::Array(self.actions.iter().map(Action::to_api).collect())
    }
}
