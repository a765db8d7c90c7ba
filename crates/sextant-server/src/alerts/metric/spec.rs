//! A metric alert rule's body in Sentry's shape (`POST/PUT
//! /api/0/organizations/{org}/alert-rules/`), parsed and validated into a [`MetricSpec`]
//! with the fields, defaults and ranges of Sentry's `AlertRuleSerializer`, and its stored
//! form. Pure: the caller checks that the projects, integrations and channels it names
//! exist, and works out what its query means for events ([`EventQuery`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sextant_storage::{EventCondition, MetricRule, NewMetricTrigger};

use super::super::rules::RuleError;
use super::machine::{Direction, Thresholds};
use super::triggers::{Label, Trigger, parse_triggers};

/// The alias Sentry requires after a crash-rate aggregate.
pub const CRASH_RATE_ALIAS: &str = "_crash_rate_alert_aggregate";
/// Windows (minutes) a `count()` or `count_unique(user)` rule may use.
const EVENT_WINDOWS: [i64; 9] = [1, 5, 10, 15, 30, 60, 120, 240, 1440];
/// Windows (minutes) Sentry allows crash-rate rules (`CRASH_RATE_ALERTS_ALLOWED_TIME_WINDOWS`).
const CRASH_RATE_WINDOWS: [i64; 6] = [30, 60, 120, 240, 720, 1440];
/// Event types of the `events` dataset, and those counted when none are given, sorted
/// as Sentry shows them.
const EVENT_TYPES: [&str; 2] = ["default", "error"];
/// Sentry's `UNSUPPORTED_QUERIES`.
const UNSUPPORTED_QUERIES: [&str; 1] = ["release:latest"];

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Crash-free sessions, in percent.
    CrashFreeSessions,
    /// Crash-free users, in percent.
    CrashFreeUsers,
    /// Error events.
    Count,
    /// Distinct users of error events.
    UniqueUsers,
}

impl Aggregate {
    /// Spaces are insignificant; the crash-rate alias may be left out.
    pub fn parse(raw: &str) -> Option<Aggregate> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let alias = format!("AS{CRASH_RATE_ALIAS}");
        let bare = compact.strip_suffix(alias.as_str()).unwrap_or(&compact);
        Some(match bare {
            "percentage(sessions_crashed,sessions)" => Aggregate::CrashFreeSessions,
            "percentage(users_crashed,users)" => Aggregate::CrashFreeUsers,
            "count()" => Aggregate::Count,
            "count_unique(user)" | "count_unique(tags[sentry:user])" => Aggregate::UniqueUsers,
            _ => return None,
        })
    }

    /// As Sentry shows it.
    pub fn as_sentry(self) -> &'static str {
        match self {
            Aggregate::CrashFreeSessions => {
                "percentage(sessions_crashed, sessions) AS _crash_rate_alert_aggregate"
            }
            Aggregate::CrashFreeUsers => {
                "percentage(users_crashed, users) AS _crash_rate_alert_aggregate"
            }
            Aggregate::Count => "count()",
            Aggregate::UniqueUsers => "count_unique(user)",
        }
    }

    pub fn is_crash_rate(self) -> bool {
        matches!(
            self,
            Aggregate::CrashFreeSessions | Aggregate::CrashFreeUsers
        )
    }

    /// Sentry's words after the value in notifications (`QUERY_AGGREGATION_DISPLAY`).
    pub fn display(self) -> &'static str {
        match self {
            Aggregate::CrashFreeSessions => "% sessions crash free rate",
            Aggregate::CrashFreeUsers => "% users crash free rate",
            Aggregate::Count => "events",
            Aggregate::UniqueUsers => "users affected",
        }
    }

    fn datasets(self) -> &'static [&'static str] {
        if self.is_crash_rate() {
            &["metrics", "sessions"]
        } else {
            &["events"]
        }
    }

    /// Sentry's `SnubaQuery.Type`: 0 error, 2 crash rate.
    pub fn query_type(self) -> i64 {
        if self.is_crash_rate() { 2 } else { 0 }
    }
}

/// What a `count()` or `count_unique(user)` rule's query asks of events, worked out from
/// the search language by the caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventQuery {
    pub conditions: Vec<EventCondition>,
    /// The event types the query narrows `eventTypes` to (`event.type:error`), if it does.
    pub event_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub name: String,
    /// Project slugs, as given.
    pub projects: Vec<String>,
    pub environment: Option<String>,
    pub dataset: String,
    pub query: String,
    pub aggregate: Aggregate,
    /// Minutes.
    pub time_window: i64,
    pub direction: Direction,
    pub resolve_threshold: Option<f64>,
    /// Consecutive evaluations past a threshold before the rule acts.
    pub threshold_period: u32,
    pub event_types: Vec<String>,
    pub owner: Option<String>,
    pub description: String,
    /// Critical first, then the optional warning.
    pub triggers: Vec<Trigger>,
    pub event_query: EventQuery,
}

