//! Every item id a rule accepts: Sentry's own, plus Sextant's notification channels.

pub const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
pub const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
pub const REAPPEARED: &str = "sentry.rules.conditions.reappeared_event.ReappearedEventCondition";
pub const EVERY_EVENT: &str = "sentry.rules.conditions.every_event.EveryEventCondition";
pub const EVENT_FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
pub const USER_FREQUENCY: &str =
    "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition";
pub const SESSION_PERCENT: &str =
    "sentry.rules.conditions.event_frequency.EventFrequencyPercentCondition";
/// Sextant's: a post-deploy check's verdict (`verdict`: `regressed`, or `any` to hear of
/// recoveries too).
pub const RELEASE_VERDICT: &str =
    "sextant.rules.conditions.release_verdict.ReleaseVerdictCondition";
/// The legacy condition forms of the level, tag and attribute checks.
pub const LEVEL_CONDITION: &str = "sentry.rules.conditions.level.LevelCondition";
pub const TAGGED_CONDITION: &str = "sentry.rules.conditions.tagged_event.TaggedEventCondition";
pub const ATTRIBUTE_CONDITION: &str =
    "sentry.rules.conditions.event_attribute.EventAttributeCondition";

pub const LEVEL_FILTER: &str = "sentry.rules.filters.level.LevelFilter";
pub const TAGGED_FILTER: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
pub const ATTRIBUTE_FILTER: &str = "sentry.rules.filters.event_attribute.EventAttributeFilter";
pub const AGE_FILTER: &str = "sentry.rules.filters.age_comparison.AgeComparisonFilter";
pub const OCCURRENCES_FILTER: &str =
    "sentry.rules.filters.issue_occurrences.IssueOccurrencesFilter";
pub const LATEST_RELEASE_FILTER: &str = "sentry.rules.filters.latest_release.LatestReleaseFilter";
pub const CATEGORY_FILTER: &str = "sentry.rules.filters.issue_category.IssueCategoryFilter";
pub const ASSIGNED_TO_FILTER: &str = "sentry.rules.filters.assigned_to.AssignedToFilter";

pub const EMAIL_ACTION: &str = "sentry.mail.actions.NotifyEmailAction";
pub const SERVICE_ACTION: &str =
    "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";
pub const SENTRY_APP_ACTION: &str =
    "sentry.rules.actions.notify_event_sentry_app.NotifyEventSentryAppAction";
/// "All legacy integrations": here, the webhooks plugin.
pub const LEGACY_ACTION: &str = "sentry.rules.actions.notify_event.NotifyEventAction";
pub const CHANNEL_ACTION: &str = "sextant.rules.actions.notify_channel.NotifyChannelAction";
