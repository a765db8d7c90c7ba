//! What new events do to their issues: lifecycle (regressions), distinct users, counters
//! and "latest event" fields, and per-tag value counts. Multi-row statements throughout,
//! counters included (`UPDATE … FROM (VALUES …)`).
//!
//! Each processed event upserts about two dozen per-issue counter rows (tag values,
//! distinct users), most of a batch write's work. On SQLite `issue_tags` and `issue_users`
//! are `WITHOUT ROWID` tables, so each row lives in one B-tree, and they have no index that
//! no query reads (tag search is a correlated `EXISTS` on the issue's id, which the primary
//! key answers); PostgreSQL keeps its `(tag_key, tag_value, issue_id)` index.

use std::collections::{BTreeMap, HashMap};

use super::super::exec::{Exec, Positional, Val};
use super::{Backend, Fresh, ID_CHUNK, TagCounts, flag, json, placeholders, value_rows};
use crate::Result;
use crate::model::*;

pub(super) async fn apply(
    conn: &mut impl Exec,
    backend: Backend,
    fresh: &[Fresh<'_>],
    release_first_seen: &HashMap<(i64, String), Option<Millis>>,
    results: &mut [EventWriteResult],
    tags: TagCounts,
) -> Result<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    reopen_regressions(conn, backend, fresh, release_first_seen, results).await?;
    let new_users = count_users(conn, fresh).await?;
    bump_issues(conn, fresh, &new_users).await?;
    match tags {
        TagCounts::Now => {
            let counts = tally(fresh.iter().map(|f| {
                let tags = f.event.tags.iter();
                (
                    f.issue_id,
                    f.event.timestamp,
                    tags.map(|(k, v)| (k.as_str(), v.as_str())),
                )
            }));
            write_tag_counts(conn, counts).await
        }
        TagCounts::Deferred => {
            super::deferred_tags::mark(conn, backend, fresh.iter().map(|f| f.row_id)).await
        }
    }
}

struct Lifecycle {
    status: Option<IssueStatus>,
    resolved_at: Option<Millis>,
    resolved_in: Option<String>,
}

