//! Organizations, projects, DSN keys, tags and attachments as Sentry's API shapes them.

use serde_json::{Value, json};
use sextant_storage::{
    AttachmentRecord, Organization, Project, ProjectKey, TagKeySummary, TagValueCount,
};

use super::format_ms;
use sextant_protocol::auth::format_dsn as dsn;

pub fn org_json(org: &Organization) -> Value {
    json!({
        "id": org.id.to_string(),
        "slug": org.slug,
        "name": org.name,
        "dateCreated": format_ms(org.created_at),
        "status": { "id": "active", "name": "active" },
        "isEarlyAdopter": false,
        "require2FA": false,
        "features": [],
    })
}

/// `org` is the project's organization; its name is not part of the project record.
pub fn project_json(project: &Project, org: Option<&Organization>) -> Value {
    let organization = match org {
        Some(o) => json!({ "id": o.id.to_string(), "slug": o.slug, "name": o.name }),
        None => {
            json!({ "id": project.org_id.to_string(), "slug": project.org_slug, "name": project.org_slug })
        }
    };
    json!({
        "id": project.id.to_string(),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "dateCreated": format_ms(project.created_at),
        "status": "active",
        "isMember": true,
        "hasAccess": true,
        "features": [],
        "organization": organization,
    })
}

pub fn key_json(key: &ProjectKey, base_url: &str) -> Value {
    let public_dsn = dsn(base_url, &key.public_key, key.project_id);
    let endpoint = |path: &str| {
        format!(
            "{base_url}/api/{}/{path}/?sentry_key={}",
            key.project_id, key.public_key
        )
    };
    let rate_limit = match (key.rate_limit_count, key.rate_limit_window_secs) {
        (Some(count), Some(window)) => json!({ "window": window, "count": count }),
        _ => Value::Null,
    };
    json!({
        "id": key.public_key,
        "name": key.label,
        "label": key.label,
        "public": key.public_key,
        // Keys have no secret part; Sentry's legacy secret DSN is the public one here.
        "secret": null,
        "projectId": key.project_id,
        "isActive": key.active,
        "rateLimit": rate_limit,
        "dsn": {
            "public": public_dsn,
            "secret": public_dsn,
            "csp": endpoint("security"),
            "security": endpoint("security"),
            "minidump": endpoint("minidump"),
            "cdn": null,
        },
        "browserSdkVersion": "latest",
        "dateCreated": format_ms(key.created_at),
    })
}

pub fn tag_value_json(key: &str, v: &TagValueCount) -> Value {
    json!({
        "key": key,
        "name": v.value,
        "value": v.value,
        "count": v.count,
        "lastSeen": format_ms(v.last_seen),
        "firstSeen": format_ms(v.first_seen),
    })
}

pub fn tag_key_json(summary: &TagKeySummary, top: &[TagValueCount]) -> Value {
    json!({
        "key": summary.key,
        "name": summary.key,
        "totalValues": summary.total_values,
        "uniqueValues": summary.unique_values,
        "topValues": top.iter().map(|v| tag_value_json(&summary.key, v)).collect::<Vec<_>>(),
    })
}

pub fn attachment_json(a: &AttachmentRecord) -> Value {
    json!({
        "id": a.id.to_string(),
        "event_id": a.event_id,
        "name": a.name,
        "mimetype": a.content_type,
        "headers": { "Content-Type": a.content_type },
        "size": a.size,
        "type": a.attachment_type,
        "sha1": null,
        "dateCreated": format_ms(a.created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        let key = ProjectKey {
            id: 1,
            project_id: 3,
            public_key: "0123456789abcdef0123456789abcdef".into(),
            label: "Default".into(),
            active: true,
            rate_limit_count: Some(100),
            rate_limit_window_secs: Some(60),
            created_at: 0,
        };
        let v = key_json(&key, "https://errors.example");
        assert_eq!(v["id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(
            v["dsn"]["public"],
            "https://0123456789abcdef0123456789abcdef@errors.example/3"
        );
        assert_eq!(
            v["dsn"]["csp"],
            "https://errors.example/api/3/security/?sentry_key=0123456789abcdef0123456789abcdef"
        );
        assert_eq!(
            v["dsn"]["minidump"],
            "https://errors.example/api/3/minidump/?sentry_key=0123456789abcdef0123456789abcdef"
        );
        assert_eq!(v["rateLimit"], json!({"window": 60, "count": 100}));
        assert_eq!(v["projectId"], 3);
        assert_eq!(v["dateCreated"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn project_and_tags_shape() {
        let org = Organization {
            id: 1,
            slug: "acme".into(),
            name: "Acme".into(),
            created_at: 0,
        };
        let p = Project {
            id: 3,
            org_id: 1,
            org_slug: "acme".into(),
            slug: "web".into(),
            name: "Web".into(),
            platform: None,
            created_at: 0,
        };
        let v = project_json(&p, Some(&org));
        assert_eq!(v["id"], "3");
        assert_eq!(
            v["organization"],
            json!({"id": "1", "slug": "acme", "name": "Acme"})
        );
        assert_eq!(v["platform"], Value::Null);

        let summary = TagKeySummary {
            key: "browser".into(),
            total_values: 10,
            unique_values: 2,
        };
        let top = [TagValueCount {
            value: "Firefox".into(),
            count: 7,
            first_seen: 0,
            last_seen: 1000,
        }];
        assert_eq!(
            tag_key_json(&summary, &top),
            json!({
                "key": "browser", "name": "browser", "totalValues": 10, "uniqueValues": 2,
                "topValues": [{"key": "browser", "name": "Firefox", "value": "Firefox", "count": 7,
                               "lastSeen": "1970-01-01T00:00:01.000Z", "firstSeen": "1970-01-01T00:00:00.000Z"}]
            })
        );
    }
}
