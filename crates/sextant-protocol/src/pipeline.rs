//! One-call event processing (normalize → group → metadata → tags). The server runs
//! [`process_event_for_index`] per event item of a batch: it normalizes only what the
//! stored columns and grouping read, since the payload is kept as sent and normalized in
//! full when read. [`process_event`] does the same on the full normalization, which is
//! what readers see, and is what the fixtures check.

use crate::envelope::ItemType;
use crate::event::{
    Event, EventError, NormalizeContext, normalize_event_for_index, normalize_event_item,
};
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
    derive(normalize_event_item(payload, item_type, ctx)?)
}

/// [`process_event`] on the index normalization: what processing stores per event.
pub fn process_event_for_index(
    payload: &[u8],
    ctx: &NormalizeContext,
) -> Result<ProcessedEvent, EventError> {
    derive(normalize_event_for_index(payload, ctx)?)
}

fn derive(event: Event) -> Result<ProcessedEvent, EventError> {
    Ok(ProcessedEvent {
        grouping: group(&event),
        metadata: issue_metadata(&event),
        tags: event.tags(),
        event,
    })
}
