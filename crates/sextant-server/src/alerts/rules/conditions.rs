//! "When" items: the state changes and Sentry's frequency conditions (event
//! count, distinct users, share of sessions, each optionally compared with an earlier
//! window), plus the event checks in their legacy condition form.

use serde_json::{Map, Value, json};

use super::RuleError;
use super::checks::{Check, check, check_params};
use super::ids;
use super::params::{Item, node, stored_item};

/// A "when" item.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The id as given (one of [`ids`]).
    pub id: &'static str,
    pub kind: ConditionKind,
    /// Keys Sextant does not read (`uuid`, UI hints), kept and returned as Sentry does.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConditionKind {
    /// A new issue (or, for a rule with an environment, the first event there).
    FirstSeen,
    /// The issue went from resolved to unresolved.
    Regression,
    /// An archived issue came back.
    Reappeared,
    EveryEvent,
    /// More than `value` events of the issue in `interval`.
    EventFrequency(CountFrequency),
    /// More than `value` distinct users of the issue in `interval`.
    UniqueUserFrequency(CountFrequency),
    /// The events are more than `value` percent of the project's sessions.
    SessionPercent(SessionPercent),
    /// A level, tag or attribute check given in its legacy condition form.
    Check(Check),
    /// A post-deploy check concluded "regressed" (and, with `recovered`, a later one that
    /// the release recovered). Verdicts are not events: this never passes on one.
    ReleaseVerdict {
        recovered: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CountFrequency {
    /// At least 0.
    pub value: i64,
    pub interval: Interval,
    pub comparison_type: ComparisonType,
    /// Set when `comparison_type` is `Percent` (may also be set, unused, for `Count`).
    pub comparison_interval: Option<Interval>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionPercent {
    /// 0 to 100 for a count comparison; any non-negative number for a percent one.
    pub value: f64,
    pub interval: Interval,
    pub comparison_type: ComparisonType,
    pub comparison_interval: Option<Interval>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonType {
    /// The count itself.
    Count,
    /// The count's increase, in percent, over the same-size window `comparisonInterval` ago.
    Percent,
}

impl ComparisonType {
    pub fn as_str(self) -> &'static str {
        match self {
            ComparisonType::Count => "count",
            ComparisonType::Percent => "percent",
        }
    }
}

/// A window length of Sentry's frequency conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    OneMinute,
    FiveMinutes,
    TenMinutes,
    FifteenMinutes,
    ThirtyMinutes,
    OneHour,
    OneDay,
    OneWeek,
    ThirtyDays,
}

impl Interval {
    /// `interval` of the count conditions.
    pub const STANDARD: [Interval; 7] = [
        Interval::OneMinute,
        Interval::FiveMinutes,
        Interval::FifteenMinutes,
        Interval::OneHour,
        Interval::OneDay,
        Interval::OneWeek,
        Interval::ThirtyDays,
    ];
    /// `comparisonInterval` of every frequency condition.
    pub const COMPARISON: [Interval; 6] = [
        Interval::FiveMinutes,
        Interval::FifteenMinutes,
        Interval::OneHour,
        Interval::OneDay,
        Interval::OneWeek,
        Interval::ThirtyDays,
    ];
    /// `interval` of the session percent condition.
    pub const SESSION_PERCENT: [Interval; 4] = [
        Interval::FiveMinutes,
        Interval::TenMinutes,
        Interval::ThirtyMinutes,
        Interval::OneHour,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Interval::OneMinute => "1m",
            Interval::FiveMinutes => "5m",
            Interval::TenMinutes => "10m",
            Interval::FifteenMinutes => "15m",
            Interval::ThirtyMinutes => "30m",
            Interval::OneHour => "1h",
            Interval::OneDay => "1d",
            Interval::OneWeek => "1w",
            Interval::ThirtyDays => "30d",
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Interval::OneMinute => 1,
            Interval::FiveMinutes => 5,
            Interval::TenMinutes => 10,
            Interval::FifteenMinutes => 15,
            Interval::ThirtyMinutes => 30,
            Interval::OneHour => 60,
            Interval::OneDay => 60 * 24,
            Interval::OneWeek => 60 * 24 * 7,
            Interval::ThirtyDays => 60 * 24 * 30,
        }
    }

    pub fn millis(self) -> i64 {
        self.minutes() * 60_000
    }
}

const COMPARISON_TYPES: [(&str, ComparisonType); 2] = [
    ("count", ComparisonType::Count),
    ("percent", ComparisonType::Percent),
];

const CONDITION_IDS: [&str; 11] = [
    ids::RELEASE_VERDICT,
    ids::FIRST_SEEN,
    ids::REGRESSION,
    ids::REAPPEARED,
    ids::EVERY_EVENT,
    ids::EVENT_FREQUENCY,
    ids::USER_FREQUENCY,
    ids::SESSION_PERCENT,
    ids::LEVEL_CONDITION,
    ids::TAGGED_CONDITION,
    ids::ATTRIBUTE_CONDITION,
];

