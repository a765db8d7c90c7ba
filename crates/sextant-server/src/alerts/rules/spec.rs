//! A rule and the top-level fields of its body, validated as Sentry's
//! `ProjectRulesPostSerializer` does (same ranges, defaults and messages); the items of
//! `conditions`, `filters` and `actions` are read in their own modules.

use serde_json::{Value, json};

use super::RuleError;
use super::actions::{Action, ActionKind, EmailTarget, parse_action};
use super::checks::{AssigneeTarget, Check, Filter, parse_filter};
use super::conditions::{Condition, ConditionKind, parse_condition};
use super::params::{as_int, python_type};

/// Sentry's `Rule.DEFAULT_FREQUENCY`, in minutes.
pub const DEFAULT_FREQUENCY_MINUTES: u32 = 30;
const MIN_FREQUENCY_MINUTES: i64 = 5;
const MAX_FREQUENCY_MINUTES: i64 = 60 * 24 * 30;
const MAX_NAME_CHARS: usize = 256;
/// Sentry's environment names are at most 64 characters.
const MAX_ENVIRONMENT_CHARS: usize = 64;

/// How a list of conditions (or filters) combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    All,
    Any,
    /// Passes when no item passes (Sentry keeps it, deprecated).
    None,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::All => "all",
            Match::Any => "any",
            Match::None => "none",
        }
    }

    fn from_str(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Match::All),
            "any" => Some(Match::Any),
            "none" => Some(Match::None),
            _ => None,
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// 1 to 256 characters, trimmed.
    pub name: String,
    /// When set, only events of this environment are considered.
    pub environment: Option<String>,
    /// `user:N` or `team:N`.
    pub owner: Option<String>,
    /// Act at most once per issue per this many minutes (5 to 43200).
    pub frequency_minutes: u32,
    /// Combines `conditions`.
    pub action_match: Match,
    /// Combines `filters`.
    pub filter_match: Match,
    pub conditions: Vec<Condition>,
    pub filters: Vec<Filter>,
    /// At least one.
    pub actions: Vec<Action>,
}

/// Validates a rule body (`POST` or `PUT`) or a stored rule ([`RuleSpec::to_stored`]).
pub fn parse(body: &Value) -> Result<RuleSpec, RuleError> {
    let Some(obj) = body.as_object() else {
        return Err(RuleError::new(
            "non_field_errors",
            format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type(body)
            ),
        ));
    };
    let present = |key: &str| obj.get(key).filter(|v| !v.is_null());

    let name = parse_name(obj.get("name"))?;
    let environment = match present("environment") {
        None => None,
        Some(v) => Some(text_field("environment", v, MAX_ENVIRONMENT_CHARS)?),
    };
    let owner = present("owner").map(parse_owner).transpose()?;
    let frequency_minutes = match present("frequency") {
        None => DEFAULT_FREQUENCY_MINUTES,
        Some(v) => parse_frequency(v)?,
    };
    let action_match = match obj.get("actionMatch") {
        None => return Err(RuleError::new("actionMatch", "This field is required.")),
        Some(Value::Null) => {
            return Err(RuleError::new("actionMatch", "This field may not be null."));
        }
        Some(v) => parse_match("actionMatch", v)?,
    };
    let filter_match = present("filterMatch")
        .map(|v| parse_match("filterMatch", v))
        .transpose()?;

    let conditions = list(present("conditions"), "conditions")?
        .iter()
        .enumerate()
        .map(|(i, item)| parse_condition(&format!("conditions[{i}]"), item))
        .collect::<Result<Vec<_>, _>>()?;
    let filters = list(present("filters"), "filters")?
        .iter()
        .enumerate()
        .map(|(i, item)| parse_filter(&format!("filters[{i}]"), item))
        .collect::<Result<Vec<_>, _>>()?;
    let actions = list(present("actions"), "actions")?
        .iter()
        .enumerate()
        .map(|(i, item)| parse_action(&format!("actions[{i}]"), item))
        .collect::<Result<Vec<_>, _>>()?;

    if !filters.is_empty() && filter_match.is_none() {
        return Err(RuleError::new(
            "filterMatch",
            "Must select a filter match (all, any, none) if filters are supplied.",
        ));
    }
    if actions.is_empty() {
        return Err(RuleError::new(
            "actions",
            "You must add an action for this alert to fire.",
        ));
    }
    Ok(RuleSpec {
        name,
        environment,
        owner,
        frequency_minutes,
        action_match,
        filter_match: filter_match.unwrap_or(Match::All),
        conditions,
        filters,
        actions,
    })
}

fn parse_name(value: Option<&Value>) -> Result<String, RuleError> {
    match value {
        None => Err(RuleError::new("name", "This field is required.")),
        Some(Value::Null) => Err(RuleError::new("name", "This field may not be null.")),
        Some(v) => text_field("name", v, MAX_NAME_CHARS),
    }
}

/// A DRF `CharField`: a string (or number), trimmed, not blank, at most `max` characters.
fn text_field(field: &str, value: &Value, max: usize) -> Result<String, RuleError> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(RuleError::new(field, "Not a valid string.")),
    };
    if text.is_empty() {
        return Err(RuleError::new(field, "This field may not be blank."));
    }
    if text.chars().count() > max {
        return Err(RuleError::new(
            field,
            format!("Ensure this field has no more than {max} characters."),
        ));
    }
    Ok(text)
}

