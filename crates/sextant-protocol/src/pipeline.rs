//! Event processing: normalize, then derive what is stored with an error event (grouping,
//! issue metadata, tags) in [`ProcessedEvent::from_event`]. The server normalizes each
//! event item with `normalize_event_for_index` (only what the stored columns and
//! grouping read; the payload is kept as sent and normalized in full when read) and
//! derives only for errors. [`process_event`] does both on the full normalization, which
//! is what readers see, and is what the fixtures check.

use crate::envelope::ItemType;
use crate::event::{Event, EventError, NormalizeContext, normalize_event_item};
use crate::grouping::{Grouping, IssueMetadata, group, issue_metadata};

#[derive(Debug, Clone)]
pub struct ProcessedEvent {
    pub event: Event,
    pub grouping: Grouping,
    pub metadata: IssueMetadata,
    pub tags: Vec<(String, String)>,
}

/// Normalizes an event/transaction/feedback item payload (`item_type` from its envelope
/// item header; [`ItemType::Event`] for `/store/` bodies) and derives everything stored
/// with it.
pub fn process_event(
    payload: &[u8],
    item_type: &ItemType,
    ctx: &NormalizeContext,
) -> Result<ProcessedEvent, EventError> {
    Ok(ProcessedEvent::from_event(normalize_event_item(
        payload, item_type, ctx,
    )?))
}

impl ProcessedEvent {
    /// What an error event is stored with, derived from its normalization (full or
    /// index: both give the same answers here).
    pub fn from_event(event: Event) -> ProcessedEvent {
        ProcessedEvent {
            grouping: group(&event),
            metadata: issue_metadata(&event),
            tags: event.tags(),
            event,
        }
    }
}