pub(super) fn parse_condition(path: &str, value: &Value) -> Result<Condition, RuleError> {
    let (item, id) = node(path, value, &CONDITION_IDS, "condition")?;
    let (kind, known): (ConditionKind, &[&str]) = match id {
        ids::FIRST_SEEN => (ConditionKind::FirstSeen, &[]),
        ids::REGRESSION => (ConditionKind::Regression, &[]),
        ids::REAPPEARED => (ConditionKind::Reappeared, &[]),
        ids::EVERY_EVENT => (ConditionKind::EveryEvent, &[]),
        ids::RELEASE_VERDICT => {
            let verdicts = [("regressed", false), ("any", true)];
            let recovered = item.opt_choice("verdict", &verdicts)?.unwrap_or(false);
            (ConditionKind::ReleaseVerdict { recovered }, &["verdict"])
        }
        ids::EVENT_FREQUENCY => (
            ConditionKind::EventFrequency(count_frequency(&item)?),
            &FREQUENCY_PARAMS,
        ),
        ids::USER_FREQUENCY => (
            ConditionKind::UniqueUserFrequency(count_frequency(&item)?),
            &FREQUENCY_PARAMS,
        ),
        ids::SESSION_PERCENT => (
            ConditionKind::SessionPercent(session_percent(&item)?),
            &FREQUENCY_PARAMS,
        ),
        _ => {
            let (check, known) = check(&item, id)?;
            (ConditionKind::Check(check), known)
        }
    };
    Ok(Condition {
        id,
        kind,
        extra: item.extra(known),
    })
}

const FREQUENCY_PARAMS: [&str; 4] = ["value", "interval", "comparisonType", "comparisonInterval"];

fn intervals(allowed: &[Interval]) -> Vec<(&'static str, Interval)> {
    allowed.iter().map(|i| (i.key(), *i)).collect()
}

/// `comparisonType` (default count) and `comparisonInterval` (required for percent).
fn comparison(item: &Item) -> Result<(ComparisonType, Option<Interval>), RuleError> {
    let comparison_type = item
        .opt_choice("comparisonType", &COMPARISON_TYPES)?
        .unwrap_or(ComparisonType::Count);
    let comparison_interval =
        item.opt_choice("comparisonInterval", &intervals(&Interval::COMPARISON))?;
    if comparison_type == ComparisonType::Percent && comparison_interval.is_none() {
        return Err(item.err(
            "comparisonInterval",
            "is required when comparing by percent",
        ));
    }
    Ok((comparison_type, comparison_interval))
}

fn count_frequency(item: &Item) -> Result<CountFrequency, RuleError> {
    let value = item.int("value", 0)?;
    let interval = item.choice("interval", &intervals(&Interval::STANDARD))?;
    let (comparison_type, comparison_interval) = comparison(item)?;
    Ok(CountFrequency {
        value,
        interval,
        comparison_type,
        comparison_interval,
    })
}

fn session_percent(item: &Item) -> Result<SessionPercent, RuleError> {
    let value = item.float("value", 0.0)?;
    let interval = item.choice("interval", &intervals(&Interval::SESSION_PERCENT))?;
    let (comparison_type, comparison_interval) = comparison(item)?;
    // A percentage of sessions tops out at 100; an increase of one does not.
    if comparison_type == ComparisonType::Count && value > 100.0 {
        return Err(item.err("value", "must be at most 100"));
    }
    Ok(SessionPercent {
        value,
        interval,
        comparison_type,
        comparison_interval,
    })
}

impl Condition {
    /// The stored form: `id`, the parameters in Sentry's types, and the kept extras.
    pub fn params(&self) -> Map<String, Value> {
        let mut out = Map::new();
        match &self.kind {
            ConditionKind::FirstSeen
            | ConditionKind::Regression
            | ConditionKind::Reappeared
            | ConditionKind::EveryEvent => {}
            ConditionKind::EventFrequency(f) | ConditionKind::UniqueUserFrequency(f) => {
                out.insert("value".into(), json!(f.value));
                frequency_params(
                    &mut out,
                    f.interval,
                    f.comparison_type,
                    f.comparison_interval,
                );
            }
            ConditionKind::SessionPercent(f) => {
                out.insert("value".into(), json!(f.value));
                frequency_params(
                    &mut out,
                    f.interval,
                    f.comparison_type,
                    f.comparison_interval,
                );
            }
            ConditionKind::Check(check) => check_params(&mut out, check),
            ConditionKind::ReleaseVerdict { recovered } => {
                let verdict = if *recovered { "any" } else { "regressed" };
                out.insert("verdict".into(), json!(verdict));
            }
        }
        stored_item(self.id, out, &self.extra)
    }
}

fn frequency_params(
    out: &mut Map<String, Value>,
    interval: Interval,
    comparison_type: ComparisonType,
    comparison_interval: Option<Interval>,
) {
    out.insert("interval".into(), json!(interval.key()));
    out.insert("comparisonType".into(), json!(comparison_type.as_str()));
    if let Some(ci) = comparison_interval {
        out.insert("comparisonInterval".into(), json!(ci.key()));
    }
}
