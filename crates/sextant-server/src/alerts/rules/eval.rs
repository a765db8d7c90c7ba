//! Evaluation of a rule against one event of an issue, as Sentry's rule processor does
//! it: the rule's environment first, then `conditions` combined by `actionMatch`, then
//! `filters` by `filterMatch` (an empty list passes). Frequency conditions compare
//! windowed counts the caller supplies. Sentry applies rules to unresolved issues only,
//! and then the per-issue throttle (`frequency`); both are the caller's.

use super::checks::{AgeComparison, AssigneeTarget, Check, LevelMatch, StrMatch};
use super::conditions::{ComparisonType, ConditionKind, CountFrequency, Interval, SessionPercent};
use super::facts::{EventFacts, FrameFacts, IssueFacts};
use super::spec::{Match, RuleSpec};

/// A time window ending `to_ago_ms` before now and starting `from_ago_ms` before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub from_ago_ms: i64,
    pub to_ago_ms: i64,
}

impl Window {
    /// The `length_ms` before now, moved `offset_ms` into the past.
    fn back(length_ms: i64, offset_ms: i64) -> Self {
        Window {
            from_ago_ms: offset_ms + length_ms,
            to_ago_ms: offset_ms,
        }
    }
}

/// The counts a rule's conditions ask for, each window once, so the caller fetches only
/// those. All are of the event's issue (sessions: of its project), in the rule's
/// environment when it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub event_windows: Vec<Window>,
    pub user_windows: Vec<Window>,
    pub session_windows: Vec<Window>,
}

/// Windowed counts. Every window is read the same way; the event being evaluated counts.
pub trait Counts {
    /// Events of the issue.
    fn events(&self, window: Window) -> i64;
    /// Distinct users of the issue.
    fn users(&self, window: Window) -> i64;
    /// Sessions of the project.
    fn sessions(&self, window: Window) -> i64;
}

/// Sentry looks at the last hour of sessions, and only from this many on.
const SESSION_SPAN_MS: i64 = 3_600_000;
const MIN_SESSIONS_TO_FIRE: i64 = 50;

fn push_unique(list: &mut Vec<Window>, window: Window) {
    if !list.contains(&window) {
        list.push(window);
    }
}

/// The offsets (now, and `comparisonInterval` ago for a percent comparison) a
/// frequency condition reads.
fn offsets(comparison_type: ComparisonType, comparison_interval: Option<Interval>) -> Vec<i64> {
    match (comparison_type, comparison_interval) {
        (ComparisonType::Percent, Some(ci)) => vec![0, ci.millis()],
        _ => vec![0],
    }
}

impl RuleSpec {
    /// The windows evaluation will read.
    pub fn needs(&self) -> Needs {
        let mut needs = Needs::default();
        for condition in &self.conditions {
            match &condition.kind {
                ConditionKind::EventFrequency(f) | ConditionKind::UniqueUserFrequency(f) => {
                    let list = match condition.kind {
                        ConditionKind::EventFrequency(_) => &mut needs.event_windows,
                        _ => &mut needs.user_windows,
                    };
                    for offset in offsets(f.comparison_type, f.comparison_interval) {
                        push_unique(list, Window::back(f.interval.millis(), offset));
                    }
                }
                ConditionKind::SessionPercent(f) => {
                    for offset in offsets(f.comparison_type, f.comparison_interval) {
                        push_unique(
                            &mut needs.event_windows,
                            Window::back(f.interval.millis(), offset),
                        );
                        push_unique(
                            &mut needs.session_windows,
                            Window::back(SESSION_SPAN_MS, offset),
                        );
                    }
                }
                _ => {}
            }
        }
        needs
    }
}

