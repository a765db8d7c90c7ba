//! What a batch records for alerting, in its own transaction: a signal for each issue it
//! created or regressed (and, in projects whose rules need it, for every issue it
//! touched), and the per-minute counters that frequency rules read. Projects without
//! rules pay one indexed lookup per batch.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::exec::{Exec, Positional, Val};
use super::{Fresh, ID_CHUNK, flag, placeholders, value_rows};
use crate::Result;
use crate::alerts::needs;
use crate::model::*;

const MINUTE_MS: i64 = 60_000;

/// An issue touched by the batch, and the event its signal names.
struct Touch<'a> {
    project_id: i64,
    new_issue: bool,
    regression: bool,
    event: &'a NewEvent,
    /// Whether `event` created or regressed the issue (it then stays the named one).
    cause: bool,
}

pub(super) async fn note(
    conn: &mut impl Exec,
    fresh: &[Fresh<'_>],
    results: &[EventWriteResult],
    now: Millis,
) -> Result<()> {
    let projects: BTreeSet<i64> = fresh.iter().map(|f| f.event.project_id).collect();
    let needs = project_needs(conn, &projects).await?;
    let wants = |project_id: i64, bit: i64| needs.get(&project_id).is_some_and(|n| n & bit != 0);

    let mut touched: BTreeMap<i64, Touch<'_>> = BTreeMap::new();
    let mut minutes: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let mut users: BTreeSet<(i64, i64, &str)> = BTreeSet::new();
    for f in fresh {
        let ev = f.event;
        let result = &results[f.index];
        let caused = result.new_issue || result.regression;
        let touch = touched.entry(f.issue_id).or_insert(Touch {
            project_id: ev.project_id,
            new_issue: false,
            regression: false,
            event: ev,
            cause: caused,
        });
        touch.new_issue |= result.new_issue;
        touch.regression |= result.regression;
        if caused && !touch.cause {
            touch.event = ev;
            touch.cause = true;
        } else if !touch.cause && ev.received_at >= touch.event.received_at {
            touch.event = ev;
        }
        let minute = ev.received_at - ev.received_at.rem_euclid(MINUTE_MS);
        if wants(ev.project_id, needs::EVENT_COUNTS) {
            *minutes.entry((f.issue_id, minute)).or_default() += 1;
        }
        if let Some(user) = ev
            .user_key
            .as_deref()
            .filter(|_| wants(ev.project_id, needs::USER_COUNTS))
        {
            users.insert((f.issue_id, minute, user));
        }
    }

    let signals: Vec<(&i64, &Touch<'_>)> = touched
        .iter()
        .filter(|(_, t)| t.new_issue || t.regression || wants(t.project_id, needs::SIGNALS))
        .collect();
    for chunk in signals.chunks(conn.rows_per_statement(8)) {
        let sql = format!(
            "INSERT INTO alert_signals (project_id, issue_id, kind, new_issue, regression, \
             event_id, created_at, claimed_until) VALUES {}",
            value_rows(1, chunk.len(), 8)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|(issue_id, t)| {
                [
                    Val::Int(t.project_id),
                    Val::Int(**issue_id),
                    Val::Text("event"),
                    Val::Int(flag(t.new_issue)),
                    Val::Int(flag(t.regression)),
                    Val::Text(&t.event.event_id),
                    Val::Int(now),
                    Val::Int(0),
                ]
            })
            .collect();
        conn.execute(&sql, &args).await?;
    }

    let minutes: Vec<((i64, i64), i64)> = minutes.into_iter().collect();
    for chunk in minutes.chunks(conn.rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO issue_minutes (issue_id, minute, events) VALUES {} \
             ON CONFLICT (issue_id, minute) DO UPDATE SET events = issue_minutes.events + \
             excluded.events",
            value_rows(1, chunk.len(), 3)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|((issue_id, minute), n)| {
                [Val::Int(*issue_id), Val::Int(*minute), Val::Int(*n)]
            })
            .collect();
        conn.execute(&sql, &args).await?;
    }

    let users: Vec<(i64, i64, &str)> = users.into_iter().collect();
    for chunk in users.chunks(conn.rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO issue_minute_users (issue_id, minute, user_key) VALUES {} \
             ON CONFLICT DO NOTHING",
            value_rows(1, chunk.len(), 3)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|(issue_id, minute, user)| {
                [Val::Int(*issue_id), Val::Int(*minute), Val::Text(user)]
            })
            .collect();
        conn.execute(&sql, &args).await?;
    }
    Ok(())
}

/// What the active rules of each project need recorded (bits of [`needs`], or-ed).
async fn project_needs(
    conn: &mut impl Exec,
    projects: &BTreeSet<i64>,
) -> Result<HashMap<i64, i64>> {
    let ids: Vec<i64> = projects.iter().copied().collect();
    let mut out: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT project_id, needs FROM alert_rules WHERE status = 'active' AND project_id \
             IN ({})",
            placeholders(1, chunk.len())
        );
        let args: Vec<Val> = chunk.iter().map(|id| Val::Int(*id)).collect();
        for row in conn.fetch(&sql, &args).await? {
            *out.entry(row.int(0)?).or_default() |= row.int(1)?;
        }
    }
    Ok(out)
}
