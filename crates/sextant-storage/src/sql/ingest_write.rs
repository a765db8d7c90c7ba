//! Writes a processed `Batch` inside the inbox transaction: events (exactly once),
//! grouping into issues, issue counters and lifecycle, tags, users, releases, and the
//! attachments, raw items and outcomes that travel with them.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Backend, flag, now_ms, placeholders};
use crate::model::*;
use crate::{Result, StoreError};

pub(super) async fn write_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &Batch,
) -> Result<Vec<EventWriteResult>> {
    let live = live_projects(conn, batch).await?;

    let mut results = Vec::with_capacity(batch.events.len());
    for event in &batch.events {
        if live.contains(&event.project_id) {
            results.push(write_event(conn, backend, event).await?);
        } else {
            results.push(EventWriteResult {
                event_id: event.event_id.clone(),
                issue_id: None,
                duplicate: false,
                new_issue: false,
                regression: false,
            });
        }
    }

    for a in batch
        .attachments
        .iter()
        .filter(|a| live.contains(&a.project_id))
    {
        sqlx::query(
            "INSERT INTO attachments (project_id, event_id, name, content_type, attachment_type, \
             size, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.project_id)
        .bind(a.event_id.as_str())
        .bind(a.name.as_str())
        .bind(a.content_type.as_str())
        .bind(a.attachment_type.as_str())
        .bind(a.size)
        .bind(a.data.as_slice())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    }

    for item in batch
        .raw_items
        .iter()
        .filter(|i| live.contains(&i.project_id))
    {
        sqlx::query(
            "INSERT INTO raw_items (project_id, item_type, event_id, received_at, payload) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(item.project_id)
        .bind(item.item_type.as_str())
        .bind(item.event_id.as_deref())
        .bind(item.received_at)
        .bind(item.payload.as_slice())
        .execute(&mut *conn)
        .await?;
    }

    for o in batch
        .outcomes
        .iter()
        .filter(|o| live.contains(&o.project_id))
    {
        sqlx::query(
            "INSERT INTO outcomes (project_id, bucket, outcome, category, reason, quantity) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_id, bucket, outcome, category, reason) \
             DO UPDATE SET quantity = outcomes.quantity + excluded.quantity",
        )
        .bind(o.project_id)
        .bind(o.bucket)
        .bind(o.outcome.as_str())
        .bind(o.category.as_str())
        .bind(o.reason.as_str())
        .bind(o.quantity)
        .execute(&mut *conn)
        .await?;
    }

    Ok(results)
}

/// The batch's projects that still exist. Writing for a deleted project would violate a
/// foreign key and fail the whole batch forever, so such items are dropped instead.
async fn live_projects(conn: &mut AnyConnection, batch: &Batch) -> Result<HashSet<i64>> {
    let wanted: HashSet<i64> = batch
        .events
        .iter()
        .map(|e| e.project_id)
        .chain(batch.attachments.iter().map(|a| a.project_id))
        .chain(batch.raw_items.iter().map(|i| i.project_id))
        .chain(batch.outcomes.iter().map(|o| o.project_id))
        .collect();
    if wanted.is_empty() {
        return Ok(wanted);
    }
    let wanted: Vec<i64> = wanted.into_iter().collect();
    let sql = format!(
        "SELECT id FROM projects WHERE id IN ({})",
        placeholders(1, wanted.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for id in &wanted {
        q = q.bind(*id);
    }
    let found = q.fetch_all(&mut *conn).await?;
    let live = found
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<HashSet<_>, _>>()?;
    for id in wanted.iter().filter(|id| !live.contains(id)) {
        tracing::warn!(
            project_id = id,
            "dropping batch items of a project that no longer exists"
        );
    }
    Ok(live)
}

async fn write_event(
    conn: &mut AnyConnection,
    backend: Backend,
    ev: &NewEvent,
) -> Result<EventWriteResult> {
    let mut result = EventWriteResult {
        event_id: ev.event_id.clone(),
        issue_id: None,
        duplicate: false,
        new_issue: false,
        regression: false,
    };

    // The unique (project_id, event_id) constraint is what makes a replayed batch
    // harmless: a second copy inserts nothing and changes nothing else.
    let Some(row_id) = insert_event(conn, ev).await? else {
        result.duplicate = true;
        return Ok(result);
    };

    let release_first_seen = match &ev.release {
        Some(release) => note_release(conn, ev.project_id, release, ev.received_at).await?,
        None => None,
    };

    let (issue_id, new_issue) = match find_issue(conn, ev).await? {
        Some(id) => {
            claim_hashes(conn, ev, id).await?;
            (id, false)
        }
        None => create_issue(conn, ev).await?,
    };
    result.issue_id = Some(issue_id);
    result.new_issue = new_issue;

    if !new_issue {
        result.regression =
            check_regression(conn, backend, issue_id, ev, release_first_seen).await?;
    }

    let new_user = match &ev.user_key {
        Some(user) => sqlx::query(
            "INSERT INTO issue_users (issue_id, user_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(issue_id)
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()
            > 0,
        None => false,
    };

    bump_issue(conn, issue_id, ev, new_user).await?;
    count_tags(conn, issue_id, ev).await?;

    sqlx::query("UPDATE events SET issue_id = $1 WHERE id = $2")
        .bind(issue_id)
        .bind(row_id)
        .execute(&mut *conn)
        .await?;
    Ok(result)
}

/// Inserts the event without an issue; `None` when the event id is already stored.
async fn insert_event(conn: &mut AnyConnection, ev: &NewEvent) -> Result<Option<i64>> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| StoreError::Backend(e.to_string()));
    let tags = json(serde_json::to_string(&ev.tags))?;
    let metadata = json(serde_json::to_string(&ev.metadata))?;
    let hashes = json(serde_json::to_string(&ev.hashes))?;
    let row = sqlx::query(
        "INSERT INTO events (project_id, event_id, timestamp_ms, received_at, level, platform, \
         event_type, release_name, environment, title, culprit, message, metadata, tags, \
         user_key, trace_id, unhandled, grouping_config, hashes, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20) \
         ON CONFLICT (project_id, event_id) DO NOTHING RETURNING id",
    )
    .bind(ev.project_id)
    .bind(ev.event_id.as_str())
    .bind(ev.timestamp)
    .bind(ev.received_at)
    .bind(ev.level.as_str())
    .bind(ev.platform.as_str())
    .bind(ev.event_type.as_str())
    .bind(ev.release.as_deref())
    .bind(ev.environment.as_deref())
    .bind(ev.title.as_str())
    .bind(ev.culprit.as_str())
    .bind(ev.message.as_str())
    .bind(metadata)
    .bind(tags)
    .bind(ev.user_key.as_deref())
    .bind(ev.trace_id.as_deref())
    .bind(flag(ev.unhandled))
    .bind(ev.grouping_config.as_str())
    .bind(hashes)
    .bind(ev.payload.as_slice())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// Records the release and returns when it was first seen *before* this event, so a
/// release that appears for the first time counts as newer than any resolution.
async fn note_release(
    conn: &mut AnyConnection,
    project_id: i64,
    release: &str,
    at: Millis,
) -> Result<Option<Millis>> {
    let known =
        sqlx::query("SELECT first_seen FROM releases WHERE project_id = $1 AND version = $2")
            .bind(project_id)
            .bind(release)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(row) = known {
        return Ok(Some(row.try_get("first_seen")?));
    }
    sqlx::query(
        "INSERT INTO releases (project_id, version, first_seen) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, version) DO NOTHING",
    )
    .bind(project_id)
    .bind(release)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(None)
}

/// Current owners of the event's hashes.
async fn hash_owners(conn: &mut AnyConnection, ev: &NewEvent) -> Result<HashMap<String, i64>> {
    if ev.hashes.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT hash, issue_id FROM group_hashes WHERE project_id = $1 AND hash IN ({})",
        placeholders(2, ev.hashes.len())
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(ev.project_id);
    for h in &ev.hashes {
        q = q.bind(h.as_str());
    }
    let found = q.fetch_all(&mut *conn).await?;
    found
        .iter()
        .map(|r| Ok((r.try_get("hash")?, r.try_get("issue_id")?)))
        .collect()
}

/// The issue owning the first of the event's hashes (in the event's order) that has one.
async fn find_issue(conn: &mut AnyConnection, ev: &NewEvent) -> Result<Option<i64>> {
    let owners = hash_owners(conn, ev).await?;
    Ok(ev.hashes.iter().find_map(|h| owners.get(h).copied()))
}

/// Points the event's still-unowned hashes at `issue_id`. Hashes owned by another issue
/// stay where they are: the first owner keeps a hash.
async fn claim_hashes(conn: &mut AnyConnection, ev: &NewEvent, issue_id: i64) -> Result<()> {
    for h in &ev.hashes {
        sqlx::query(
            "INSERT INTO group_hashes (project_id, hash, issue_id) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, hash) DO NOTHING",
        )
        .bind(ev.project_id)
        .bind(h.as_str())
        .bind(issue_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Creates an issue for an event whose hashes are all unknown. Counters start at zero;
/// `bump_issue` then counts the event like any other. Returns `(issue, is_new)`.
async fn create_issue(conn: &mut AnyConnection, ev: &NewEvent) -> Result<(i64, bool)> {
    let metadata =
        serde_json::to_string(&ev.metadata).map_err(|e| StoreError::Backend(e.to_string()))?;
    let row = sqlx::query(
        "INSERT INTO issues (project_id, title, culprit, message, level, event_type, metadata, \
         status, first_seen, last_seen, first_release, last_release, times_seen, user_count, \
         unhandled, is_regression, grouping_config, primary_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'unresolved', $8, $8, $9, $9, 0, 0, $10, 0, $11, $12) \
         RETURNING id",
    )
    .bind(ev.project_id)
    .bind(ev.title.as_str())
    .bind(ev.culprit.as_str())
    .bind(ev.message.as_str())
    .bind(ev.level.as_str())
    .bind(ev.event_type.as_str())
    .bind(metadata)
    .bind(ev.timestamp)
    .bind(ev.release.as_deref())
    .bind(flag(ev.unhandled))
    .bind(ev.grouping_config.as_str())
    .bind(ev.hashes.first().map(String::as_str).unwrap_or_default())
    .fetch_one(&mut *conn)
    .await?;
    let created: i64 = row.try_get("id")?;
    claim_hashes(conn, ev, created).await?;

    // Another PostgreSQL node may have created an issue for one of these hashes since we
    // looked. If so, its issue wins: move our hashes over and drop the empty new issue.
    let owners = hash_owners(conn, ev).await?;
    let winner = ev
        .hashes
        .iter()
        .filter_map(|h| owners.get(h).copied())
        .find(|&id| id != created);
    let Some(winner) = winner else {
        return Ok((created, true));
    };
    sqlx::query("UPDATE group_hashes SET issue_id = $1 WHERE issue_id = $2")
        .bind(winner)
        .bind(created)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM issues WHERE id = $1")
        .bind(created)
        .execute(&mut *conn)
        .await?;
    Ok((winner, false))
}

/// Applies the lifecycle rules to an existing issue; `true` when the event reopened it.
async fn check_regression(
    conn: &mut AnyConnection,
    backend: Backend,
    issue_id: i64,
    ev: &NewEvent,
    release_first_seen: Option<Millis>,
) -> Result<bool> {
    // Lock the row on PostgreSQL so a concurrent status change cannot interleave.
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT status, resolved_at, resolved_in_release FROM issues WHERE id = $1"
        }
        Backend::Postgres => {
            "SELECT status, resolved_at, resolved_in_release FROM issues WHERE id = $1 FOR UPDATE"
        }
    };
    let row = sqlx::query(sql)
        .bind(issue_id)
        .fetch_one(&mut *conn)
        .await?;
    let status: String = row.try_get("status")?;
    let resolved_at: Option<i64> = row.try_get("resolved_at")?;
    let resolved_in: Option<String> = row.try_get("resolved_in_release")?;

    let reopen = match IssueStatus::parse(&status) {
        Some(IssueStatus::Resolved) => true,
        Some(IssueStatus::ResolvedInNextRelease) => match &ev.release {
            // Only a release other than the resolving one, first seen after the
            // resolution, counts as "next". Never-seen releases are new by definition.
            Some(release) => {
                resolved_in.as_deref() != Some(release.as_str())
                    && match (release_first_seen, resolved_at) {
                        (None, _) => true,
                        (Some(first), Some(at)) => first > at,
                        (Some(_), None) => false,
                    }
            }
            None => false,
        },
        _ => false,
    };
    if reopen {
        sqlx::query(
            "UPDATE issues SET status = 'unresolved', is_regression = 1, regressed_in_release = $2, \
             regressed_at = $3, resolved_at = NULL, resolved_in_release = NULL WHERE id = $1",
        )
        .bind(issue_id)
        .bind(ev.release.as_deref())
        .bind(ev.received_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(reopen)
}

/// Counts the event on its issue. Title, culprit, message, metadata, level and last
/// release follow the newest event (by timestamp), as Sentry does; seen times widen.
/// All right-hand sides read the row's old values on both backends.
async fn bump_issue(
    conn: &mut AnyConnection,
    issue_id: i64,
    ev: &NewEvent,
    new_user: bool,
) -> Result<()> {
    let metadata =
        serde_json::to_string(&ev.metadata).map_err(|e| StoreError::Backend(e.to_string()))?;
    sqlx::query(
        "UPDATE issues SET \
           times_seen = times_seen + 1, \
           user_count = user_count + $2, \
           unhandled = CASE WHEN $3 = 1 THEN 1 ELSE unhandled END, \
           title = CASE WHEN $4 >= last_seen THEN $5 ELSE title END, \
           culprit = CASE WHEN $4 >= last_seen THEN $6 ELSE culprit END, \
           message = CASE WHEN $4 >= last_seen THEN $7 ELSE message END, \
           metadata = CASE WHEN $4 >= last_seen THEN $8 ELSE metadata END, \
           level = CASE WHEN $4 >= last_seen THEN $9 ELSE level END, \
           last_release = CASE WHEN $4 >= last_seen AND $10 IS NOT NULL THEN $10 ELSE last_release END, \
           first_release = CASE WHEN $4 < first_seen AND $10 IS NOT NULL THEN $10 \
                                ELSE COALESCE(first_release, $10) END, \
           last_seen = CASE WHEN $4 > last_seen THEN $4 ELSE last_seen END, \
           first_seen = CASE WHEN $4 < first_seen THEN $4 ELSE first_seen END \
         WHERE id = $1",
    )
    .bind(issue_id)
    .bind(flag(new_user))
    .bind(flag(ev.unhandled))
    .bind(ev.timestamp)
    .bind(ev.title.as_str())
    .bind(ev.culprit.as_str())
    .bind(ev.message.as_str())
    .bind(metadata)
    .bind(ev.level.as_str())
    .bind(ev.release.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One count per distinct (key, value) of the event.
async fn count_tags(conn: &mut AnyConnection, issue_id: i64, ev: &NewEvent) -> Result<()> {
    let mut seen = HashSet::new();
    for (key, value) in ev.tags.iter().filter(|t| seen.insert(*t)) {
        sqlx::query(
            "INSERT INTO issue_tags (issue_id, tag_key, tag_value, times_seen, first_seen, last_seen) \
             VALUES ($1, $2, $3, 1, $4, $4) \
             ON CONFLICT (issue_id, tag_key, tag_value) DO UPDATE SET \
               times_seen = issue_tags.times_seen + 1, \
               first_seen = CASE WHEN excluded.first_seen < issue_tags.first_seen \
                                 THEN excluded.first_seen ELSE issue_tags.first_seen END, \
               last_seen = CASE WHEN excluded.last_seen > issue_tags.last_seen \
                                THEN excluded.last_seen ELSE issue_tags.last_seen END",
        )
        .bind(issue_id)
        .bind(key.as_str())
        .bind(value.as_str())
        .bind(ev.timestamp)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
