//! Turns inbox rows into a storage batch, one item kind at a time. Pure CPU work: this
//! runs inside the storage transaction that claimed the rows.
//!
//! Every item ends as exactly one of: stored (an `accepted` outcome) or discarded (an
//! outcome with a reason). Nothing leaves this module uncounted.

use std::time::Duration;

use sextant_protocol::ProcessedEvent;
use sextant_protocol::client_report::parse_client_report;
use sextant_protocol::envelope::{EnvelopeHeaders, ItemHeaders, ItemType, parse_envelope_spans};
use sextant_protocol::event::NormalizeContext;
use sextant_protocol::event::normalize_event_for_index;
use sextant_storage::{Batch, InboxRow, NewAttachment, NewEvent, NewRawItem, OutcomeDelta};

use crate::metrics::Metrics;
use crate::outcome::{DiscardReason, Outcome};

const HOUR_MS: i64 = 3_600_000;

/// What the metrics should learn once the batch is committed.
#[derive(Default)]
pub struct Notes {
    accepted: Vec<(String, u64)>,
    discarded: Vec<(DiscardReason, String, u64)>,
    received_at: Vec<i64>,
}

impl Notes {
    pub fn apply(&self, metrics: &Metrics, now_ms: i64) {
        for (item_type, n) in &self.accepted {
            metrics.accepted(item_type, *n);
        }
        for (reason, item_type, n) in &self.discarded {
            metrics.discarded(*reason, item_type, *n);
        }
        for received in &self.received_at {
            let waited = u64::try_from(now_ms - received).unwrap_or(0);
            metrics.observe(
                "sextant_processing_latency_seconds",
                Duration::from_millis(waited),
            );
        }
    }
}

struct Row<'a> {
    row: &'a InboxRow,
    envelope: &'a EnvelopeHeaders,
    batch: &'a mut Batch,
    notes: &'a mut Notes,
}

impl Row<'_> {
    fn outcome(&mut self, outcome: Outcome, category: &str, quantity: i64) {
        self.batch.outcomes.push(outcome_delta(
            self.row,
            outcome.name(),
            category,
            outcome.reason(),
            quantity,
        ));
    }

    fn accept(&mut self, item: &ItemRef<'_>) {
        self.outcome(Outcome::Accepted, item.headers.item_type.data_category(), 1);
        self.notes
            .accepted
            .push((item.headers.item_type.as_str().to_string(), 1));
    }

    fn discard(&mut self, item_type: &str, category: &str, reason: DiscardReason) {
        self.outcome(Outcome::Invalid(reason), category, 1);
        self.notes
            .discarded
            .push((reason, item_type.to_string(), 1));
    }

    fn event_id(&self) -> Option<String> {
        self.envelope.event_id.clone()
    }
}

/// One item of an inbox body, read in place.
struct ItemRef<'a> {
    headers: &'a ItemHeaders,
    payload: &'a [u8],
    /// The payload's own zstd frame from the inbox, when ingest gave it one.
    packed: Option<&'a [u8]>,
}

impl ItemRef<'_> {
    /// The payload as stored: its inbox frame, or compressed now.
    fn stored_payload(&self) -> Vec<u8> {
        match self.packed {
            Some(frame) => frame.to_vec(),
            None => super::codec::compress_payload(self.payload),
        }
    }
}

pub fn process_rows(rows: &[InboxRow]) -> (Batch, Notes) {
    let mut batch = Batch::default();
    let mut notes = Notes::default();
    for row in rows {
        notes.received_at.push(row.entry.received_at);
        // Each row is built apart and merged once complete: a bug that panics on one
        // request's content costs that request (counted), not the batch and every batch
        // after it, which would otherwise retry the same rows forever.
        let mut row_batch = Batch::default();
        let mut row_notes = Notes::default();
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            process_row(row, &mut row_batch, &mut row_notes)
        }));
        match done {
            Ok(()) => {
                merge(&mut batch, row_batch);
                notes.accepted.extend(row_notes.accepted);
                notes.discarded.extend(row_notes.discarded);
            }
            Err(_) => {
                tracing::error!(
                    inbox_id = row.id,
                    "processing an inbox row panicked; its items are discarded"
                );
                discard_row(row, DiscardReason::InternalError, &mut batch, &mut notes);
            }
        }
    }
    (batch, notes)
}

fn merge(into: &mut Batch, from: Batch) {
    into.events.extend(from.events);
    into.attachments.extend(from.attachments);
    into.raw_items.extend(from.raw_items);
    into.outcomes.extend(from.outcomes);
    into.sessions.extend(from.sessions);
}

