//! Writes a processed `Batch` inside the inbox transaction: events (exactly once),
//! grouping into issues, issue counters and lifecycle, tags, users, releases, and the
//! attachments, raw items and outcomes that travel with them.
//!
//! Everything is written set-wise: a batch costs a few dozen statements whatever its
//! size (multi-row `VALUES`, one update per touched issue), because the per-statement
//! overhead of the driver, not SQLite or PostgreSQL, dominates row-at-a-time writing.

mod alerting;
mod counters;
mod deferred_tags;
mod extras;
mod grouping;
mod sessions;

use std::collections::{HashMap, HashSet};

use super::exec::{Exec, Positional, Val};
use super::{Backend, ID_CHUNK, flag, placeholders, value_rows};
use crate::Result;
use crate::model::*;

/// A batch event that is new to the database, with the issue it was grouped into.
pub(super) struct Fresh<'a> {
    /// Index into `batch.events` and the results.
    index: usize,
    event: &'a NewEvent,
    issue_id: i64,
    /// The event's row id.
    row_id: i64,
}

/// When a batch's events are added to their issues' tag value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::sql) enum TagCounts {
    /// In the batch's own transaction.
    Now,
    /// Later, for many batches at once (`flush_tag_counts`); the batch only records its
    /// events as not counted yet. SQLite files and PostgreSQL.
    Deferred,
}

pub(in crate::sql) use deferred_tags::{FlushClock, flush as flush_tag_counts};

pub(in crate::sql) async fn write_batch(
    conn: &mut impl Exec,
    backend: Backend,
    batch: &Batch,
    tags: TagCounts,
    now: Millis,
) -> Result<Vec<EventWriteResult>> {
    let live = live_projects(
        conn,
        batch
            .events
            .iter()
            .map(|e| e.project_id)
            .chain(batch.attachments.iter().map(|a| a.project_id))
            .chain(batch.raw_items.iter().map(|i| i.project_id))
            .chain(batch.outcomes.iter().map(|o| o.project_id))
            .chain(batch.sessions.iter().map(|s| s.project_id)),
    )
    .await?;
    let mut results: Vec<EventWriteResult> = batch
        .events
        .iter()
        .map(|ev| EventWriteResult {
            event_id: ev.event_id.clone(),
            issue_id: None,
            duplicate: false,
            new_issue: false,
            regression: false,
        })
        .collect();

    let candidates = new_events(conn, batch, &live, &mut results).await?;
    if !candidates.is_empty() {
        let release_first_seen = grouping::note_releases(conn, &candidates).await?;
        let assigned = grouping::assign_issues(conn, backend, &candidates, &mut results).await?;
        let fresh = insert_events(conn, &candidates, &assigned, &mut results).await?;
        counters::apply(
            conn,
            backend,
            &fresh,
            &release_first_seen,
            &mut results,
            tags,
        )
        .await?;
        alerting::note(conn, &fresh, &results, now).await?;
    }
    extras::write(conn, batch, &live, now).await?;
    sessions::write(conn, &batch.sessions, &live).await?;
    Ok(results)
}

/// Which of the batch's projects still exist. Writing for a deleted project would violate
/// a foreign key and fail the whole batch forever, so such items are dropped instead.
async fn live_projects(
    conn: &mut impl Exec,
    project_ids: impl Iterator<Item = i64>,
) -> Result<HashSet<i64>> {
    let wanted: HashSet<i64> = project_ids.collect();
    if wanted.is_empty() {
        return Ok(wanted);
    }
    let wanted: Vec<i64> = wanted.into_iter().collect();
    let sql = format!(
        "SELECT id FROM projects WHERE id IN ({})",
        placeholders(1, wanted.len())
    );
    let args: Vec<Val> = wanted.iter().map(|id| Val::Int(*id)).collect();
    let live = conn
        .fetch(&sql, &args)
        .await?
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<HashSet<_>>>()?;
    for id in wanted.iter().filter(|id| !live.contains(id)) {
        tracing::warn!(
            project_id = id,
            "dropping batch items of a project that no longer exists"
        );
    }
    Ok(live)
}

