//! What became of an item, named as Relay names it: accepted, or discarded for one
//! [`DiscardReason`]. Ingest refusals and processing discards both end here, and the
//! stored outcome rows and the `/metrics` labels take their names from [`DiscardReason::as_str`]
//! alone, so a new reason is a new variant, checked wherever reasons are matched.

/// Why an item, or a whole request, was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscardReason {
    // Refused at ingest, before the request was acknowledged.
    /// No key, an unknown or revoked key, or a header that disagrees with it.
    Auth,
    /// The path's project id is malformed or not the key's.
    ProjectId,
    /// The browser origin is not allowed for the project.
    Origin,
    SentryVersion,
    EmptyBody,
    /// An unknown coding, or a body that does not decompress.
    Decompression,
    /// Over a size or count limit.
    TooLarge,
    InvalidEnvelope,
    InvalidJson,
    /// The connection failed or stalled while the body was read.
    BodyRead,
    RateLimited,
    Overloaded,
    DiskFull,
    Internal,
    // Discarded by processing, after the request was acknowledged.
    /// Processing this request panicked; its items are counted, not retried forever.
    InternalError,
    DeprecatedItemType,
    UnsupportedItemType,
    InternalItemType,
    UnknownItemType,
    /// An attachment in an envelope without an event id.
    MissingEventId,
    InvalidClientReport,
    InvalidEvent,
}

impl DiscardReason {
    /// The reason as stored in outcomes and shown in `/metrics`.
    pub fn as_str(self) -> &'static str {
        use DiscardReason::*;
        match self {
            Auth => "auth",
            ProjectId => "project_id",
            Origin => "origin",
            SentryVersion => "sentry_version",
            EmptyBody => "empty_body",
            Decompression => "decompression",
            TooLarge => "too_large",
            InvalidEnvelope => "invalid_envelope",
            InvalidJson => "invalid_json",
            BodyRead => "body_read",
            RateLimited => "rate_limited",
            Overloaded => "overloaded",
            DiskFull => "disk_full",
            Internal => "internal",
            InternalError => "internal_error",
            DeprecatedItemType => "deprecated_item_type",
            UnsupportedItemType => "unsupported_item_type",
            InternalItemType => "internal_item_type",
            UnknownItemType => "unknown_item_type",
            MissingEventId => "missing_event_id",
            InvalidClientReport => "invalid_client_report",
            InvalidEvent => "invalid_event",
        }
    }
}

/// The fate of one item, as recorded in the project's outcome counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Invalid(DiscardReason),
}

impl Outcome {
    /// The outcome column: `accepted` or `invalid`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Invalid(_) => "invalid",
        }
    }

    /// The reason column: empty for accepted items.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Accepted => "",
            Outcome::Invalid(reason) => reason.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relays() {
        assert_eq!(Outcome::Accepted.name(), "accepted");
        assert_eq!(Outcome::Accepted.reason(), "");
        let invalid = Outcome::Invalid(DiscardReason::MissingEventId);
        assert_eq!(
            (invalid.name(), invalid.reason()),
            ("invalid", "missing_event_id")
        );
        assert_eq!(DiscardReason::TooLarge.as_str(), "too_large");
    }
}