/// One outcome row of `row`'s project, in the hour it was received. Sextant's own
/// outcomes name themselves through [`Outcome`]; an SDK's client report names its own.
fn outcome_delta(
    row: &InboxRow,
    outcome: &str,
    category: &str,
    reason: &str,
    quantity: i64,
) -> OutcomeDelta {
    let received = row.entry.received_at;
    OutcomeDelta {
        project_id: row.entry.project_id,
        bucket: received - received.rem_euclid(HOUR_MS),
        outcome: outcome.to_string(),
        category: category.to_string(),
        reason: reason.to_string(),
        quantity,
    }
}

/// Counts a whole request as invalid, for a `reason` that concerns the request itself.
fn discard_row(row: &InboxRow, reason: DiscardReason, batch: &mut Batch, notes: &mut Notes) {
    let outcome = Outcome::Invalid(reason);
    batch.outcomes.push(outcome_delta(
        row,
        outcome.name(),
        "default",
        outcome.reason(),
        1,
    ));
    notes.discarded.push((reason, "envelope".to_string(), 1));
}

fn process_row(row: &InboxRow, batch: &mut Batch, notes: &mut Notes) {
    let unpacked = match super::codec::unpack_inbox(&row.entry.body) {
        Ok(unpacked) => unpacked,
        Err(err) => {
            tracing::warn!(error = %err, "stored inbox body does not decompress");
            discard_row(row, DiscardReason::InvalidEnvelope, batch, notes);
            return;
        }
    };
    let body = &unpacked.body;
    let (envelope, items) = match parse_envelope_spans(body) {
        Ok(parsed) => parsed,
        Err(err) => {
            // Ingest framed this body before accepting it, so this means a format
            // change between versions; count it rather than fail the batch.
            tracing::warn!(error = %err, "stored envelope no longer parses");
            discard_row(row, DiscardReason::InvalidEnvelope, batch, notes);
            return;
        }
    };
    let mut ctx = Row {
        row,
        envelope: &envelope,
        batch,
        notes,
    };
    for span in &items {
        let item = ItemRef {
            headers: &span.headers,
            payload: &body[span.payload.clone()],
            packed: unpacked.frame(&span.payload),
        };
        process_item(&mut ctx, &item);
    }
}

fn process_item(ctx: &mut Row<'_>, item: &ItemRef<'_>) {
    let item_type = &item.headers.item_type;
    match item_type {
        ItemType::Event => process_event(ctx, item),
        ItemType::Attachment => process_attachment(ctx, item),
        ItemType::ClientReport => process_client_report(ctx, item),
        ItemType::Session | ItemType::Sessions => process_sessions(ctx, item),
        ItemType::Transaction
        | ItemType::Span
        | ItemType::UserReport
        | ItemType::Feedback
        | ItemType::CheckIn
        | ItemType::Log
        | ItemType::TraceMetric => keep_raw(ctx, item),
        ItemType::Statsd | ItemType::MetricBuckets | ItemType::MetricMeta => ctx.discard(
            item_type.as_str(),
            item_type.data_category(),
            DiscardReason::DeprecatedItemType,
        ),
        ItemType::Profile
        | ItemType::ProfileChunk
        | ItemType::ReplayEvent
        | ItemType::ReplayRecording
        | ItemType::ReplayVideo => ctx.discard(
            item_type.as_str(),
            item_type.data_category(),
            DiscardReason::UnsupportedItemType,
        ),
        ItemType::Security
        | ItemType::RawSecurity
        | ItemType::Nel
        | ItemType::FormData
        | ItemType::UnrealReport => ctx.discard(
            item_type.as_str(),
            item_type.data_category(),
            DiscardReason::InternalItemType,
        ),
        ItemType::Unknown(_) => ctx.discard("unknown", "default", DiscardReason::UnknownItemType),
    }
}

fn keep_raw(ctx: &mut Row<'_>, item: &ItemRef<'_>) {
    let raw = NewRawItem {
        project_id: ctx.row.entry.project_id,
        item_type: item.headers.item_type.as_str().to_string(),
        event_id: ctx.event_id(),
        received_at: ctx.row.entry.received_at,
        payload: item.stored_payload(),
    };
    ctx.batch.raw_items.push(raw);
    ctx.accept(item);
}

