//! One-call event processing (normalize → group → metadata → tags), the unit the server
//! runs per event item and the natural benchmark target.

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
    let event = normalize_event_item(payload, item_type, ctx)?;
    Ok(ProcessedEvent {
        grouping: group(&event),
        metadata: issue_metadata(&event),
        tags: event.tags(),
        event,
    })
}
