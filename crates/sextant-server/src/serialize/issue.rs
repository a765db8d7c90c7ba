//! Issue → Sentry's group JSON, and the status reply of issue updates.

use serde_json::{Value, json};
use sextant_storage::{Issue, IssueStatus, Project};

use super::{format_ms, release_ref, short_id};

/// Sentry's `(status, statusDetails)` for a stored status. "Resolved in next release"
/// is a resolved issue whose details say so, which is how Sentry models it.
fn status_parts(status: IssueStatus, in_release: Option<&str>) -> (&'static str, Value) {
    match status {
        IssueStatus::Unresolved => ("unresolved", json!({})),
        IssueStatus::Resolved => ("resolved", json!({})),
        IssueStatus::Ignored => ("ignored", json!({})),
        IssueStatus::ResolvedInNextRelease => {
            let mut details = json!({ "inNextRelease": true });
            if let Some(r) = in_release {
                details["inRelease"] = json!(r);
            }
            ("resolved", details)
        }
    }
}

/// The body Sentry returns from a bulk status update.
pub fn status_response(status: IssueStatus) -> Value {
    let (status, details) = status_parts(status, None);
    json!({ "status": status, "statusDetails": details })
}

pub fn issue_json(issue: &Issue, project: &Project, base_url: &str) -> Value {
    let (status, status_details) = status_parts(issue.status, issue.resolved_in_release.as_deref());
    let substatus = match issue.status {
        IssueStatus::Unresolved if issue.is_regression => json!("regressed"),
        IssueStatus::Unresolved => json!("ongoing"),
        _ => Value::Null,
    };
    json!({
        "id": issue.id.to_string(),
        "shortId": short_id(&project.slug, issue.id),
        "title": issue.title,
        "culprit": issue.culprit,
        "level": issue.level,
        "status": status,
        "statusDetails": status_details,
        "substatus": substatus,
        "isRegression": issue.is_regression,
        "regressedInRelease": issue.regressed_in_release,
        // Sentry sends the event count as a string (it can exceed JS integer range).
        "count": issue.times_seen.to_string(),
        "userCount": issue.user_count,
        "firstSeen": format_ms(issue.first_seen),
        "lastSeen": format_ms(issue.last_seen),
        "firstRelease": release_ref(issue.first_release.as_deref()),
        "lastRelease": release_ref(issue.last_release.as_deref()),
        "permalink": format!("{base_url}/organizations/{}/issues/{}/", project.org_slug, issue.id),
        "metadata": issue.metadata,
        "type": issue.event_type,
        "issueType": "error",
        "issueCategory": "error",
        "isUnhandled": issue.unhandled,
        "platform": project.platform,
        "project": {
            "id": project.id.to_string(),
            "slug": project.slug,
            "name": project.name,
            "platform": project.platform,
        },
        "logger": null,
        "annotations": [],
        "assignedTo": null,
        "hasSeen": false,
        "isBookmarked": false,
        "isPublic": false,
        "isSubscribed": false,
        "numComments": 0,
        "shareId": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            id: 3,
            org_id: 1,
            org_slug: "acme".into(),
            slug: "web-app".into(),
            name: "Web App".into(),
            platform: Some("javascript".into()),
            created_at: 1_767_225_600_000,
        }
    }

    fn issue() -> Issue {
        Issue {
            id: 77,
            project_id: 3,
            title: "TypeError: x is undefined".into(),
            culprit: "app/main.js in render".into(),
            level: "error".into(),
            event_type: "error".into(),
            metadata: json!({"type": "TypeError", "value": "x is undefined", "filename": "app/main.js", "function": "render"}),
            status: IssueStatus::Unresolved,
            first_seen: 1_767_225_600_000,
            last_seen: 1_767_261_600_123,
            first_release: Some("web@1.0.0".into()),
            last_release: None,
            times_seen: 12,
            user_count: 3,
            unhandled: true,
            is_regression: true,
            regressed_in_release: Some("web@1.1.0".into()),
            regressed_at: Some(1_767_261_600_000),
            resolved_at: None,
            resolved_in_release: None,
            grouping_config: "newstyle:2023-01-11".into(),
            primary_hash: "c4ca4238a0b923820dcc509a6f75849b".into(),
        }
    }

    #[test]
    fn unresolved_regressed_issue() {
        let v = issue_json(&issue(), &project(), "https://errors.example");
        let expected = json!({
            "id": "77",
            "shortId": "WEB-APP-25",
            "title": "TypeError: x is undefined",
            "culprit": "app/main.js in render",
            "level": "error",
            "status": "unresolved",
            "statusDetails": {},
            "substatus": "regressed",
            "isRegression": true,
            "regressedInRelease": "web@1.1.0",
            "count": "12",
            "userCount": 3,
            "firstSeen": "2026-01-01T00:00:00.000Z",
            "lastSeen": "2026-01-01T10:00:00.123Z",
            "firstRelease": {"version": "web@1.0.0", "shortVersion": "1.0.0"},
            "lastRelease": null,
            "permalink": "https://errors.example/organizations/acme/issues/77/",
            "metadata": {"type": "TypeError", "value": "x is undefined", "filename": "app/main.js", "function": "render"},
            "type": "error",
            "issueType": "error",
            "issueCategory": "error",
            "isUnhandled": true,
            "platform": "javascript",
            "project": {"id": "3", "slug": "web-app", "name": "Web App", "platform": "javascript"},
            "logger": null,
            "annotations": [],
            "assignedTo": null,
            "hasSeen": false,
            "isBookmarked": false,
            "isPublic": false,
            "isSubscribed": false,
            "numComments": 0,
            "shareId": null,
        });
        assert_eq!(v, expected);
    }

    #[test]
    fn resolved_in_next_release() {
        let mut i = issue();
        i.status = IssueStatus::ResolvedInNextRelease;
        i.resolved_in_release = Some("web@1.1.0".into());
        let v = issue_json(&i, &project(), "http://h");
        assert_eq!(v["status"], "resolved");
        assert_eq!(
            v["statusDetails"],
            json!({"inNextRelease": true, "inRelease": "web@1.1.0"})
        );
        assert_eq!(v["substatus"], Value::Null);
    }

    #[test]
    fn plain_statuses() {
        let mut i = issue();
        i.is_regression = false;
        assert_eq!(
            issue_json(&i, &project(), "http://h")["substatus"],
            "ongoing"
        );
        i.status = IssueStatus::Ignored;
        let v = issue_json(&i, &project(), "http://h");
        assert_eq!(
            (v["status"].clone(), v["substatus"].clone()),
            (json!("ignored"), Value::Null)
        );
    }

    #[test]
    fn bulk_status_replies() {
        assert_eq!(
            status_response(IssueStatus::ResolvedInNextRelease),
            json!({"status": "resolved", "statusDetails": {"inNextRelease": true}})
        );
        assert_eq!(
            status_response(IssueStatus::Ignored),
            json!({"status": "ignored", "statusDetails": {}})
        );
    }
}
