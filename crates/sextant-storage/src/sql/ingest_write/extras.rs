//! The rest of a batch: attachments, raw items and outcome counters, written set-wise.

use std::collections::{BTreeMap, HashSet};

use super::super::exec::{Exec, Val};
use super::value_rows;
use crate::Result;
use crate::model::*;

/// Blob-carrying rows per statement: bounded by bytes as much as by parameters.
const BLOB_ROWS: usize = 64;

pub(super) async fn write(
    conn: &mut impl Exec,
    batch: &Batch,
    live: &HashSet<i64>,
    now: Millis,
) -> Result<()> {
    let attachments: Vec<&NewAttachment> = batch
        .attachments
        .iter()
        .filter(|a| live.contains(&a.project_id))
        .collect();
    for chunk in attachments.chunks(BLOB_ROWS.min(conn.rows_per_statement(8))) {
        let sql = format!(
            "INSERT INTO attachments (project_id, event_id, name, content_type, attachment_type, \
             size, data, created_at) VALUES {}",
            value_rows(1, chunk.len(), 8)
        );
        let mut args = Vec::with_capacity(chunk.len() * 8);
        for a in chunk {
            args.extend([
                Val::Int(a.project_id),
                Val::Text(&a.event_id),
                Val::Text(&a.name),
                Val::Text(&a.content_type),
                Val::Text(&a.attachment_type),
                Val::Int(a.size),
                Val::Blob(&a.data),
                Val::Int(now),
            ]);
        }
        conn.execute(&sql, &args).await?;
    }

    let raw: Vec<&NewRawItem> = batch
        .raw_items
        .iter()
        .filter(|i| live.contains(&i.project_id))
        .collect();
    for chunk in raw.chunks(BLOB_ROWS.min(conn.rows_per_statement(5))) {
        let sql = format!(
            "INSERT INTO raw_items (project_id, item_type, event_id, received_at, payload) VALUES {}",
            value_rows(1, chunk.len(), 5)
        );
        let mut args = Vec::with_capacity(chunk.len() * 5);
        for item in chunk {
            args.extend([
                Val::Int(item.project_id),
                Val::Text(&item.item_type),
                Val::OptText(item.event_id.as_deref()),
                Val::Int(item.received_at),
                Val::Blob(&item.payload),
            ]);
        }
        conn.execute(&sql, &args).await?;
    }

    // Summed first: one upsert may not touch the same row twice (PostgreSQL refuses).
    let mut outcomes: BTreeMap<(i64, Millis, &str, &str, &str), i64> = BTreeMap::new();
    for o in batch
        .outcomes
        .iter()
        .filter(|o| live.contains(&o.project_id))
    {
        *outcomes
            .entry((
                o.project_id,
                o.bucket,
                o.outcome.as_str(),
                o.category.as_str(),
                o.reason.as_str(),
            ))
            .or_default() += o.quantity;
    }
    let outcomes: Vec<_> = outcomes.into_iter().collect();
    for chunk in outcomes.chunks(conn.rows_per_statement(6)) {
        let sql = format!(
            "INSERT INTO outcomes (project_id, bucket, outcome, category, reason, quantity) VALUES {} \
             ON CONFLICT (project_id, bucket, outcome, category, reason) \
             DO UPDATE SET quantity = outcomes.quantity + excluded.quantity",
            value_rows(1, chunk.len(), 6)
        );
        let mut args = Vec::with_capacity(chunk.len() * 6);
        for ((project_id, bucket, outcome, category, reason), quantity) in chunk {
            args.extend([
                Val::Int(*project_id),
                Val::Int(*bucket),
                Val::Text(outcome),
                Val::Text(category),
                Val::Text(reason),
                Val::Int(*quantity),
            ]);
        }
        conn.execute(&sql, &args).await?;
    }
    Ok(())
}