/// Whether the rule fires for this event (before the per-issue throttle).
pub fn evaluate(
    spec: &RuleSpec,
    event: &EventFacts,
    issue: &IssueFacts,
    counts: &dyn Counts,
    now_ms: i64,
) -> bool {
    if let Some(environment) = &spec.environment
        && event.environment.as_ref() != Some(environment)
    {
        return false;
    }
    let conditions = spec.conditions.iter().map(|c| match &c.kind {
        ConditionKind::FirstSeen if spec.environment.is_some() => issue.new_in_environment,
        ConditionKind::FirstSeen => issue.new_issue,
        ConditionKind::Regression => issue.regression,
        ConditionKind::Reappeared => issue.reappeared,
        ConditionKind::EveryEvent => true,
        ConditionKind::EventFrequency(f) => count_passes(f, issue, |w| counts.events(w)),
        ConditionKind::UniqueUserFrequency(f) => count_passes(f, issue, |w| counts.users(w)),
        ConditionKind::SessionPercent(f) => session_percent_passes(f, issue, counts),
        ConditionKind::Check(check) => check_passes(check, event, issue, now_ms),
        ConditionKind::ReleaseVerdict { .. } => false,
    });
    if !combine(spec.action_match, conditions) {
        return false;
    }
    let filters = spec
        .filters
        .iter()
        .map(|f| check_passes(&f.check, event, issue, now_ms));
    combine(spec.filter_match, filters)
}

/// Whether the rule could fire for some event of this issue: its conditions, with those
/// that read the event taken at their most favourable. Lets the caller skip reading the
/// event (and its environment) when no rule could fire anyway.
pub fn may_fire(spec: &RuleSpec, issue: &IssueFacts, counts: &dyn Counts) -> bool {
    // "None of" wants checks to fail; "all" and "any" want them to pass.
    let favourable = spec.action_match != Match::None;
    let conditions = spec.conditions.iter().map(|c| match &c.kind {
        ConditionKind::FirstSeen => issue.new_issue || issue.new_in_environment,
        ConditionKind::Regression => issue.regression,
        ConditionKind::Reappeared => issue.reappeared,
        ConditionKind::EveryEvent => true,
        ConditionKind::EventFrequency(f) => count_passes(f, issue, |w| counts.events(w)),
        ConditionKind::UniqueUserFrequency(f) => count_passes(f, issue, |w| counts.users(w)),
        ConditionKind::SessionPercent(f) => session_percent_passes(f, issue, counts),
        ConditionKind::Check(_) => favourable,
        ConditionKind::ReleaseVerdict { .. } => false,
    });
    combine(spec.action_match, conditions)
}

impl RuleSpec {
    /// Whether any of the rule's checks, as a condition or a filter, is one `is`.
    fn checks_any(&self, is: impl Fn(&Check) -> bool) -> bool {
        self.filters.iter().any(|f| is(&f.check))
            || self.conditions.iter().any(|c| match &c.kind {
                ConditionKind::Check(check) => is(check),
                _ => false,
            })
    }

    /// Whether evaluating the rule reads frames' source lines (`stacktrace.code`), which
    /// only the event's full normalization keeps.
    pub fn reads_source(&self) -> bool {
        self.checks_any(|check| {
            matches!(check, Check::Attribute { attribute, .. } if attribute.0 == "stacktrace.code")
        })
    }

    /// Whether evaluating the rule needs the project's latest release.
    pub fn reads_latest_release(&self) -> bool {
        self.checks_any(|check| matches!(check, Check::LatestRelease))
    }
}

/// Sentry's `all`, `any` and "not any", except that no items at all pass.
fn combine(how: Match, results: impl Iterator<Item = bool>) -> bool {
    let mut results = results.peekable();
    if results.peek().is_none() {
        return true;
    }
    match how {
        Match::All => results.all(|r| r),
        Match::Any => results.any(|r| r),
        Match::None => !results.any(|r| r),
    }
}

/// How much higher `current` is than `earlier`, in whole percent; 0 when it is not
/// higher or there was nothing earlier (Sentry's `percent_increase`).
fn percent_increase(current: i64, earlier: i64) -> i64 {
    if earlier <= 0 {
        return 0;
    }
    let increase = (current - earlier) as f64 / earlier as f64 * 100.0;
    increase.max(0.0) as i64
}

