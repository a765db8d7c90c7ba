//! Grouping a batch into issues: releases first seen, hash lookups, new issues, and the
//! merge that settles two PostgreSQL nodes creating an issue for the same hash.

use std::collections::{BTreeMap, HashMap};

use super::super::exec::{Exec, Positional, Val};
use super::{Backend, ID_CHUNK, flag, json, placeholders, value_rows};
use crate::Result;
use crate::model::*;

/// When each release of the batch was first seen *before* this batch (`None`: it is new
/// now), keyed by (project, version). New releases are recorded as a side effect.
pub(super) async fn note_releases(
    conn: &mut impl Exec,
    candidates: &[(usize, &NewEvent)],
) -> Result<HashMap<(i64, String), Option<Millis>>> {
    // First arrival of each release in the batch, in a stable order.
    let mut wanted: BTreeMap<(i64, String), Millis> = BTreeMap::new();
    for (_, ev) in candidates {
        if let Some(release) = &ev.release {
            let at = wanted
                .entry((ev.project_id, release.clone()))
                .or_insert(ev.received_at);
            *at = (*at).min(ev.received_at);
        }
    }
    let mut known: HashMap<(i64, String), Option<Millis>> = HashMap::new();
    let keys: Vec<&(i64, String)> = wanted.keys().collect();
    for chunk in keys.chunks(ID_CHUNK / 2) {
        let sql = format!(
            "SELECT project_id, version, first_seen FROM releases WHERE (project_id, version) IN \
             (VALUES {})",
            value_rows(1, chunk.len(), 2)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|(project_id, version)| [Val::Int(*project_id), Val::Text(version)])
            .collect();
        for row in conn.fetch(&sql, &args).await? {
            known.insert((row.int(0)?, row.text(1)?), Some(row.int(2)?));
        }
    }
    let new: Vec<(&(i64, String), &Millis)> = wanted
        .iter()
        .filter(|(k, _)| !known.contains_key(*k))
        .collect();
    for chunk in new.chunks(conn.rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO releases (project_id, version, first_seen) VALUES {} \
             ON CONFLICT (project_id, version) DO NOTHING",
            value_rows(1, chunk.len(), 3)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|((project_id, version), at)| {
                [Val::Int(*project_id), Val::Text(version), Val::Int(**at)]
            })
            .collect();
        conn.execute(&sql, &args).await?;
    }
    for (key, _) in new {
        known.insert(key.clone(), None);
    }
    Ok(known)
}

/// Current owners of the given hashes, keyed by (project, hash).
async fn hash_owners(
    conn: &mut impl Exec,
    hashes: &[(i64, &str)],
) -> Result<HashMap<(i64, String), i64>> {
    let mut by_project: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (project_id, hash) in hashes {
        by_project.entry(*project_id).or_default().push(hash);
    }
    let mut owners = HashMap::new();
    for (project_id, hashes) in by_project {
        for chunk in hashes.chunks(ID_CHUNK) {
            let sql = format!(
                "SELECT hash, issue_id FROM group_hashes WHERE project_id = $1 AND hash IN ({})",
                placeholders(2, chunk.len())
            );
            let mut args = vec![Val::Int(project_id)];
            args.extend(chunk.iter().map(|hash| Val::Text(hash)));
            for row in conn.fetch(&sql, &args).await? {
                owners.insert((project_id, row.text(0)?), row.int(1)?);
            }
        }
    }
    Ok(owners)
}

