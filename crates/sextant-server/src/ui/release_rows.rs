//! What the release pages show, as plain rows: formatting of rates and times, deploys,
//! commits, issues and gate verdicts, and the crash-free series behind the chart. Pure
//! functions of stored records, so they are unit-tested here.

use serde_json::Value;
use sextant_storage::{CheckRecord, DeployRecord, Issue, NewCommit, Project, SessionBucket};

use super::format::{ago, count};
use crate::clock::format_ms;
use crate::releases::health;
use crate::serialize::short_id;

pub struct DeployRow {
    pub environment: String,
    pub name: String,
    pub ago: String,
    pub at: String,
}

pub struct ReleaseRow {
    pub version: String,
    pub url: String,
    pub first_seen: String,
    pub first_seen_at: String,
    pub deploys: Vec<DeployRow>,
    pub crash_free_sessions: String,
    pub crash_free_users: String,
    pub adoption: String,
    pub sessions: String,
    pub new_issues: String,
    pub verdict: Option<CheckRow>,
}

pub struct CheckRow {
    pub environment: String,
    /// One of `healthy`, `regressed`, `inconclusive`, `error` or `pending`.
    pub verdict: &'static str,
    pub summary: String,
    pub reasons: Vec<String>,
    pub at: String,
}

pub struct EnvDeploys {
    pub environment: String,
    pub deploys: Vec<DeployRow>,
}

pub struct CommitRow {
    pub sha: String,
    pub short_sha: String,
    pub author: String,
    pub message: String,
    pub files: Vec<String>,
}

pub struct IssueRow {
    pub short_id: String,
    pub title: String,
    pub level: String,
    pub url: String,
    pub events: String,
    pub users: String,
}

/// A release version as one URL path segment (versions hold `@`, `+`, spaces …).
pub fn segment(version: &str) -> String {
    let mut out = String::with_capacity(version.len());
    for b in version.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@+".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn releases_url(project: &Project) -> String {
    format!("/orgs/{}/{}/releases/", project.org_slug, project.slug)
}

pub fn release_url(project: &Project, version: &str) -> String {
    format!("{}{}/", releases_url(project), segment(version))
}

/// A percentage with at most two decimals and no trailing zeros ("90%", "99.5%"), or a
/// dash when there is nothing to divide by.
pub fn percent(value: Option<f64>) -> String {
    match value {
        Some(v) => {
            let text = format!("{v:.2}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            format!("{text}%")
        }
        None => "—".to_string(),
    }
}

pub fn deploy_row(d: &DeployRecord, now: i64) -> DeployRow {
    DeployRow {
        environment: d.environment.clone(),
        name: d.name.clone().unwrap_or_default(),
        ago: ago(d.date_finished, now),
        at: format_ms(d.date_finished),
    }
}

pub fn check_row(c: &CheckRecord) -> CheckRow {
    let report: Value = c
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    // A fixed set, so the verdict can also name a CSS class.
    let verdict = match c.verdict.as_deref() {
        None => "pending",
        Some("healthy") => "healthy",
        Some("regressed") => "regressed",
        Some("inconclusive") => "inconclusive",
        Some(_) => "error",
    };
    CheckRow {
        environment: c.environment.clone(),
        verdict,
        summary: report["summary"].as_str().unwrap_or_default().to_string(),
        reasons: report["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        at: match c.run_at {
            Some(t) => format_ms(t),
            None => format!("due {}", format_ms(c.due_at)),
        },
    }
}

/// Crash-free sessions per slot of `interval` from `from`, in tenths of a percent (the
/// chart takes integers); `None` for slots without sessions.
pub fn crash_free_slots(
    buckets: &[SessionBucket],
    from: i64,
    interval: i64,
    slots: usize,
) -> Vec<Option<i64>> {
    let to = from + interval * slots as i64;
    health::slots(buckets, from, to, interval)
        .iter()
        .map(|slot| slot.crash_free().map(|p| (p * 10.0).round() as i64))
        .collect()
}

pub fn issue_rows(project: &Project, issues: Vec<Issue>) -> Vec<IssueRow> {
    issues
        .into_iter()
        .map(|i| IssueRow {
            short_id: short_id(&project.slug, i.id),
            url: format!(
                "/orgs/{}/{}/issues/{}/",
                project.org_slug, project.slug, i.id
            ),
            events: count(i.times_seen),
            users: count(i.user_count),
            title: i.title,
            level: i.level,
        })
        .collect()
}

pub fn commit_row(c: NewCommit) -> CommitRow {
    let author = match (c.author_name, c.author_email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "unknown author".to_string(),
    };
    CommitRow {
        short_sha: c.sha.chars().take(12).collect(),
        message: c
            .message
            .as_deref()
            .and_then(|m| m.lines().next())
            .unwrap_or("")
            .to_string(),
        files: c
            .files
            .into_iter()
            .map(|f| format!("{} {}", f.change_type, f.path))
            .collect(),
        sha: c.sha,
        author,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::format::HOUR_MS;

    #[test]
    fn percentages_and_segments() {
        use crate::releases::health::crash_free;
        assert_eq!(percent(crash_free(1, 10)), "90%");
        assert_eq!(percent(crash_free(1, 200)), "99.5%");
        assert_eq!(percent(crash_free(1, 3)), "66.67%");
        assert_eq!(percent(crash_free(0, 0)), "—");
        assert_eq!(segment("shop@2.0.0+b 1/x"), "shop@2.0.0+b%201%2Fx");
    }

    #[test]
    fn slots_hold_crash_free_tenths() {
        let b = |bucket, total, crashed| SessionBucket {
            release: "r".into(),
            environment: String::new(),
            bucket,
            total,
            errored: 0,
            crashed,
            abnormal: 0,
            unhandled: 0,
        };
        let slots = crash_free_slots(
            &[b(0, 3, 0), b(60_000, 1, 1), b(7_200_000, 8, 0)],
            0,
            HOUR_MS,
            3,
        );
        assert_eq!(slots, vec![Some(750), None, Some(1000)]);
    }
}