fn count_passes(f: &CountFrequency, issue: &IssueFacts, count: impl Fn(Window) -> i64) -> bool {
    // Sentry takes an issue's first event to be under any threshold above one.
    if issue.new_issue && f.value > 1 {
        return false;
    }
    let length = f.interval.millis();
    let current = count(Window::back(length, 0));
    let result = match (f.comparison_type, f.comparison_interval) {
        (ComparisonType::Percent, Some(ci)) => {
            percent_increase(current, count(Window::back(length, ci.millis())))
        }
        _ => current,
    };
    result > f.value
}

fn session_percent_passes(f: &SessionPercent, issue: &IssueFacts, counts: &dyn Counts) -> bool {
    if issue.new_issue && f.value > 1.0 {
        return false;
    }
    let current = session_percent_at(f.interval, 0, counts);
    let result = match (f.comparison_type, f.comparison_interval) {
        (ComparisonType::Percent, Some(ci)) => {
            percent_increase(current, session_percent_at(f.interval, ci.millis(), counts))
        }
        _ => current,
    };
    result as f64 > f.value
}

/// The issue's events in `interval` as a whole percentage of the sessions expected in
/// it: the hour's sessions spread evenly, and 0 under 50 sessions in the hour (Sentry's
/// `EventFrequencyPercentCondition`).
fn session_percent_at(interval: Interval, offset_ms: i64, counts: &dyn Counts) -> i64 {
    let sessions = counts.sessions(Window::back(SESSION_SPAN_MS, offset_ms));
    if sessions < MIN_SESSIONS_TO_FIRE {
        return 0;
    }
    let per_interval = (sessions as f64 / (60.0 / interval.minutes() as f64)) as i64;
    if per_interval <= 0 {
        return 0;
    }
    let events = counts.events(Window::back(interval.millis(), offset_ms));
    let share = ((events as f64 / per_interval as f64) * 10_000.0).round() / 10_000.0;
    (100.0 * share) as i64
}

/// Sentry's numbers for level names.
fn level_number(level: &str) -> Option<i64> {
    Some(match level {
        "fatal" => 50,
        "error" => 40,
        "warning" => 30,
        "info" => 20,
        "debug" => 10,
        "sample" => 0,
        _ => return None,
    })
}

fn check_passes(check: &Check, event: &EventFacts, issue: &IssueFacts, now_ms: i64) -> bool {
    match check {
        Check::Level { matches, level } => {
            let Some(actual) = level_number(&event.level) else {
                return false;
            };
            match matches {
                LevelMatch::Eq => actual == *level,
                LevelMatch::Gte => actual >= *level,
                LevelMatch::Lte => actual <= *level,
            }
        }
        Check::Tagged {
            key,
            matches,
            value,
        } => tag_passes(&event.tags, key, *matches, value),
        Check::Attribute {
            attribute,
            matches,
            value,
        } => {
            let values: Vec<String> = attribute_values(attribute.as_str(), event)
                .into_iter()
                .map(|v| v.to_lowercase())
                .collect();
            match matches {
                StrMatch::IsSet => !values.is_empty(),
                StrMatch::NotSet => values.is_empty(),
                _ if value.is_empty() => false,
                _ => match_values(&values, &value.to_lowercase(), *matches),
            }
        }
        Check::Age {
            comparison,
            value,
            time,
        } => {
            let edge = issue
                .first_seen_ms
                .saturating_add(value.saturating_mul(time.millis()));
            match comparison {
                AgeComparison::Older => edge < now_ms,
                AgeComparison::Newer => edge > now_ms,
            }
        }
        Check::Occurrences { value } => issue.times_seen >= *value,
        Check::LatestRelease => issue.is_latest_release,
        Check::Category { value, include } => {
            let same = *value == issue.category.number();
            if *include == Some(false) { !same } else { same }
        }
        Check::AssignedTo(target) => match target {
            AssigneeTarget::Unassigned => issue.assignee.is_none(),
            AssigneeTarget::Team(id) => issue.assignee.as_deref() == Some(&format!("team:{id}")),
            AssigneeTarget::Member(id) => issue.assignee.as_deref() == Some(&format!("user:{id}")),
        },
    }
}

