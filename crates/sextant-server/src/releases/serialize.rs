//! Sentry-shaped JSON for releases, deploys, commits and session totals (rates from
//! `health`).

use serde_json::{Value, json};
use sextant_storage::{DeployRecord, NewCommit, Project, ReleaseRecord, SessionTotals};

use super::health::crash_free;
use crate::clock::format_ms;

/// Sentry's display form of a release: the part after `package@`, with a bare commit
/// hash cut to 12 characters.
pub fn short_version(version: &str) -> String {
    let v = match version.split_once('@') {
        Some((pkg, rest)) if !pkg.is_empty() && !rest.is_empty() => rest,
        _ => version,
    };
    if v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        v[..12].to_string()
    } else {
        v.to_string()
    }
}

pub fn deploy_json(d: &DeployRecord) -> Value {
    json!({
        "id": d.id.to_string(),
        "environment": d.environment,
        "name": d.name,
        "url": d.url,
        "dateStarted": d.date_started.map(format_ms),
        "dateFinished": format_ms(d.date_finished),
    })
}

pub fn commit_json(c: &NewCommit) -> Value {
    json!({
        "id": c.sha,
        "message": c.message,
        "dateCreated": c.committed_at.map(format_ms),
        "repository": c.repository.as_ref().map(|r| json!({ "name": r })),
        "author": author_json(c),
        "files": c.files.iter().map(|f| json!({ "filename": f.path, "type": f.change_type })).collect::<Vec<_>>(),
    })
}

pub fn author_json(c: &NewCommit) -> Value {
    json!({ "name": c.author_name, "email": c.author_email })
}

/// What a release page and `sentry-cli releases info|list` need.
pub struct ReleaseView<'a> {
    pub release: &'a ReleaseRecord,
    pub projects: &'a [Project],
    pub deploys: &'a [DeployRecord],
    pub commits: &'a [NewCommit],
    pub new_groups: usize,
}

pub fn release_json(v: &ReleaseView<'_>) -> Value {
    let r = v.release;
    json!({
        "id": format!("{}:{}", r.project_id, r.version),
        "version": r.version,
        "shortVersion": short_version(&r.version),
        "ref": Value::Null,
        "url": r.url,
        "status": "open",
        "dateCreated": format_ms(r.date_created),
        "dateStarted": r.date_started.map(format_ms),
        "dateReleased": r.date_released.map(format_ms),
        "firstEvent": Value::Null,
        "lastEvent": Value::Null,
        "newGroups": v.new_groups,
        "commitCount": v.commits.len(),
        "lastCommit": v.commits.first().map(commit_json),
        "authors": authors(v.commits),
        "deployCount": v.deploys.len(),
        "lastDeploy": v.deploys.last().map(deploy_json),
        "projects": v.projects.iter().map(|p| json!({
            "id": p.id.to_string(), "slug": p.slug, "name": p.name, "platform": p.platform,
        })).collect::<Vec<_>>(),
        "data": {},
    })
}

fn authors(commits: &[NewCommit]) -> Vec<Value> {
    let mut seen: Vec<(Option<String>, Option<String>)> = Vec::new();
    for c in commits {
        let key = (c.author_name.clone(), c.author_email.clone());
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen.into_iter()
        .map(|(name, email)| json!({ "name": name, "email": email }))
        .collect()
}

/// Session and user numbers with crash-free rates, per §10.3: crash-free = 1 − crashed /
/// total; "errored" excludes crashed and abnormal, which are shown separately.
pub fn health_json(t: &SessionTotals) -> Value {
    let errored_only = (t.errored - t.crashed - t.abnormal).max(0);
    json!({
        "sessions": {
            "total": t.total,
            "healthy": (t.total - t.errored).max(0),
            "errored": errored_only,
            "unhandled": t.unhandled,
            "crashed": t.crashed,
            "abnormal": t.abnormal,
        },
        "users": {
            "total": t.users,
            "healthy": (t.users - t.errored_users).max(0),
            "errored": t.errored_users,
            "crashed": t.crashed_users,
            "abnormal": t.abnormal_users,
        },
        "crashFreeSessions": crash_free(t.crashed, t.total),
        "crashFreeUsers": crash_free(t.crashed_users, t.users),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_free_maths() {
        let t = SessionTotals {
            total: 10,
            errored: 6,
            crashed: 1,
            users: 4,
            crashed_users: 1,
            ..SessionTotals::default()
        };
        let v = health_json(&t);
        assert_eq!(v["crashFreeSessions"], json!(90.0));
        assert_eq!(v["crashFreeUsers"], json!(75.0));
        assert_eq!(v["sessions"]["errored"], json!(5));
        assert_eq!(v["sessions"]["healthy"], json!(4));
        assert_eq!(
            health_json(&SessionTotals::default())["crashFreeSessions"],
            Value::Null
        );
    }
}