/// Session updates and aggregates become rollup increments (`sessions.rs`); invalid ones
/// are dropped silently, as sessions never produce client-visible errors.
fn process_sessions(ctx: &mut Row<'_>, item: &ItemRef<'_>) {
    let at = super::sessions::Arrival {
        project_id: ctx.row.entry.project_id,
        received_at: ctx.row.entry.received_at,
        sent_at: ctx.envelope.sent_at.map(|s| (s * 1000.0) as i64),
    };
    if item.headers.item_type == ItemType::Session {
        ctx.batch
            .sessions
            .extend(super::sessions::session_delta(item.payload, at));
    } else {
        ctx.batch
            .sessions
            .extend(super::sessions::aggregate_deltas(item.payload, at));
    }
    ctx.accept(item);
}

fn process_attachment(ctx: &mut Row<'_>, item: &ItemRef<'_>) {
    let Some(event_id) = ctx.event_id() else {
        ctx.discard("attachment", "attachment", DiscardReason::MissingEventId);
        return;
    };
    let attachment = NewAttachment {
        project_id: ctx.row.entry.project_id,
        event_id,
        name: item
            .headers
            .filename
            .clone()
            .unwrap_or_else(|| "attachment".to_string()),
        content_type: item
            .headers
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_string()),
        attachment_type: item
            .headers
            .attachment_type
            .clone()
            .unwrap_or_else(|| "event.attachment".to_string()),
        size: item.payload.len() as i64,
        data: item.payload.to_vec(),
    };
    ctx.batch.attachments.push(attachment);
    ctx.accept(item);
}

fn process_client_report(ctx: &mut Row<'_>, item: &ItemRef<'_>) {
    match parse_client_report(item.payload) {
        Ok(report) => {
            for discarded in report.discarded {
                let quantity = i64::try_from(discarded.quantity).unwrap_or(i64::MAX);
                ctx.batch.outcomes.push(outcome_delta(
                    ctx.row,
                    discarded.outcome,
                    &discarded.category,
                    &discarded.reason,
                    quantity,
                ));
            }
            ctx.notes.accepted.push(("client_report".to_string(), 1));
        }
        Err(_) => ctx.discard(
            "client_report",
            "internal",
            DiscardReason::InvalidClientReport,
        ),
    }
}

fn process_event(ctx: &mut Row<'_>, item: &ItemRef<'_>) {
    let entry = &ctx.row.entry;
    let normalize = NormalizeContext {
        received_at: entry.received_at as f64 / 1000.0,
        sent_at: ctx.envelope.sent_at,
        client_ip: entry.client_ip.clone(),
        user_agent: entry.user_agent.clone(),
        envelope_event_id: ctx.envelope.event_id.clone(),
    };
    // The payload is stored as sent and normalized in full when read (`stored_event`);
    // here only what the columns and grouping derive from is normalized.
    let event = match normalize_event_for_index(item.payload, &normalize) {
        Ok(event) => event,
        Err(err) => {
            tracing::debug!(error = %err, "event discarded");
            ctx.discard("event", "error", DiscardReason::InvalidEvent);
            return;
        }
    };
    match event.event_type() {
        // Transactions and feedback sent as `event` items are kept with their kind.
        "transaction" | "feedback" => keep_raw(ctx, item),
        _ => {
            // With the id resolved here, reading gives the event this same id even when
            // neither the envelope nor the payload had a valid one.
            let facts = NormalizeContext {
                envelope_event_id: Some(event.event_id().to_string()),
                ..normalize
            };
            let payload = crate::stored_event::encode(&facts, &item.stored_payload());
            let processed = ProcessedEvent::from_event(event);
            let new_event = to_new_event(entry.project_id, entry.received_at, processed, payload);
            ctx.batch.events.push(new_event);
            ctx.accept(item);
        }
    }
}

fn to_new_event(
    project_id: i64,
    received_at: i64,
    processed: ProcessedEvent,
    payload: Vec<u8>,
) -> NewEvent {
    let ProcessedEvent {
        event,
        grouping,
        metadata,
        tags,
    } = processed;
    NewEvent {
        project_id,
        event_id: event.event_id().to_string(),
        timestamp: (event.timestamp() * 1000.0) as i64,
        received_at,
        level: event.level().to_string(),
        platform: event.platform().to_string(),
        event_type: event.event_type().to_string(),
        release: event.release().map(str::to_string),
        environment: event.environment().map(str::to_string),
        title: metadata.title,
        culprit: metadata.culprit,
        message: event.message(),
        metadata: metadata.metadata,
        tags,
        user_key: event.user_key(),
        trace_id: event.trace_id().map(str::to_string),
        unhandled: event.unhandled(),
        grouping_config: grouping.config.to_string(),
        hashes: grouping.hashes,
        payload,
    }
}

#[cfg(test)]
mod tests;