/// Sentry's tag match: keys and values compared lowercase, a key also matching its
/// `sentry:`-prefixed form.
fn tag_passes(tags: &[(String, String)], key: &str, matches: StrMatch, value: &str) -> bool {
    let key = key.to_lowercase();
    let key_matches =
        |k: &str| k.to_lowercase() == key || k.strip_prefix("sentry:") == Some(key.as_str());
    match matches {
        StrMatch::IsSet => tags.iter().any(|(k, _)| key_matches(k)),
        StrMatch::NotSet => !tags.iter().any(|(k, _)| key_matches(k)),
        _ if value.is_empty() => false,
        _ => {
            let values: Vec<String> = tags
                .iter()
                .filter(|(k, _)| key_matches(k))
                .map(|(_, v)| v.to_lowercase())
                .collect();
            match_values(&values, &value.to_lowercase(), matches)
        }
    }
}

/// Sentry's `match_values` over the event's values for one key.
fn match_values(values: &[String], needle: &str, matches: StrMatch) -> bool {
    let listed: Vec<String> = match matches {
        StrMatch::IsIn | StrMatch::NotIn => needle
            .replace(' ', "")
            .split(',')
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let in_list = |v: &String| listed.contains(v);
    match matches {
        StrMatch::Eq => values.iter().any(|v| v == needle),
        StrMatch::Ne => !values.iter().any(|v| v == needle),
        StrMatch::StartsWith => values.iter().any(|v| v.starts_with(needle)),
        StrMatch::NotStartsWith => !values.iter().any(|v| v.starts_with(needle)),
        StrMatch::EndsWith => values.iter().any(|v| v.ends_with(needle)),
        StrMatch::NotEndsWith => !values.iter().any(|v| v.ends_with(needle)),
        StrMatch::Contains => values.iter().any(|v| v.contains(needle)),
        StrMatch::NotContains => !values.iter().any(|v| v.contains(needle)),
        StrMatch::IsIn => values.iter().any(in_list),
        StrMatch::NotIn => !values.iter().any(in_list),
        // Presence is decided by the caller, before any value is compared.
        StrMatch::IsSet | StrMatch::NotSet => false,
    }
}

/// The event's values of one attribute (Sentry's attribute handlers); none for the
/// attributes Sextant has no data for.
fn attribute_values(attribute: &str, e: &EventFacts) -> Vec<String> {
    let one = |v: &Option<String>| v.iter().cloned().collect::<Vec<_>>();
    let frames = |pick: fn(&FrameFacts) -> &Option<String>| {
        e.frames.iter().filter_map(|f| pick(f).clone()).collect()
    };
    match attribute {
        "message" => {
            // Sentry matches the message and the search text, which adds the exception.
            let search = std::iter::once(e.message.as_str())
                .chain(e.exception_types.iter().map(String::as_str))
                .chain(e.exception_values.iter().map(String::as_str))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            [e.message.clone(), search]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect()
        }
        "platform" => vec![e.platform.clone()],
        "environment" => one(&e.environment),
        "type" => vec![e.event_type.clone()],
        "error.handled" => e.handled.iter().map(|h| h.to_string()).collect(),
        "error.unhandled" => e.handled.iter().map(|h| (!h).to_string()).collect(),
        "error.main_thread" => e.main_thread.iter().map(|m| m.to_string()).collect(),
        "exception.type" => e.exception_types.clone(),
        "exception.value" => e.exception_values.clone(),
        "user.id" => one(&e.user_id),
        "user.email" => one(&e.user_email),
        "user.username" => one(&e.user_username),
        "user.ip_address" => one(&e.user_ip),
        "http.method" => one(&e.http_method),
        "http.url" => one(&e.http_url),
        "http.status_code" => one(&e.http_status_code),
        "sdk.name" => one(&e.sdk_name),
        "stacktrace.code" => e.frames.iter().flat_map(|f| f.code.clone()).collect(),
        "stacktrace.module" => frames(|f| &f.module),
        "stacktrace.filename" => frames(|f| &f.filename),
        "stacktrace.abs_path" => frames(|f| &f.abs_path),
        "stacktrace.package" => frames(|f| &f.package),
        other => e
            .context_attributes
            .iter()
            .filter(|(name, _)| name == other)
            .map(|(_, v)| v.clone())
            .collect(),
    }
}
