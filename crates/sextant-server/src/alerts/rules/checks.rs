//! Checks of the event or its issue ("if" items, and the legacy condition forms of the
//! level, tag and attribute checks): their parameters as Sentry's filter forms validate
//! them, and their stored form.

use serde_json::{Map, Value, json};

use super::RuleError;
use super::ids;
use super::params::{Item, node, stored_item};

/// An "if" item.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The id as given (one of [`ids`]).
    pub id: &'static str,
    pub check: Check,
    pub extra: Map<String, Value>,
}

/// A check on the event or its issue.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The event's level, as a number (fatal 50 … sample 0).
    Level {
        matches: LevelMatch,
        level: i64,
    },
    /// `value` is empty for `is` and `ns`.
    Tagged {
        key: String,
        matches: StrMatch,
        value: String,
    },
    Attribute {
        attribute: Attribute,
        matches: StrMatch,
        value: String,
    },
    /// The first event is older (newer) than `value` `time`s before now.
    Age {
        comparison: AgeComparison,
        value: i64,
        time: TimeUnit,
    },
    /// The issue has at least `value` events.
    Occurrences {
        value: i64,
    },
    LatestRelease,
    /// Sentry's `GroupCategory` number (1 error … 6 feedback …); `include: Some(false)`
    /// means "not equal to".
    Category {
        value: i64,
        include: Option<bool>,
    },
    AssignedTo(AssigneeTarget),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMatch {
    Eq,
    Gte,
    Lte,
}

/// Sentry's string match operators (`MatchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrMatch {
    Eq,
    Ne,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
    /// Equal to one of a comma-separated list.
    IsIn,
    NotIn,
    IsSet,
    NotSet,
}

impl StrMatch {
    pub const ALL: [StrMatch; 12] = [
        StrMatch::Eq,
        StrMatch::Ne,
        StrMatch::StartsWith,
        StrMatch::NotStartsWith,
        StrMatch::EndsWith,
        StrMatch::NotEndsWith,
        StrMatch::Contains,
        StrMatch::NotContains,
        StrMatch::IsIn,
        StrMatch::NotIn,
        StrMatch::IsSet,
        StrMatch::NotSet,
    ];

    pub fn key(self) -> &'static str {
        match self {
            StrMatch::Eq => "eq",
            StrMatch::Ne => "ne",
            StrMatch::StartsWith => "sw",
            StrMatch::NotStartsWith => "nsw",
            StrMatch::EndsWith => "ew",
            StrMatch::NotEndsWith => "new",
            StrMatch::Contains => "co",
            StrMatch::NotContains => "nc",
            StrMatch::IsIn => "in",
            StrMatch::NotIn => "nin",
            StrMatch::IsSet => "is",
            StrMatch::NotSet => "ns",
        }
    }

    /// `is` and `ns` look at presence only and need no value.
    pub fn needs_value(self) -> bool {
        !matches!(self, StrMatch::IsSet | StrMatch::NotSet)
    }
}

/// One of Sentry's event attributes (`ATTR_CHOICES`), e.g. `exception.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute(pub(super) &'static str);