fn err(field: &str, message: impl Into<String>) -> RuleError {
    RuleError::new(field, message)
}

/// Present and not null.
fn given<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A number, or a string holding one (Django's fields take both).
pub(super) fn as_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn as_whole(v: &Value) -> Option<i64> {
    let n = as_number(v)?;
    (n.fract() == 0.0 && n.abs() < 1e15).then_some(n as i64)
}

fn whole(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, RuleError> {
    given(obj, key)
        .map(|v| as_whole(v).ok_or_else(|| err(key, "A valid integer is required.")))
        .transpose()
}

fn text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, RuleError> {
    match given(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(err(key, "Not a valid string.")),
    }
}

fn strings(obj: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, RuleError> {
    match given(obj, key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| err(key, "Expected a list of strings."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(err(key, "Expected a list of items.")),
    }
}

fn owner(obj: &Map<String, Value>) -> Result<Option<String>, RuleError> {
    let Some(owner) = text(obj, "owner")?.filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    let valid = owner.split_once(':').is_some_and(|(kind, id)| {
        matches!(kind, "team" | "user") && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
    });
    if !valid {
        return Err(err(
            "owner",
            "Could not parse actor. Format should be `type:id` where type is `team` or `user`.",
        ));
    }
    Ok(Some(owner))
}

/// Validates a rule body. `projects` may be empty here; the API requires some.
pub fn parse(body: &Value) -> Result<MetricSpec, RuleError> {
    let obj = body
        .as_object()
        .ok_or_else(|| err("detail", "the body must be a JSON object"))?;
    let name = text(obj, "name")?.unwrap_or_default();
    if name.is_empty() {
        return Err(err("name", "This field is required."));
    }
    if name.chars().count() > 256 {
        return Err(err(
            "name",
            "Ensure this field has no more than 256 characters.",
        ));
    }
    let raw_aggregate = text(obj, "aggregate")?
        .filter(|a| !a.is_empty())
        .ok_or_else(|| err("aggregate", "This field is required."))?;
    let aggregate = Aggregate::parse(&raw_aggregate).ok_or_else(|| {
        err(
            "aggregate",
            format!(
                "Invalid Metric: {raw_aggregate:?} is not supported; use count(), \
                 count_unique(user), percentage(sessions_crashed, sessions) AS {CRASH_RATE_ALIAS} \
                 or percentage(users_crashed, users) AS {CRASH_RATE_ALIAS}"
            ),
        )
    })?;
    let dataset = match text(obj, "dataset")? {
        None => aggregate.datasets()[0].to_string(),
        Some(d) if aggregate.datasets().contains(&d.as_str()) => d,
        Some(d) => {
            return Err(err(
                "dataset",
                format!(
                    "{d:?} does not go with {}; use {}",
                    aggregate.as_sentry(),
                    aggregate.datasets().join(" or ")
                ),
            ));
        }
    };
    let query = match obj.get("query") {
        None => return Err(err("query", "This field is required.")),
        Some(Value::Null) => return Err(err("query", "This field may not be null.")),
        Some(_) => text(obj, "query")?.unwrap_or_default(),
    };
    if let Some(term) = query
        .split_whitespace()
        .find(|t| UNSUPPORTED_QUERIES.contains(t))
    {
        return Err(err(
            "query",
            format!("Unsupported Query: We do not currently support the {term} query"),
        ));
    }
    if aggregate.is_crash_rate() && !query.is_empty() {
        return Err(err(
            "query",
            format!(
                "crash-free rules take no query here ({query:?}); narrow them with environment"
            ),
        ));
    }
    let time_window =
        whole(obj, "timeWindow")?.ok_or_else(|| err("timeWindow", "This field is required."))?;
    let windows: &[i64] = if aggregate.is_crash_rate() {
        &CRASH_RATE_WINDOWS
    } else {
        &EVENT_WINDOWS
    };
    if !windows.contains(&time_window) {
        return Err(err(
            "timeWindow",
            format!("Invalid Time Window: allowed time windows (minutes) are {windows:?}"),
        ));
    }
    let direction = match whole(obj, "thresholdType")? {
        None => return Err(err("thresholdType", "This field is required.")),
        Some(0) => Direction::Above,
        Some(1) => Direction::Below,
        Some(_) => {
            return Err(err(
                "thresholdType",
                "Invalid threshold type, valid values are [0, 1]",
            ));
        }
    };
    let resolve_threshold = given(obj, "resolveThreshold")
        .map(|v| as_number(v).ok_or_else(|| err("resolveThreshold", "A valid number is required.")))
        .transpose()?;
    let threshold_period = whole(obj, "thresholdPeriod")?.unwrap_or(1);
    if !(1..=20).contains(&threshold_period) {
        return Err(err(
            "thresholdPeriod",
            "Ensure this value is between 1 and 20.",
        ));
    }
    if given(obj, "comparisonDelta").is_some() {
        return Err(err(
            "comparisonDelta",
            "change alerts (a comparison with an earlier period) are not supported; leave it null",
        ));
    }
    let environment = text(obj, "environment")?.filter(|e| !e.is_empty());
    if environment.as_ref().is_some_and(|e| e.chars().count() > 64) {
        return Err(err(
            "environment",
            "Ensure this field has no more than 64 characters.",
        ));
    }
    let event_types = match strings(obj, "eventTypes")? {
        _ if aggregate.is_crash_rate() => Vec::new(),
        None => EVENT_TYPES.map(String::from).to_vec(),
        Some(types) => {
            let mut types: Vec<String> = types.into_iter().map(|t| t.to_lowercase()).collect();
            if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
                return Err(err(
                    "eventTypes",
                    format!(
                        "Invalid event types for this dataset ({bad:?}). Valid event types are {EVENT_TYPES:?}"
                    ),
                ));
            }
            types.sort();
            types.dedup();
            if types.is_empty() {
                EVENT_TYPES.map(String::from).to_vec()
            } else {
                types
            }
        }
    };
    let triggers = parse_triggers(given(obj, "triggers"), direction, resolve_threshold)?;
    let event_query = match given(obj, "eventQuery") {
        None => EventQuery::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| err("eventQuery", format!("stored event query: {e}")))?,
    };
    Ok(MetricSpec {
        name,
        projects: strings(obj, "projects")?.unwrap_or_default(),
        environment,
        dataset,
        query,
        aggregate,
        time_window,
        direction,
        resolve_threshold,
        threshold_period: u32::try_from(threshold_period).unwrap_or(1),
        event_types,
        owner: owner(obj)?,
        description: text(obj, "description")?.unwrap_or_default(),
        triggers,
        event_query,
    })
}

impl MetricSpec {
    /// The spec of a stored rule.
    pub fn from_rule(rule: &MetricRule) -> Result<MetricSpec, RuleError> {
        let mut body = rule.spec.clone();
        let triggers: Vec<Value> = rule
            .triggers
            .iter()
            .map(|t| {
                let mut trigger = t.spec.clone();
                trigger["label"] = t.label.clone().into();
                trigger
            })
            .collect();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("triggers".into(), triggers.into());
        }
        parse(&body)
    }

    /// The stored rule body (projects and triggers are stored apart).
    pub fn stored(&self) -> Value {
        json!({
            "name": self.name,
            "environment": self.environment,
            "dataset": self.dataset,
            "query": self.query,
            "aggregate": self.aggregate.as_sentry(),
            "timeWindow": self.time_window,
            "thresholdType": self.direction.as_sentry(),
            "resolveThreshold": self.resolve_threshold,
            "thresholdPeriod": self.threshold_period,
            "eventTypes": self.event_types,
            "owner": self.owner,
            "description": self.description,
            "eventQuery": self.event_query,
        })
    }

    pub fn stored_triggers(&self) -> Vec<NewMetricTrigger> {
        self.triggers
            .iter()
            .map(|t| NewMetricTrigger {
                label: t.label.as_str().to_string(),
                spec: t.stored(),
            })
            .collect()
    }

    pub fn window_ms(&self) -> i64 {
        self.time_window * 60_000
    }

    pub fn thresholds(&self) -> Thresholds {
        let of = |label| {
            self.triggers
                .iter()
                .find(|t| t.label == label)
                .map(|t| t.alert_threshold)
        };
        Thresholds {
            direction: self.direction,
            critical: of(Label::Critical),
            warning: of(Label::Warning),
            resolve: self.resolve_threshold,
            period: self.threshold_period,
        }
    }

    /// The event types counted: `eventTypes`, narrowed by the query.
    pub fn counted_event_types(&self) -> Vec<String> {
        self.event_query
            .event_types
            .clone()
            .unwrap_or_else(|| self.event_types.clone())
    }
}

#[cfg(test)]
mod tests;