/// Applies the lifecycle rules in batch order: a resolved issue that gets an event is
/// reopened and flagged a regression; one resolved in the next release only by an event
/// of a release other than the resolving one, first seen after the resolution.
async fn reopen_regressions(
    conn: &mut impl Exec,
    backend: Backend,
    fresh: &[Fresh<'_>],
    release_first_seen: &HashMap<(i64, String), Option<Millis>>,
    results: &mut [EventWriteResult],
) -> Result<()> {
    let mut ids: Vec<i64> = fresh
        .iter()
        .filter(|f| !results[f.index].new_issue)
        .map(|f| f.issue_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut issues: HashMap<i64, Lifecycle> = HashMap::new();
    for chunk in ids.chunks(ID_CHUNK) {
        // Row locks on PostgreSQL so a concurrent status change cannot interleave; the
        // ids are sorted so two nodes lock in the same order.
        let lock = if backend == Backend::Postgres {
            " ORDER BY id FOR UPDATE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, status, resolved_at, resolved_in_release FROM issues WHERE id IN ({}){lock}",
            placeholders(1, chunk.len())
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        for row in conn.fetch(&sql, &args).await? {
            issues.insert(
                row.int(0)?,
                Lifecycle {
                    status: IssueStatus::parse(&row.text(1)?),
                    resolved_at: row.opt_int(2)?,
                    resolved_in: row.opt_text(3)?,
                },
            );
        }
    }

    for f in fresh {
        let Some(issue) = issues.get_mut(&f.issue_id) else {
            continue;
        };
        let ev = f.event;
        let reopen = match issue.status {
            Some(IssueStatus::Resolved) => true,
            Some(IssueStatus::ResolvedInNextRelease) => match &ev.release {
                Some(release) => {
                    let first_seen = release_first_seen
                        .get(&(ev.project_id, release.clone()))
                        .copied()
                        .flatten();
                    issue.resolved_in.as_deref() != Some(release.as_str())
                        && match (first_seen, issue.resolved_at) {
                            // Never seen before this batch: newer than any resolution.
                            (None, _) => true,
                            (Some(first), Some(at)) => first > at,
                            (Some(_), None) => false,
                        }
                }
                None => false,
            },
            _ => false,
        };
        if !reopen {
            continue;
        }
        issue.status = Some(IssueStatus::Unresolved);
        results[f.index].regression = true;
        conn.execute(
            "UPDATE issues SET status = 'unresolved', is_regression = 1, regressed_in_release = $2, \
             regressed_at = $3, resolved_at = NULL, resolved_in_release = NULL WHERE id = $1",
            &[
                Val::Int(f.issue_id),
                Val::OptText(ev.release.as_deref()),
                Val::Int(ev.received_at),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Records (issue, user) pairs; returns how many were new per issue.
async fn count_users(conn: &mut impl Exec, fresh: &[Fresh<'_>]) -> Result<HashMap<i64, i64>> {
    let mut pairs: Vec<(i64, &str)> = fresh
        .iter()
        .filter_map(|f| f.event.user_key.as_deref().map(|u| (f.issue_id, u)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut new_users: HashMap<i64, i64> = HashMap::new();
    for chunk in pairs.chunks(conn.rows_per_statement(2)) {
        let sql = format!(
            "INSERT INTO issue_users (issue_id, user_key) VALUES {} ON CONFLICT DO NOTHING \
             RETURNING issue_id",
            value_rows(1, chunk.len(), 2)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|(issue_id, user)| [Val::Int(*issue_id), Val::Text(user)])
            .collect();
        for row in conn.fetch(&sql, &args).await? {
            *new_users.entry(row.int(0)?).or_default() += 1;
        }
    }
    Ok(new_users)
}

/// The batch's contribution to one issue.
struct IssueDelta<'a> {
    events: i64,
    unhandled: bool,
    /// Newest event (by timestamp; the later one in the batch on ties).
    newest: &'a NewEvent,
    oldest: &'a NewEvent,
    /// First release named by an event of the batch, in batch order.
    any_release: Option<&'a str>,
}

/// Counts the events on their issues. Title, culprit, message, metadata, level and last
/// release follow the newest event, as Sentry does; seen times widen. All right-hand
/// sides read the row's old values on both backends.
async fn bump_issues(
    conn: &mut impl Exec,
    fresh: &[Fresh<'_>],
    new_users: &HashMap<i64, i64>,
) -> Result<()> {
    let mut deltas: BTreeMap<i64, IssueDelta<'_>> = BTreeMap::new();
    for f in fresh {
        let ev = f.event;
        let delta = deltas.entry(f.issue_id).or_insert(IssueDelta {
            events: 0,
            unhandled: false,
            newest: ev,
            oldest: ev,
            any_release: None,
        });
        delta.events += 1;
        delta.unhandled |= ev.unhandled;
        if ev.timestamp >= delta.newest.timestamp {
            delta.newest = ev;
        }
        if ev.timestamp < delta.oldest.timestamp {
            delta.oldest = ev;
        }
        if delta.any_release.is_none() {
            delta.any_release = ev.release.as_deref();
        }
    }
    // One statement per chunk of issues: `UPDATE … FROM (VALUES …)`, whose columns are
    // `column1…` on both backends. The casts type the parameters for PostgreSQL.
    const COLS: usize = 14;
    let rows: Vec<(i64, IssueDelta<'_>, String)> = deltas
        .into_iter()
        .map(|(id, d)| Ok((id, json(&d.newest.metadata)?, d)))
        .map(|r: Result<(i64, String, IssueDelta<'_>)>| r.map(|(id, m, d)| (id, d, m)))
        .collect::<Result<_>>()?;
    for chunk in rows.chunks(conn.rows_per_statement(COLS)) {
        let mut values = String::new();
        let mut args = Vec::with_capacity(chunk.len() * COLS);
        for (issue_id, d, metadata) in chunk {
            let n = args.len();
            if n > 0 {
                values.push_str(", ");
            }
            values.push_str(&format!(
                "(CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS BIGINT), \
                 CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS TEXT), \
                 CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS TEXT), \
                 CAST(${} AS TEXT), CAST(${} AS BIGINT), CAST(${} AS TEXT), CAST(${} AS TEXT))",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7,
                n + 8,
                n + 9,
                n + 10,
                n + 11,
                n + 12,
                n + 13,
                n + 14
            ));
            let newest = d.newest;
            args.extend([
                Val::Int(*issue_id),
                Val::Int(d.events),
                Val::Int(new_users.get(issue_id).copied().unwrap_or(0)),
                Val::Int(flag(d.unhandled)),
                Val::Int(newest.timestamp),
                Val::Text(&newest.title),
                Val::Text(&newest.culprit),
                Val::Text(&newest.message),
                Val::Text(metadata),
                Val::Text(&newest.level),
                Val::OptText(newest.release.as_deref()),
                Val::Int(d.oldest.timestamp),
                Val::OptText(d.oldest.release.as_deref()),
                Val::OptText(d.any_release),
            ]);
        }
        // column1 id, 2 events, 3 new users, 4 unhandled, 5 newest timestamp, 6 title,
        // 7 culprit, 8 message, 9 metadata, 10 level, 11 newest release, 12 oldest
        // timestamp, 13 oldest release, 14 first release named in the batch.
        let sql = format!(
            "UPDATE issues SET \
               times_seen = times_seen + v.column2, \
               user_count = user_count + v.column3, \
               unhandled = CASE WHEN v.column4 = 1 THEN 1 ELSE unhandled END, \
               title = CASE WHEN v.column5 >= last_seen THEN v.column6 ELSE title END, \
               culprit = CASE WHEN v.column5 >= last_seen THEN v.column7 ELSE culprit END, \
               message = CASE WHEN v.column5 >= last_seen THEN v.column8 ELSE message END, \
               metadata = CASE WHEN v.column5 >= last_seen THEN v.column9 ELSE metadata END, \
               level = CASE WHEN v.column5 >= last_seen THEN v.column10 ELSE level END, \
               last_release = CASE WHEN v.column5 >= last_seen AND v.column11 IS NOT NULL \
                                   THEN v.column11 ELSE last_release END, \
               first_release = CASE WHEN v.column12 < first_seen AND v.column13 IS NOT NULL \
                                    THEN v.column13 ELSE COALESCE(first_release, v.column14) END, \
               last_seen = CASE WHEN v.column5 > last_seen THEN v.column5 ELSE last_seen END, \
               first_seen = CASE WHEN v.column12 < first_seen THEN v.column12 ELSE first_seen END \
             FROM (VALUES {values}) AS v WHERE issues.id = v.column1"
        );
        conn.execute(&sql, &args).await?;
    }
    Ok(())
}

pub(super) struct TagCount {
    times: i64,
    first: Millis,
    last: Millis,
    /// Index of the last event counted.
    counted_by: usize,
}

/// Sorted keys keep the upserts in one order, so PostgreSQL nodes can't deadlock here.
pub(super) type TagTally<'a> = BTreeMap<(i64, &'a str, &'a str), TagCount>;

/// One count per distinct (key, value) of each event, summed per issue. Events come as
/// (issue id, timestamp, tags). Each entry remembers the last event that counted it, so
/// a pair an event names twice counts once without a set per event.
pub(super) fn tally<'a, Tags: IntoIterator<Item = (&'a str, &'a str)>>(
    events: impl Iterator<Item = (i64, Millis, Tags)>,
) -> TagTally<'a> {
    let mut counts = TagTally::new();
    for (event, (issue_id, ts, tags)) in events.enumerate() {
        for (key, value) in tags {
            let entry = counts.entry((issue_id, key, value)).or_insert(TagCount {
                times: 0,
                first: ts,
                last: ts,
                counted_by: usize::MAX,
            });
            if entry.counted_by == event {
                continue;
            }
            entry.counted_by = event;
            entry.times += 1;
            entry.first = entry.first.min(ts);
            entry.last = entry.last.max(ts);
        }
    }
    counts
}

/// Adds the counts to the issues' tag value rows.
pub(super) async fn write_tag_counts(conn: &mut impl Exec, counts: TagTally<'_>) -> Result<()> {
    let rows: Vec<_> = counts.into_iter().collect();
    for chunk in rows.chunks(conn.rows_per_statement(6)) {
        let sql = format!(
            "INSERT INTO issue_tags (issue_id, tag_key, tag_value, times_seen, first_seen, last_seen) \
             VALUES {} \
             ON CONFLICT (issue_id, tag_key, tag_value) DO UPDATE SET \
               times_seen = issue_tags.times_seen + excluded.times_seen, \
               first_seen = CASE WHEN excluded.first_seen < issue_tags.first_seen \
                                 THEN excluded.first_seen ELSE issue_tags.first_seen END, \
               last_seen = CASE WHEN excluded.last_seen > issue_tags.last_seen \
                                THEN excluded.last_seen ELSE issue_tags.last_seen END",
            value_rows(1, chunk.len(), 6)
        );
        let mut args = Vec::with_capacity(chunk.len() * 6);
        for ((issue_id, key, value), count) in chunk {
            args.extend([
                Val::Int(*issue_id),
                Val::Text(key),
                Val::Text(value),
                Val::Int(count.times),
                Val::Int(count.first),
                Val::Int(count.last),
            ]);
        }
        conn.execute(&sql, &args).await?;
    }
    Ok(())
}