/// Groups each candidate into the issue owning the first of its hashes (in the event's
/// order) that has an owner, creating an issue when none does. The event's unowned
/// hashes then point at its issue; hashes owned elsewhere stay: the first owner keeps a
/// hash. Returns the issue per batch index.
pub(super) async fn assign_issues(
    conn: &mut impl Exec,
    backend: Backend,
    candidates: &[(usize, &NewEvent)],
    results: &mut [EventWriteResult],
) -> Result<HashMap<usize, i64>> {
    let all: Vec<(i64, &str)> = candidates
        .iter()
        .flat_map(|(_, ev)| ev.hashes.iter().map(|h| (ev.project_id, h.as_str())))
        .collect();
    let mut owners = hash_owners(conn, &all).await?;
    let mut assigned = HashMap::with_capacity(candidates.len());
    let mut claims: Vec<(i64, &str, i64)> = Vec::new();
    let mut created: Vec<i64> = Vec::new();
    for (index, ev) in candidates {
        let found = ev
            .hashes
            .iter()
            .find_map(|h| owners.get(&(ev.project_id, h.clone())).copied());
        let issue_id = match found {
            Some(id) => id,
            None => {
                let id = create_issue(conn, ev).await?;
                results[*index].new_issue = true;
                created.push(id);
                id
            }
        };
        for hash in &ev.hashes {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                owners.entry((ev.project_id, hash.clone()))
            {
                slot.insert(issue_id);
                claims.push((ev.project_id, hash, issue_id));
            }
        }
        assigned.insert(*index, issue_id);
        results[*index].issue_id = Some(issue_id);
    }
    for chunk in claims.chunks(conn.rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO group_hashes (project_id, hash, issue_id) VALUES {} \
             ON CONFLICT (project_id, hash) DO NOTHING",
            value_rows(1, chunk.len(), 3)
        );
        let args: Vec<Val> = chunk
            .iter()
            .flat_map(|(project_id, hash, issue_id)| {
                [Val::Int(*project_id), Val::Text(hash), Val::Int(*issue_id)]
            })
            .collect();
        conn.execute(&sql, &args).await?;
    }
    // SQLite has one writer, so nobody can have claimed a hash since we looked.
    if backend == Backend::Postgres && !created.is_empty() {
        merge_lost_races(conn, candidates, &created, &mut assigned, results).await?;
    }
    Ok(assigned)
}

/// Another PostgreSQL node may have created an issue for one of our new issues' hashes
/// since we looked. Its issue wins: our hashes move over and the empty issue goes.
async fn merge_lost_races(
    conn: &mut impl Exec,
    candidates: &[(usize, &NewEvent)],
    created: &[i64],
    assigned: &mut HashMap<usize, i64>,
    results: &mut [EventWriteResult],
) -> Result<()> {
    let mut winners: HashMap<i64, i64> = HashMap::new();
    for (index, ev) in candidates {
        let issue_id = assigned[index];
        if !created.contains(&issue_id) || winners.contains_key(&issue_id) {
            continue;
        }
        let hashes: Vec<(i64, &str)> = ev
            .hashes
            .iter()
            .map(|h| (ev.project_id, h.as_str()))
            .collect();
        let owners = hash_owners(conn, &hashes).await?;
        let winner = ev
            .hashes
            .iter()
            .filter_map(|h| owners.get(&(ev.project_id, h.clone())).copied())
            .find(|&id| id != issue_id);
        if let Some(winner) = winner {
            winners.insert(issue_id, winner);
        }
    }
    for (lost, winner) in &winners {
        conn.execute(
            "UPDATE group_hashes SET issue_id = $1 WHERE issue_id = $2",
            &[Val::Int(*winner), Val::Int(*lost)],
        )
        .await?;
        conn.execute("DELETE FROM issues WHERE id = $1", &[Val::Int(*lost)])
            .await?;
    }
    for (index, _) in candidates {
        if let Some(winner) = winners.get(&assigned[index]) {
            assigned.insert(*index, *winner);
            results[*index].issue_id = Some(*winner);
            results[*index].new_issue = false;
        }
    }
    Ok(())
}

/// Creates an issue from its first event. Counters start at zero; the batch's counter
/// update then counts the event like any other.
async fn create_issue(conn: &mut impl Exec, ev: &NewEvent) -> Result<i64> {
    let metadata = json(&ev.metadata)?;
    let rows = conn
        .fetch(
            "INSERT INTO issues (project_id, title, culprit, message, level, event_type, metadata, \
         status, first_seen, last_seen, first_release, last_release, times_seen, user_count, \
         unhandled, is_regression, grouping_config, primary_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'unresolved', $8, $8, $9, $9, 0, 0, $10, 0, $11, $12) \
         RETURNING id",
            &[
                Val::Int(ev.project_id),
                Val::Text(&ev.title),
                Val::Text(&ev.culprit),
                Val::Text(&ev.message),
                Val::Text(&ev.level),
                Val::Text(&ev.event_type),
                Val::Text(&metadata),
                Val::Int(ev.timestamp),
                Val::OptText(ev.release.as_deref()),
                Val::Int(flag(ev.unhandled)),
                Val::Text(&ev.grouping_config),
                Val::Text(ev.hashes.first().map(String::as_str).unwrap_or_default()),
            ],
        )
        .await?;
    rows.first().ok_or(crate::StoreError::NotFound)?.int(0)
}