/// `user:N`, `team:N`, or a bare user id (Sentry's `ActorField`).
fn parse_owner(value: &Value) -> Result<String, RuleError> {
    let refused = || {
        RuleError::new(
            "owner",
            "Could not parse actor. Format should be `type:id` where type is `team` or `user`.",
        )
    };
    let raw = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(refused()),
    };
    let (kind, id) = raw.split_once(':').unwrap_or(("user", raw.as_str()));
    let id: u64 = id.parse().map_err(|_| refused())?;
    match kind {
        "user" | "team" => Ok(format!("{kind}:{id}")),
        _ => Err(refused()),
    }
}

fn parse_frequency(value: &Value) -> Result<u32, RuleError> {
    let minutes =
        as_int(value).ok_or_else(|| RuleError::new("frequency", "A valid integer is required."))?;
    if minutes < MIN_FREQUENCY_MINUTES {
        return Err(RuleError::new(
            "frequency",
            format!("Ensure this value is greater than or equal to {MIN_FREQUENCY_MINUTES}."),
        ));
    }
    if minutes > MAX_FREQUENCY_MINUTES {
        return Err(RuleError::new(
            "frequency",
            format!("Ensure this value is less than or equal to {MAX_FREQUENCY_MINUTES}."),
        ));
    }
    u32::try_from(minutes).map_err(|_| RuleError::new("frequency", "A valid integer is required."))
}

fn parse_match(field: &str, value: &Value) -> Result<Match, RuleError> {
    let text = match value {
        Value::String(s) => s.as_str(),
        _ => "",
    };
    Match::from_str(text).ok_or_else(|| {
        let shown = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        RuleError::new(field, format!("\"{shown}\" is not a valid choice."))
    })
}

fn list<'a>(value: Option<&'a Value>, field: &str) -> Result<&'a [Value], RuleError> {
    match value {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(RuleError::new(
            field,
            format!(
                "Expected a list of items but got type \"{}\".",
                python_type(other)
            ),
        )),
    }
}

impl RuleSpec {
    /// The stored form: a body [`parse`] accepts and reads back to this same rule.
    pub fn to_stored(&self) -> Value {
        json!({
            "name": self.name,
            "environment": self.environment,
            "owner": self.owner,
            "frequency": self.frequency_minutes,
            "actionMatch": self.action_match.as_str(),
            "filterMatch": self.filter_match.as_str(),
            "conditions": self.conditions.iter().map(|c| Value::Object(c.params())).collect::<Vec<_>>(),
            "filters": self.filters.iter().map(|f| Value::Object(f.params())).collect::<Vec<_>>(),
            "actions": self.actions.iter().map(|a| Value::Object(a.params())).collect::<Vec<_>>(),
        })
    }

    /// The per-issue throttle.
    pub fn frequency_ms(&self) -> i64 {
        i64::from(self.frequency_minutes) * 60_000
    }

    /// Installations named by Sentry app actions, each once.
    pub fn sentry_app_uuids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for action in &self.actions {
            if let ActionKind::SentryApp {
                installation_uuid, ..
            } = &action.kind
                && !out.contains(&installation_uuid.as_str())
            {
                out.push(installation_uuid);
            }
        }
        out
    }

    /// Sextant channels named by channel actions, each once.
    pub fn channel_ids(&self) -> Vec<i64> {
        self.unique(|action| match action.kind {
            ActionKind::Channel { channel } => Some(channel),
            _ => None,
        })
    }

    /// Teams named by email actions and assignee checks, each once.
    pub fn team_ids(&self) -> Vec<i64> {
        let mut out = self.unique(|action| match action.kind {
            ActionKind::Email {
                target: EmailTarget::Team(id),
                ..
            } => Some(id),
            _ => None,
        });
        for check in self.checks() {
            if let Check::AssignedTo(AssigneeTarget::Team(id)) = check
                && !out.contains(id)
            {
                out.push(*id);
            }
        }
        out
    }

    /// Users named by email actions and assignee checks, each once.
    pub fn member_ids(&self) -> Vec<i64> {
        let mut out = self.unique(|action| match action.kind {
            ActionKind::Email {
                target: EmailTarget::Member(id),
                ..
            } => Some(id),
            _ => None,
        });
        for check in self.checks() {
            if let Check::AssignedTo(AssigneeTarget::Member(id)) = check
                && !out.contains(id)
            {
                out.push(*id);
            }
        }
        out
    }

    fn unique(&self, pick: impl Fn(&Action) -> Option<i64>) -> Vec<i64> {
        let mut out = Vec::new();
        for id in self.actions.iter().filter_map(pick) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// Every check, in conditions (legacy forms) and filters.
    fn checks(&self) -> impl Iterator<Item = &Check> {
        let in_conditions = self.conditions.iter().filter_map(|c| match &c.kind {
            ConditionKind::Check(check) => Some(check),
            _ => None,
        });
        in_conditions.chain(self.filters.iter().map(|f| &f.check))
    }
}
