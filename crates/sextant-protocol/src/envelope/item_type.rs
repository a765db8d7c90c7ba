//! Envelope item types (§6.5) and their rate-limit data categories (§7.3).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemType {
    Event,
    Transaction,
    Span,
    Attachment,
    Session,
    Sessions,
    UserReport,
    Feedback,
    ClientReport,
    CheckIn,
    Log,
    TraceMetric,
    Statsd,
    MetricBuckets,
    MetricMeta,
    Profile,
    ProfileChunk,
    ReplayEvent,
    ReplayRecording,
    ReplayVideo,
    Security,
    RawSecurity,
    Nel,
    FormData,
    UnrealReport,
    /// Forward compatibility: unknown types are kept and skipped, never an error.
    Unknown(String),
}

impl ItemType {
    pub fn parse(s: &str) -> ItemType {
        match s {
            "event" => Self::Event,
            "transaction" => Self::Transaction,
            "span" => Self::Span,
            "attachment" => Self::Attachment,
            "session" => Self::Session,
            "sessions" => Self::Sessions,
            "user_report" => Self::UserReport,
            "feedback" => Self::Feedback,
            "client_report" => Self::ClientReport,
            "check_in" => Self::CheckIn,
            "log" => Self::Log,
            "trace_metric" => Self::TraceMetric,
            "statsd" => Self::Statsd,
            "metric_buckets" => Self::MetricBuckets,
            "metric_meta" => Self::MetricMeta,
            "profile" => Self::Profile,
            // Relay accepts the UI variant name as an alias of the same item.
            "profile_chunk" | "profile_chunk_ui" => Self::ProfileChunk,
            "replay_event" => Self::ReplayEvent,
            "replay_recording" => Self::ReplayRecording,
            "replay_video" => Self::ReplayVideo,
            "security" => Self::Security,
            "raw_security" => Self::RawSecurity,
            "nel" => Self::Nel,
            "form_data" => Self::FormData,
            "unreal_report" => Self::UnrealReport,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Event => "event",
            Self::Transaction => "transaction",
            Self::Span => "span",
            Self::Attachment => "attachment",
            Self::Session => "session",
            Self::Sessions => "sessions",
            Self::UserReport => "user_report",
            Self::Feedback => "feedback",
            Self::ClientReport => "client_report",
            Self::CheckIn => "check_in",
            Self::Log => "log",
            Self::TraceMetric => "trace_metric",
            Self::Statsd => "statsd",
            Self::MetricBuckets => "metric_buckets",
            Self::MetricMeta => "metric_meta",
            Self::Profile => "profile",
            Self::ProfileChunk => "profile_chunk",
            Self::ReplayEvent => "replay_event",
            Self::ReplayRecording => "replay_recording",
            Self::ReplayVideo => "replay_video",
            Self::Security => "security",
            Self::RawSecurity => "raw_security",
            Self::Nel => "nel",
            Self::FormData => "form_data",
            Self::UnrealReport => "unreal_report",
            Self::Unknown(s) => s,
        }
    }

    /// Rate-limit category (`X-Sentry-Rate-Limits`) of this item.
    pub fn data_category(&self) -> &'static str {
        match self {
            Self::Event => "error",
            Self::Transaction => "transaction",
            Self::Span => "span",
            Self::Attachment => "attachment",
            Self::Session | Self::Sessions => "session",
            Self::UserReport | Self::Feedback => "feedback",
            Self::ClientReport => "internal",
            Self::CheckIn => "monitor",
            Self::Log => "log_item",
            Self::TraceMetric => "trace_metric",
            Self::Statsd | Self::MetricBuckets | Self::MetricMeta => "metric_bucket",
            Self::Profile => "profile",
            Self::ProfileChunk => "profile_chunk",
            Self::ReplayEvent | Self::ReplayRecording | Self::ReplayVideo => "replay",
            Self::Security | Self::RawSecurity | Self::Nel => "security",
            Self::FormData | Self::UnrealReport | Self::Unknown(_) => "default",
        }
    }

    /// Items that belong to the envelope's `event_id` (Relay generates one if missing).
    pub fn requires_event(&self) -> bool {
        matches!(
            self,
            Self::Event
                | Self::Transaction
                | Self::Attachment
                | Self::UserReport
                | Self::Feedback
                | Self::Profile
                | Self::ReplayEvent
                | Self::Security
                | Self::RawSecurity
                | Self::FormData
                | Self::UnrealReport
        )
    }

    /// Items whose payload is an event JSON that goes through [`crate::normalize_event`].
    pub fn is_event_like(&self) -> bool {
        matches!(self, Self::Event | Self::Transaction | Self::Feedback)
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_categories() {
        for name in [
            "event",
            "session",
            "sessions",
            "client_report",
            "span",
            "log",
            "check_in",
        ] {
            assert_eq!(ItemType::parse(name).as_str(), name);
        }
        assert_eq!(ItemType::parse("profile_chunk_ui"), ItemType::ProfileChunk);
        assert_eq!(ItemType::parse("brand_new").as_str(), "brand_new");
        assert_eq!(ItemType::parse("brand_new").data_category(), "default");
        assert_eq!(ItemType::Event.data_category(), "error");
        assert_eq!(ItemType::UserReport.data_category(), "feedback");
        assert_eq!(ItemType::ClientReport.data_category(), "internal");
        assert_eq!(ItemType::Log.data_category(), "log_item");
        assert_eq!(ItemType::MetricMeta.data_category(), "metric_bucket");
        assert_eq!(ItemType::ReplayVideo.data_category(), "replay");
        assert_eq!(ItemType::CheckIn.data_category(), "monitor");
    }
}
