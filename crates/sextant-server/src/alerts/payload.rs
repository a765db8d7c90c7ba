//! The bodies Sentry's webhooks carry, byte for byte in shape, so receivers built for
//! Sentry work unchanged: the integration platform's `{action, installation, data,
//! actor}` (signed with the app's client secret) and the legacy webhooks plugin's
//! unsigned payload.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sextant_storage::{CheckRecord, EventRecord, Issue, Project, SentryApp};
use sha2::Sha256;

use crate::serialize::issue_json;

/// Who made the change, as Sentry names itself for automatic ones.
fn application_actor() -> Value {
    json!({"type": "application", "id": "sentry", "name": "Sentry"})
}

/// The console page of an issue.
pub fn issue_web_url(base_url: &str, project: &Project, issue_id: i64) -> String {
    format!(
        "{base_url}/orgs/{}/{}/issues/{issue_id}/",
        project.org_slug, project.slug
    )
}

/// The console page of a project's release.
pub fn release_web_url(base_url: &str, project: &Project, version: &str) -> String {
    format!(
        "{base_url}/orgs/{}/{}/releases/{}/",
        project.org_slug,
        project.slug,
        url::form_urlencoded::byte_serialize(version.as_bytes()).collect::<String>()
    )
}

fn issue_api_url(base_url: &str, project: &Project, issue_id: i64) -> String {
    format!(
        "{base_url}/api/0/organizations/{}/issues/{issue_id}/",
        project.org_slug
    )
}

pub(super) fn envelope(action: &str, app: &SentryApp, data: Value) -> Value {
    json!({
        "action": action,
        "installation": {"uuid": app.installation_uuid},
        "data": data,
        "actor": application_actor(),
    })
}

/// `issue` resource: `created`, `resolved`, `unresolved`, `archived` (Sentry once said `ignored`).
pub fn issue_webhook(
    action: &str,
    app: &SentryApp,
    issue: &Issue,
    project: &Project,
    base_url: &str,
) -> Value {
    let mut serialized = issue_json(issue, project, base_url);
    if let Some(fields) = serialized.as_object_mut() {
        fields.insert(
            "url".into(),
            issue_api_url(base_url, project, issue.id).into(),
        );
        fields.insert(
            "web_url".into(),
            issue_web_url(base_url, project, issue.id).into(),
        );
        fields.insert(
            "project_url".into(),
            format!("{base_url}/orgs/{}/{}/", project.org_slug, project.slug).into(),
        );
    }
    envelope(action, app, json!({ "issue": serialized }))
}

/// The event as webhooks carry it: the normalized event with its links.
fn event_data(event: &Value, record: &EventRecord, project: &Project, base_url: &str) -> Value {
    let mut data = event.clone();
    if let Some(fields) = data.as_object_mut() {
        let issue_id = record.issue_id.unwrap_or_default();
        fields.insert("event_id".into(), record.event_id.clone().into());
        fields.insert("issue_id".into(), issue_id.to_string().into());
        fields.insert("project".into(), project.id.into());
        fields.insert(
            "url".into(),
            format!(
                "{base_url}/api/0/projects/{}/{}/events/{}/",
                project.org_slug, project.slug, record.event_id
            )
            .into(),
        );
        fields.insert(
            "web_url".into(),
            format!(
                "{}?event={}",
                issue_web_url(base_url, project, issue_id),
                record.event_id
            )
            .into(),
        );
        fields.insert(
            "issue_url".into(),
            issue_api_url(base_url, project, issue_id).into(),
        );
    }
    data
}

/// `event_alert` resource, action `triggered`: a rule's action for an internal
/// integration, with the settings saved on that action.
pub struct EventAlert<'a> {
    pub rule_name: &'a str,
    pub settings: &'a Value,
    pub event: &'a Value,
    pub record: &'a EventRecord,
    pub project: &'a Project,
    pub base_url: &'a str,
}

pub fn event_alert_webhook(app: &SentryApp, alert: &EventAlert<'_>) -> Value {
    envelope(
        "triggered",
        app,
        json!({
            "event": event_data(alert.event, alert.record, alert.project, alert.base_url),
            "triggered_rule": alert.rule_name,
            "issue_alert": {
                "id": Value::Null,
                "title": alert.rule_name,
                "sentry_app_id": app.id,
                "settings": alert.settings,
            },
        }),
    )
}

/// The legacy webhooks plugin's payload (Sentry's `build_legacy_webhook_payload`).
pub fn legacy_webhook(issue: &Issue, alert: &EventAlert<'_>, triggering_rules: &[String]) -> Value {
    let project = alert.project;
    let mut event = event_data(alert.event, alert.record, project, alert.base_url);
    if let Some(fields) = event.as_object_mut() {
        fields.insert("id".into(), alert.record.event_id.clone().into());
    }
    json!({
        "id": issue.id.to_string(),
        "project": project.slug,
        "project_name": project.name,
        "project_slug": project.slug,
        "logger": alert.event.get("logger").cloned().unwrap_or(Value::Null),
        "level": issue.level,
        "culprit": issue.culprit,
        "message": alert.record.message,
        "url": format!(
            "{}?referrer=webhooks_plugin",
            issue_web_url(alert.base_url, project, issue.id)
        ),
        "triggering_rules": triggering_rules,
        "event": event,
    })
}

/// `release_verdict` resource (Sextant's own), action `regressed` or `recovered`: a
/// post-deploy check's verdict with its statistics.
pub fn release_verdict_webhook(
    action: &str,
    app: &SentryApp,
    check: &CheckRecord,
    project: &Project,
    base_url: &str,
) -> Value {
    envelope(
        action,
        app,
        json!({ "release_verdict": verdict_data(check, project, base_url) }),
    )
}

/// A verdict as webhooks carry it: the release, the deploy, and the gate's report.
pub fn verdict_data(check: &CheckRecord, project: &Project, base_url: &str) -> Value {
    let report: Value = check
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    json!({
        "verdict": check.verdict,
        "release": check.version,
        "environment": check.environment,
        "deployId": check.deploy_id.map(|d| d.to_string()),
        "dateChecked": check.run_at.map(crate::clock::format_ms),
        "project": {"id": project.id.to_string(), "slug": project.slug},
        "report": report,
        "web_url": release_web_url(base_url, project, &check.version),
    })
}

/// `Sentry-Hook-Signature`: hex HMAC-SHA256 of the exact body, keyed by the client secret.
pub fn signature(client_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(client_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
