//! Root cause for an issue: where it started ("first seen in release X, deployed to ENV
//! at T, N minutes after the deploy"), its regression ("resolved in X, regressed in Y"),
//! and suspect commits: commits of the first release that changed a file on the issue's
//! in-app stack, ranked by how close to the crashing frame the file is.

use serde_json::{Value, json};
use sextant_storage::{EventRecord, Issue, NewCommit, Store, StoreError};

use super::serialize::{author_json, commit_json};
use crate::clock::format_ms;

/// In-app frame paths of an event, innermost (crashing) frame first.
pub fn in_app_paths(payload: &Value) -> Vec<String> {
    let mut stacks: Vec<&Value> = Vec::new();
    for key in ["exception", "threads"] {
        if let Some(values) = payload[key]["values"].as_array() {
            stacks.extend(values.iter().map(|v| &v["stacktrace"]));
        }
    }
    stacks.push(&payload["stacktrace"]);
    let mut out = Vec::new();
    // Exceptions are listed innermost last; walk them in reverse too.
    for st in stacks.into_iter().rev() {
        let Some(frames) = st["frames"].as_array() else {
            continue;
        };
        for f in frames.iter().rev() {
            if f["in_app"].as_bool() == Some(false) {
                continue;
            }
            let path = f["abs_path"]
                .as_str()
                .or_else(|| f["filename"].as_str())
                .map(str::to_string)
                .or_else(|| f["module"].as_str().map(|m| m.replace('.', "/")));
            if let Some(path) = path
                && !out.contains(&path)
            {
                out.push(path);
            }
        }
    }
    out
}

fn components(path: &str) -> Vec<&str> {
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    path.split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// `true` when one path is a component-wise suffix of the other (`src/app.py` matches
/// `/srv/app/src/app.py`); a module path (`app/billing`) matches `app/billing.py`.
pub fn paths_match(frame: &str, file: &str) -> bool {
    let (a, b) = (components(frame), components(file));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let n = a.len().min(b.len());
    let (ta, tb) = (&a[a.len() - n..], &b[b.len() - n..]);
    if ta == tb {
        return true;
    }
    // Module-derived paths have no extension.
    let strip = |s: &str| {
        s.rsplit_once('.')
            .map_or(s.to_string(), |(stem, _)| stem.to_string())
    };
    ta[..n - 1] == tb[..n - 1] && strip(ta[n - 1]) == strip(tb[n - 1])
}

/// Commits touching the stack, best first, each with its matching file and a score.
pub fn suspects<'a>(
    paths: &[String],
    commits: &'a [NewCommit],
) -> Vec<(&'a NewCommit, String, f64)> {
    let mut out = Vec::new();
    for (order, c) in commits.iter().enumerate() {
        let mut best: Option<(usize, &str)> = None;
        let mut hits = 0;
        for f in &c.files {
            if let Some(depth) = paths.iter().position(|p| paths_match(p, &f.path)) {
                hits += 1;
                if best.is_none_or(|(d, _)| depth < d) {
                    best = Some((depth, &f.path));
                }
            }
        }
        if let Some((depth, file)) = best {
            // Closer to the crashing frame first, then more matching files, then newer.
            let score = 1000.0 / (depth as f64 + 1.0) + f64::from(hits) - order as f64 * 1e-3;
            out.push((c, file.to_string(), score));
        }
    }
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

/// Suspect commits of `issue` as Sentry's committers entries, best first, read from
/// `event` (its latest event when `None`).
pub async fn suspect_commits(
    store: &dyn Store,
    issue: &Issue,
    event: Option<&EventRecord>,
) -> Result<Vec<Value>, StoreError> {
    let Some(release) = &issue.first_release else {
        return Ok(vec![]);
    };
    let commits = store
        .list_release_commits(issue.project_id, release)
        .await?;
    if commits.is_empty() {
        return Ok(vec![]);
    }
    let event = match event {
        Some(e) => e.clone(),
        None => match store.latest_issue_event(issue.id).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Ok(vec![]),
            Err(e) => return Err(e),
        },
    };
    let paths = in_app_paths(&crate::stored_event::read(&event));
    Ok(suspects(&paths, &commits)
        .into_iter()
        .map(|(c, file, score)| {
            let mut commit = commit_json(c);
            commit["suspectCommitType"] = json!("via stack trace");
            commit["matchedFile"] = json!(file);
            commit["score"] = json!(score);
            json!({ "author": author_json(c), "commit": commit, "file": file })
        })
        .collect())
}