/// Events of live projects whose id is neither stored already nor repeated earlier in
/// the batch; the others are marked duplicates. Returns `(index, event)` in batch order.
async fn new_events<'a>(
    conn: &mut impl Exec,
    batch: &'a Batch,
    live: &HashSet<i64>,
    results: &mut [EventWriteResult],
) -> Result<Vec<(usize, &'a NewEvent)>> {
    let mut by_project: HashMap<i64, Vec<&str>> = HashMap::new();
    for ev in batch.events.iter().filter(|e| live.contains(&e.project_id)) {
        by_project
            .entry(ev.project_id)
            .or_default()
            .push(&ev.event_id);
    }
    let mut stored: HashSet<(i64, String)> = HashSet::new();
    for (project_id, ids) in by_project {
        for chunk in ids.chunks(ID_CHUNK) {
            let sql = format!(
                "SELECT event_id FROM events WHERE project_id = $1 AND event_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut args = vec![Val::Int(project_id)];
            args.extend(chunk.iter().map(|id| Val::Text(id)));
            for row in conn.fetch(&sql, &args).await? {
                stored.insert((project_id, row.text(0)?));
            }
        }
    }
    let mut seen: HashSet<(i64, &str)> = HashSet::new();
    let mut out = Vec::new();
    for (index, ev) in batch.events.iter().enumerate() {
        if !live.contains(&ev.project_id) {
            continue;
        }
        let key = (ev.project_id, ev.event_id.as_str());
        if stored.contains(&(ev.project_id, ev.event_id.clone())) || !seen.insert(key) {
            results[index].duplicate = true;
        } else {
            out.push((index, ev));
        }
    }
    Ok(out)
}

const EVENT_COLUMNS: usize = 21;

/// Inserts the events with their issue. `ON CONFLICT DO NOTHING RETURNING` reports which
/// rows went in: a row another node stored in the meantime is a duplicate, and only
/// inserted rows are counted on their issues.
async fn insert_events<'a>(
    conn: &mut impl Exec,
    candidates: &[(usize, &'a NewEvent)],
    assigned: &HashMap<usize, i64>,
    results: &mut [EventWriteResult],
) -> Result<Vec<Fresh<'a>>> {
    let mut fresh = Vec::with_capacity(candidates.len());
    for chunk in candidates.chunks(conn.rows_per_statement(EVENT_COLUMNS)) {
        let sql = format!(
            "INSERT INTO events (project_id, event_id, issue_id, timestamp_ms, received_at, level, \
             platform, event_type, release_name, environment, title, culprit, message, metadata, \
             tags, user_key, trace_id, unhandled, grouping_config, hashes, payload) VALUES {} \
             ON CONFLICT (project_id, event_id) DO NOTHING RETURNING project_id, event_id, id",
            value_rows(1, chunk.len(), EVENT_COLUMNS)
        );
        let encoded: Vec<[String; 3]> = chunk
            .iter()
            .map(|(_, ev)| Ok([json(&ev.metadata)?, json(&ev.tags)?, json(&ev.hashes)?]))
            .collect::<Result<_>>()?;
        let mut args = Vec::with_capacity(chunk.len() * EVENT_COLUMNS);
        for ((index, ev), [metadata, tags, hashes]) in chunk.iter().zip(&encoded) {
            args.extend([
                Val::Int(ev.project_id),
                Val::Text(&ev.event_id),
                Val::Int(assigned[index]),
                Val::Int(ev.timestamp),
                Val::Int(ev.received_at),
                Val::Text(&ev.level),
                Val::Text(&ev.platform),
                Val::Text(&ev.event_type),
                Val::OptText(ev.release.as_deref()),
                Val::OptText(ev.environment.as_deref()),
                Val::Text(&ev.title),
                Val::Text(&ev.culprit),
                Val::Text(&ev.message),
                Val::Text(metadata),
                Val::Text(tags),
                Val::OptText(ev.user_key.as_deref()),
                Val::OptText(ev.trace_id.as_deref()),
                Val::Int(flag(ev.unhandled)),
                Val::Text(&ev.grouping_config),
                Val::Text(hashes),
                Val::Blob(&ev.payload),
            ]);
        }
        let mut inserted: HashMap<(i64, String), i64> = HashMap::new();
        for row in conn.fetch(&sql, &args).await? {
            inserted.insert((row.int(0)?, row.text(1)?), row.int(2)?);
        }
        for (index, ev) in chunk {
            if let Some(row_id) = inserted.get(&(ev.project_id, ev.event_id.clone())) {
                fresh.push(Fresh {
                    index: *index,
                    event: ev,
                    issue_id: assigned[index],
                    row_id: *row_id,
                });
            } else {
                results[*index].duplicate = true;
                results[*index].issue_id = None;
                results[*index].new_issue = false;
            }
        }
    }
    Ok(fresh)
}

/// JSON text of a stored field.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| crate::StoreError::Backend(e.to_string()))
}