impl Attribute {
    /// Sentry's list, in its order. Those Sextant has no data for never match (and `ns`
    /// always does), as in Sentry where they have no handler.
    pub const ALL: [&'static str; 30] = [
        "message",
        "platform",
        "environment",
        "type",
        "error.handled",
        "error.unhandled",
        "error.main_thread",
        "exception.type",
        "exception.value",
        "user.id",
        "user.email",
        "user.username",
        "user.ip_address",
        "http.method",
        "http.url",
        "http.status_code",
        "sdk.name",
        "stacktrace.code",
        "stacktrace.module",
        "stacktrace.filename",
        "stacktrace.abs_path",
        "stacktrace.package",
        "unreal.crash_type",
        "app.in_foreground",
        "os.distribution_name",
        "os.distribution_version",
        "symbolicated_in_app",
        "ota_updates.channel",
        "ota_updates.runtime_version",
        "ota_updates.update_id",
    ];

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeComparison {
    Older,
    Newer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Minute,
    Hour,
    Day,
    Week,
}

impl TimeUnit {
    pub fn millis(self) -> i64 {
        match self {
            TimeUnit::Minute => 60_000,
            TimeUnit::Hour => 3_600_000,
            TimeUnit::Day => 86_400_000,
            TimeUnit::Week => 7 * 86_400_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeTarget {
    Unassigned,
    Team(i64),
    Member(i64),
}

/// Sentry's `LOG_LEVELS`, highest first.
const LEVELS: [(&str, i64); 6] = [
    ("50", 50),
    ("40", 40),
    ("30", 30),
    ("20", 20),
    ("10", 10),
    ("0", 0),
];
const LEVEL_MATCHES: [(&str, LevelMatch); 3] = [
    ("eq", LevelMatch::Eq),
    ("gte", LevelMatch::Gte),
    ("lte", LevelMatch::Lte),
];
const AGE_COMPARISONS: [(&str, AgeComparison); 2] = [
    ("older", AgeComparison::Older),
    ("newer", AgeComparison::Newer),
];
const TIME_UNITS: [(&str, TimeUnit); 4] = [
    ("minute", TimeUnit::Minute),
    ("hour", TimeUnit::Hour),
    ("day", TimeUnit::Day),
    ("week", TimeUnit::Week),
];
/// Sentry's `GroupCategory` numbers (1 error … 19 configuration).
const CATEGORIES: std::ops::RangeInclusive<i64> = 1..=19;

/// Filters, plus the legacy condition forms of the event checks, which Sentry's docs list
/// among the filters too.
const FILTER_IDS: [&str; 11] = [
    ids::LEVEL_FILTER,
    ids::TAGGED_FILTER,
    ids::ATTRIBUTE_FILTER,
    ids::AGE_FILTER,
    ids::OCCURRENCES_FILTER,
    ids::LATEST_RELEASE_FILTER,
    ids::CATEGORY_FILTER,
    ids::ASSIGNED_TO_FILTER,
    ids::LEVEL_CONDITION,
    ids::TAGGED_CONDITION,
    ids::ATTRIBUTE_CONDITION,
];

pub(super) fn parse_filter(path: &str, value: &Value) -> Result<Filter, RuleError> {
    let (item, id) = node(path, value, &FILTER_IDS, "filter")?;
    let (check, known) = check(&item, id)?;
    Ok(Filter {
        id,
        check,
        extra: item.extra(known),
    })
}

fn str_matches() -> Vec<(&'static str, StrMatch)> {
    StrMatch::ALL.iter().map(|m| (m.key(), *m)).collect()
}

/// `value`: required unless `matches` is `is` or `ns`, then empty.
fn match_value(item: &Item, matches: StrMatch) -> Result<String, RuleError> {
    match item.text("value")? {
        Some(value) => Ok(value),
        None if matches.needs_value() => {
            Err(item.err("value", "is required unless match is is or ns"))
        }
        None => Ok(String::new()),
    }
}

/// A filter (or legacy condition) check and the parameters it reads.
pub(super) fn check(
    item: &Item,
    id: &'static str,
) -> Result<(Check, &'static [&'static str]), RuleError> {
    Ok(match id {
        ids::LEVEL_FILTER | ids::LEVEL_CONDITION => {
            let matches = item.choice("match", &LEVEL_MATCHES)?;
            let level = item.choice("level", &LEVELS)?;
            (Check::Level { matches, level }, &["match", "level"])
        }
        ids::TAGGED_FILTER | ids::TAGGED_CONDITION => {
            let key = item.required_text("key")?;
            let matches = item.choice("match", &str_matches())?;
            let value = match_value(item, matches)?;
            (
                Check::Tagged {
                    key,
                    matches,
                    value,
                },
                &["key", "match", "value"],
            )
        }
        ids::ATTRIBUTE_FILTER | ids::ATTRIBUTE_CONDITION => {
            let choices: Vec<(&str, Attribute)> =
                Attribute::ALL.iter().map(|a| (*a, Attribute(a))).collect();
            let attribute = item.choice("attribute", &choices)?;
            let matches = item.choice("match", &str_matches())?;
            let value = match_value(item, matches)?;
            let check = Check::Attribute {
                attribute,
                matches,
                value,
            };
            (check, &["attribute", "match", "value"])
        }
        ids::AGE_FILTER => {
            let comparison = item.choice("comparison_type", &AGE_COMPARISONS)?;
            let value = item.int("value", 0)?;
            let time = item.choice("time", &TIME_UNITS)?;
            let check = Check::Age {
                comparison,
                value,
                time,
            };
            (check, &["comparison_type", "value", "time"])
        }
        ids::OCCURRENCES_FILTER => (
            Check::Occurrences {
                value: item.int("value", 0)?,
            },
            &["value"],
        ),
        ids::LATEST_RELEASE_FILTER => (Check::LatestRelease, &[]),
        ids::CATEGORY_FILTER => {
            let value = item.int("value", *CATEGORIES.start())?;
            if !CATEGORIES.contains(&value) {
                return Err(item.err(
                    "value",
                    format_args!(
                        "must be an issue category, {} to {}",
                        CATEGORIES.start(),
                        CATEGORIES.end()
                    ),
                ));
            }
            let include = item.opt_choice("include", &[("true", true), ("false", false)])?;
            (Check::Category { value, include }, &["value", "include"])
        }
        ids::ASSIGNED_TO_FILTER => {
            let target = match target(item, "Unassigned")? {
                Target::Nobody => AssigneeTarget::Unassigned,
                Target::Team(id) => AssigneeTarget::Team(id),
                Target::Member(id) => AssigneeTarget::Member(id),
            };
            (
                Check::AssignedTo(target),
                &["targetType", "targetIdentifier"],
            )
        }
        _ => return Err(item.err("id", "is not a filter")),
    })
}

/// A `targetType` (`nobody` being `Unassigned` or `IssueOwners`) and, for a team or a
/// member, its `targetIdentifier` (Sentry's `MemberTeamForm`).
pub(super) enum Target {
    Nobody,
    Team(i64),
    Member(i64),
}

pub(super) fn target(item: &Item, nobody: &'static str) -> Result<Target, RuleError> {
    #[derive(Clone, Copy)]
    enum Kind {
        Nobody,
        Team,
        Member,
    }
    let choices = [
        (nobody, Kind::Nobody),
        ("Team", Kind::Team),
        ("Member", Kind::Member),
    ];
    let kind = item.choice("targetType", &choices)?;
    if let Kind::Nobody = kind {
        return Ok(Target::Nobody);
    }
    // `"None"` is how older Sentry versions stored a blank.
    let given = item
        .get("targetIdentifier")
        .filter(|v| v.as_str() != Some("None"));
    if given.is_none() {
        return Err(item.err(
            "targetIdentifier",
            "is required when targetType is Team or Member",
        ));
    }
    let id = item
        .int("targetIdentifier", 0)
        .map_err(|_| item.err("targetIdentifier", "must be an integer"))?;
    Ok(match kind {
        Kind::Team => Target::Team(id),
        _ => Target::Member(id),
    })
}

impl Filter {
    /// The stored form: `id`, the parameters in Sentry's types, and the kept extras.
    pub fn params(&self) -> Map<String, Value> {
        let mut out = Map::new();
        check_params(&mut out, &self.check);
        stored_item(self.id, out, &self.extra)
    }
}

pub(super) fn check_params(out: &mut Map<String, Value>, check: &Check) {
    let mut put = |k: &str, v: Value| {
        out.insert(k.into(), v);
    };
    match check {
        Check::Level { matches, level } => {
            put("match", json!(matches.key()));
            put("level", json!(level.to_string()));
        }
        Check::Tagged {
            key,
            matches,
            value,
        } => {
            put("key", json!(key));
            put("match", json!(matches.key()));
            put("value", json!(value));
        }
        Check::Attribute {
            attribute,
            matches,
            value,
        } => {
            put("attribute", json!(attribute.as_str()));
            put("match", json!(matches.key()));
            put("value", json!(value));
        }
        Check::Age {
            comparison,
            value,
            time,
        } => {
            put("comparison_type", json!(comparison.key()));
            put("value", json!(value));
            put("time", json!(time.key()));
        }
        Check::Occurrences { value } => put("value", json!(value)),
        Check::LatestRelease => {}
        Check::Category { value, include } => {
            put("value", json!(value.to_string()));
            if let Some(include) = include {
                put("include", json!(include.to_string()));
            }
        }
        Check::AssignedTo(target) => {
            let (kind, identifier) = match target {
                AssigneeTarget::Unassigned => ("Unassigned", json!("")),
                AssigneeTarget::Team(id) => ("Team", json!(id)),
                AssigneeTarget::Member(id) => ("Member", json!(id)),
            };
            put("targetType", json!(kind));
            put("targetIdentifier", identifier);
        }
    }
}

impl LevelMatch {
    pub fn key(self) -> &'static str {
        LEVEL_MATCHES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("eq", |(k, _)| *k)
    }
}

impl AgeComparison {
    pub fn key(self) -> &'static str {
        AGE_COMPARISONS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("older", |(k, _)| *k)
    }
}

impl TimeUnit {
    pub fn key(self) -> &'static str {
        TIME_UNITS
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("minute", |(k, _)| *k)
    }
}