/// Adds `rootCause` to an issue's detail JSON.
pub async fn annotate(
    store: &dyn Store,
    issue: &Issue,
    body: &mut Value,
) -> Result<(), StoreError> {
    let mut root = json!({});
    if let Some(release) = &issue.first_release {
        let first_env = match store.oldest_issue_event(issue.id).await {
            Ok(e) => e.environment,
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let mut text = format!("First seen in release {release}");
        let mut deploy_json = Value::Null;
        let deploys = store
            .list_deploys(issue.project_id, Some(release), first_env.as_deref())
            .await?;
        if let Some(d) = deploys
            .iter()
            .rev()
            .find(|d| d.date_finished <= issue.first_seen)
            .or(deploys.first())
        {
            let minutes = (issue.first_seen - d.date_finished) / 60_000;
            text.push_str(&format!(
                ", deployed to {} at {}, {minutes} minutes after the deploy",
                d.environment,
                format_ms(d.date_finished)
            ));
            deploy_json = json!({
                "environment": d.environment,
                "dateFinished": format_ms(d.date_finished),
                "minutesAfterDeploy": minutes,
            });
        }
        root["firstRelease"] = json!(release);
        root["firstEnvironment"] = json!(first_env);
        root["deploy"] = deploy_json;
        root["firstSeenText"] = json!(text);
    }
    if issue.is_regression
        && let Some(regressed_in) = &issue.regressed_in_release
    {
        let resolved_in = match issue.regressed_at {
            Some(at) => store.issue_release_before(issue.id, at).await?,
            None => None,
        };
        let text = match &resolved_in {
            Some(r) => format!("Resolved in {r}, regressed in {regressed_in}"),
            None => format!("Regressed in {regressed_in}"),
        };
        root["resolvedInRelease"] = json!(resolved_in);
        root["regressedInRelease"] = json!(regressed_in);
        root["regressionText"] = json!(text);
    }
    root["suspectCommits"] = json!(suspect_commits(store, issue, None).await?);
    body["rootCause"] = root;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sextant_storage::CommitFile;

    use super::*;

    fn commit(sha: &str, files: &[&str]) -> NewCommit {
        NewCommit {
            sha: sha.into(),
            repository: None,
            author_name: Some("A".into()),
            author_email: None,
            message: None,
            committed_at: None,
            files: files
                .iter()
                .map(|f| CommitFile {
                    path: f.to_string(),
                    change_type: "M".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn matching_paths() {
        assert!(paths_match("/srv/app/src/billing.py", "src/billing.py"));
        assert!(paths_match("app/billing", "app/billing.py"));
        assert!(!paths_match("/srv/app/src/billing.py", "src/cart.py"));
        assert!(!paths_match("", "x.py"));
    }

    #[test]
    fn ranking_prefers_the_crashing_frame() {
        let paths = vec![
            "/app/src/discount.py".to_string(),
            "/app/main.py".to_string(),
        ];
        let commits = vec![
            commit("aaa", &["main.py"]),
            commit("bbb", &["README.md"]),
            commit("ccc", &["src/discount.py"]),
        ];
        let ranked = suspects(&paths, &commits);
        assert_eq!(ranked.len(), 2);
        assert_eq!(ranked[0].0.sha, "ccc");
        assert_eq!(ranked[0].1, "src/discount.py");
        assert_eq!(ranked[1].0.sha, "aaa");
    }
}
